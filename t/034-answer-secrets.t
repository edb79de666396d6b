# Mixpanel's error text is logged and shown in the status's last_error,
# escaped and with the project token masked.  The token is masked before
# the text is cut: a token that crosses the point where the text is cut
# must not reach the log in part (it did: the text was cut to 128 bytes
# first, and the start of a token crossing byte 128 was logged as it was).

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $token = "tok-Zq8sEcReT5xW3mP0";

my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token $token;
    mixpanel_flush_interval 100ms;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(keep_alive => 1);
my $s;

# the token at bytes 110 to 130, then at 1000 to 1020 of the error text,
# and whole at its start
my $i = 0;
for my $before (110, 1000, 0) {
    $i++;
    my $error = ("x" x $before) . $token . " is not allowed here";
    dn_emu("faults", JSON::PP::encode_json({
        status => 400, path => "/import", count => 1,
        body => { code => 400, status => "Bad Request", error => $error,
                  num_records_imported => 0 } }));
    $http->get("$n->{base}/t?n=$i");
    ok(dn_wait(10, sub { $s = dn_status($n); $s->{events_rejected} == $i }),
       "token at byte $before: the event is rejected");
    unlike($s->{last_error}, qr/\Q@{[ substr($token, 0, 6) ]}/,
           "token at byte $before: not in last_error");
    like($s->{last_error}, qr/^HTTP 400 from \/import: x*(\[token\])?/,
         "token at byte $before: last_error is the text, masked");
}

ok(dn_stop($n), "nginx quits");

my $log = dn_errlog($n);
like($log, qr/\[error\].*rejected 1 of 1 events \(400\): "x{110}\[token\] is not allowed here"/,
     "the rejection is logged with the token masked");
unlike($log, qr/\Q@{[ substr($token, 0, 6) ]}/, "no part of the token in the log");

done_testing();
