# User-Agents on one keep-alive connection, as a load balancer or a CDN
# carries many users' requests: each request is read into the start of
# the same buffer, so two User-Agents of one length sit at the same
# address.  Each request still gets its own browser, OS and device, and
# its own crawler decision: a person after a crawler is tracked and gets
# a cookie.  Four requests, one after the other on one connection, the
# first two and the last two of the same length.  A plain Test::More
# file: nginx writes what it would send to a file (mixpanel_api file:).

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use JSON::PP ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

my @ua = (
    "Mozilla/5.0 (Windows NT 10.0; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (X11; Linux aarch64; rv:121.0) Gecko/20100101 Firefox/121.0",
);

is(length $ua[0], length $ua[1], "the first two User-Agents are as long");
is(length $ua[2], length $ua[3], "the last two too");

my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    keepalive_requests 100;
    mixpanel_api file:%PREFIX%/logs/sink.jsonl;
    mixpanel_token tok-keepalive;
    mixpanel_request_properties off;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t {
            mixpanel track;
            mixpanel_event "Event $arg_n";
            mixpanel_property port $remote_port;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
    or die "connect: $!";

# one request, then its whole answer, before the next is sent
my @cookies;
for my $i (0 .. $#ua) {
    print $sock "GET /t?n=$i HTTP/1.1\r\nHost: localhost\r\n"
                . "User-Agent: $ua[$i]\r\n\r\n";
    my $head = "";
    while ($head !~ /\r\n\r\n\z/) {
        sysread($sock, my $c, 1) or die "connection closed";
        $head .= $c;
    }
    my ($len) = $head =~ /^Content-Length: (\d+)/mi;
    my $body = "";
    while (length $body < $len) {
        sysread($sock, my $c, $len - length $body) or die "closed";
        $body .= $c;
    }
    like($head, qr/^HTTP\/1\.1 200 /, "request $i answered on the connection");
    push @cookies, $head =~ /^Set-Cookie: mp_device_id=/mi ? 1 : 0;
}
close $sock;

is_deeply(\@cookies, [1, 1, 0, 1],
          "a device cookie for each person, none for the crawler");

dn_stop($n);

open my $fh, '<', "$n->{prefix}/logs/sink.jsonl" or die $!;
my @events = map { @{ $_->{body} } }
             grep { $_->{endpoint} eq '/import' }
             map { JSON::PP::decode_json($_) } <$fh>;
close $fh;

my %by = map { $_->{event} => $_->{properties} } @events;

is_deeply([sort keys %by], ["Event 0", "Event 1", "Event 3"],
          "the crawler's request is not tracked, the others are");

my %port = map { $_->{port} => 1 } values %by;
is(scalar keys %port, 1, "all on one connection");

my %want = (
    "Event 0" => ["Firefox", "Windows", undef],
    "Event 1" => ["Android Mobile", "Android", "Android"],
    "Event 3" => ["Firefox", "Linux", undef],
);

for my $e (sort keys %want) {
    my ($browser, $os, $device) = @{ $want{$e} };
    is($by{$e}{'$browser'}, $browser, "$e: \$browser");
    is($by{$e}{'$os'}, $os, "$e: \$os");
    is($by{$e}{'$device'}, $device, "$e: \$device");
}

done_testing();
