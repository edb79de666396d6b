# The line that reports events dropped after mixpanel_retry_max_time ends
# with the last failure's text, cut at 199 bytes: a cause of exactly 199
# bytes is logged whole, one of 200 loses its last byte.  The cause here
# is 'could not connect to "URL"', the URL's path padded to the length
# wanted (mixpanel_api takes one URL: one nginx for each length).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

# 'could not connect to "' (22) + 'http://127.0.0.1:1/' (19) + path + '"'
for my $len (199, 200) {
    my $path = "p" x ($len - 42);
    my $url = "http://127.0.0.1:1/$path";

    my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api $url;
    mixpanel_token tok-cause;
    mixpanel_flush_interval 100ms;
    mixpanel_retry_max_time 1s;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

    HTTP::Tiny->new->get("$n->{base}/t");

    my $s;
    ok(dn_wait(20, sub { $s = dn_status($n);
                         $s->{events_dropped}{retry_expired} == 1 }),
       "$len: the event is dropped after the retry time");

    my ($cause);
    ok(dn_wait(10, sub {
           ($cause) = dn_errlog($n)
               =~ /\[error\].*mixpanel: 1 events dropped after \d+ attempts? in \d+ ms \(mixpanel_retry_max_time 1000 ms\), last failure: (.*)$/m;
           defined $cause }),
       "$len: the drop is logged");

    my $full = "could not connect to \"$url\"";
    is(length $full, $len, "$len: the cause is $len bytes");
    is($cause, substr($full, 0, 199),
       "$len: logged " . ($len == 199 ? "whole" : "cut at 199 bytes"));

    ok(dn_stop($n), "$len: nginx quits");
}

done_testing();
