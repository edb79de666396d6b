# The request line the sender writes for each form of mixpanel_api's URL:
# a base with no path, "/", "//", a path, a path and "/", paths that begin
# an endpoint's name or that one begins: the endpoint is
# appended to the base without its trailing slashes, so the target is
# always "/import?strict=1" or "/base/import?strict=1", never
# "//import?strict=1".  The emulator cannot tell (Python's http.server
# folds a leading "//"), so a plain socket reads the request line here and
# answers as Mixpanel does.  A plain Test::More file.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

my $api = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                                Listen => 8, ReuseAddr => 1)
    or die "listen: $!";
my $api_port = $api->sockport;

# the request line of the next request, answered 200 as /import answers
sub next_request_line {
    my $sel = IO::Select->new($api);
    $sel->can_read(20) or return "(no request in 20 s)";
    my $c = $api->accept or return "(accept: $!)";
    $c->autoflush(1);
    my ($line, $len, $head) = (undef, 0, "");

    while (defined(my $l = <$c>)) {
        $line //= $l;
        $len = $1 if $l =~ /^Content-Length:\s*(\d+)/i;
        last if $l =~ /^\r?\n$/;
    }

    my $body = "";
    read($c, $body, $len) if $len;
    my $answer = '{"code":200,"num_records_imported":1,"status":"OK"}';
    print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             . "Content-Length: " . length($answer) . "\r\n"
             . "Connection: close\r\n\r\n$answer";
    close $c;
    $line //= "(nothing)";
    $line =~ s/\r?\n$//;
    return $line;
}

for my $case (["http://127.0.0.1:$api_port", "/import?strict=1"],
              ["http://127.0.0.1:$api_port/", "/import?strict=1"],
              ["http://127.0.0.1:$api_port//", "/import?strict=1"],
              ["http://127.0.0.1:$api_port/base", "/base/import?strict=1"],
              ["http://127.0.0.1:$api_port/base/", "/base/import?strict=1"],
              # a base path that begins an endpoint's name, or that one
              # begins: a base, not the endpoint (t/011 TEST 1)
              ["http://127.0.0.1:$api_port/imp", "/imp/import?strict=1"],
              ["http://127.0.0.1:$api_port/engag/", "/engag/import?strict=1"],
              ["http://127.0.0.1:$api_port/importer",
               "/importer/import?strict=1"])
{
    my ($url, $target) = @$case;

    my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api $url;
    mixpanel_token tok-base;
    mixpanel_flush_interval 100ms;
    mixpanel_gzip off;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

    my $res = HTTP::Tiny->new(timeout => 10)->get("$n->{base}/t");
    is($res->{status}, 200, "$url: the request");
    is(next_request_line(), "POST $target HTTP/1.1",
       "mixpanel_api $url: the events go to $target");
    dn_stop($n);
}

done_testing();
