# Pages served over TLS, and over HTTP/2 (whose header names are in lower
# case): a navigation's $current_url is the https:// URL it loaded, a
# call a page makes takes the page from its Referer, and Sec-Fetch-Mode
# is read whatever the case of its name.  The same over plain HTTP/1.1
# with the name in lower and upper case.  curl is the client (Debian's
# speaks HTTP/2); nginx writes what it would send to a file.  A plain
# Test::More file.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
my $tls = $port + 1;
my $dir = tempdir(CLEANUP => 1);

system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
       . " -keyout $dir/key.pem -out $dir/cert.pem >/dev/null 2>&1") == 0
    or die "openssl failed";

my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api file:%PREFIX%/logs/sink.jsonl;
    mixpanel_token tok-tls;
    mixpanel_flush_interval 50ms;
    mixpanel_request_properties off;
    mixpanel_ip off;
    server {
        listen 127.0.0.1:%PORT%;
        location / {
            mixpanel track;
            mixpanel_property case \$arg_case;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
    server {
        listen 127.0.0.1:$tls ssl http2;
        ssl_certificate $dir/cert.pem;
        ssl_certificate_key $dir/key.pem;
        location / {
            mixpanel track;
            mixpanel_property case \$arg_case;
            return 200 "ok\\n";
        }
    }
}
_EOC_

# [case, curl's options, URL, the properties expected]
my $page = "https://shop.example.com/landing?utm_source=google&utm_campaign=x";
my @cases = (
    ["h1-nav", "--http1.1 -H 'Sec-Fetch-Mode: navigate'",
     "https://127.0.0.1:$tls/pricing?utm_source=news",
     { '$current_url' => "https://shop.example.com/pricing?utm_source=news"
                         . "&case=h1-nav",
       utm_source => "news" }],
    ["h2-nav", "--http2 -H 'Sec-Fetch-Mode: navigate'"
               . " -H 'Referer: https://www.google.com/'",
     "https://127.0.0.1:$tls/pricing",
     { '$current_url' => "https://shop.example.com/pricing?case=h2-nav",
       '$referrer' => "https://www.google.com/",
       '$referring_domain' => "www.google.com",
       '$search_engine' => "google" }],
    ["h2-call", "--http2 -H 'Sec-Fetch-Mode: cors' -H 'Referer: $page'",
     "https://127.0.0.1:$tls/api/cart",
     { '$current_url' => $page, utm_source => "google",
       utm_campaign => "x" }],
    ["h1-lower", "--http1.1 -H 'sec-fetch-mode: cors' -H 'Referer: $page'",
     "http://127.0.0.1:$port/api/cart",
     { '$current_url' => $page, utm_source => "google",
       utm_campaign => "x" }],
    ["h1-upper", "--http1.1 -H 'SEC-FETCH-MODE: navigate'"
                 . " -H 'Referer: https://www.google.com/'",
     "http://127.0.0.1:$port/pricing",
     { '$current_url' => "http://shop.example.com/pricing?case=h1-upper",
       '$referrer' => "https://www.google.com/" }],
);

for my $c (@cases) {
    my ($case, $opt, $url, $want) = @$c;
    $url .= ($url =~ /\?/ ? "&" : "?") . "case=$case";
    my $cmd = "curl -sk -o /dev/null -w '%{http_code} %{http_version}' $opt"
              . " -H 'Host: shop.example.com' '$url'";
    my $out = `$cmd`;
    my $v = $opt =~ /http2/ ? "2" : "1.1";
    is($out, "200 $v", "$case: answered over HTTP/$v");
}

my %ev;
ok(dn_wait(10, sub {
    open my $f, '<', "$n->{prefix}/logs/sink.jsonl" or return 0;
    %ev = ();
    for my $line (<$f>) {
        my $call = JSON::PP::decode_json($line);
        $ev{ $_->{properties}{case} } = $_->{properties}
            for @{ $call->{body} };
    }
    keys %ev == @cases }), "an event for each request");

for my $c (@cases) {
    my ($case, undef, undef, $want) = @$c;
    my $p = $ev{$case} // {};
    for my $k (sort keys %$want) {
        is($p->{$k}, $want->{$k}, "$case: $k");
    }
    my %absent = map { $_ => 1 } qw($current_url $referrer utm_source);
    delete @absent{ keys %$want };
    ok(!exists $p->{$_}, "$case: no $_") for sort keys %absent;
}

ok(dn_stop($n), "nginx quits");

done_testing();
