# The exit's drop line names the cause of that exit, not a failure its
# project has since recovered from: tok-b is refused once (503), then
# delivered; later, at a quit, its event waits behind tok-a's request,
# which hangs in the one slot there is.  tok-a's event is "still in
# flight at the deadline", tok-b's "not sent before the deadline", not
# "answered 503".  A plain Test::More file driving nginx directly
# (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

dn_emulator($port + 2);

my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
worker_shutdown_timeout 1s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_batch_size 1;
    mixpanel_flush_interval 10ms;
    mixpanel_concurrency 1;
    server {
        listen 127.0.0.1:%PORT%;
        location ~ ^/(tok-[ab])\$ {
            mixpanel track;
            mixpanel_token \$1;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 10);

dn_emu("faults", JSON::PP::encode_json([
    { status => 503, count => 1, token => "tok-b", path => "/import" } ]));
is($http->get("$n->{base}/tok-b")->{status}, 200, "tok-b: an event");
ok(dn_wait(12, sub { dn_status($n)->{events_sent} == 1 }),
   "refused once (503), then delivered");

dn_emu("faults", undef, "DELETE");
dn_emu("faults", JSON::PP::encode_json([
    { hang => JSON::PP::true, count => -1, token => "tok-a",
      path => "/import" } ]));
is($http->get("$n->{base}/tok-a")->{status}, 200, "tok-a: an event");
ok(dn_wait(10, sub { dn_emu("requests?path=/import")->{count} >= 3 }),
   "its request hangs in the one slot");
is($http->get("$n->{base}/tok-b")->{status}, 200, "tok-b: another event");

ok(dn_stop($n), "nginx quits");
dn_emu("faults", undef, "DELETE");

my $log = dn_errlog($n);
my @drops = $log =~ /\[error\] [^\n]*mixpanel: (\d+ events dropped on exit, last failure: [^\n]*)/g;
is(join("|", sort @drops),
   "1 events dropped on exit, last failure: not sent before the deadline|"
   . "1 events dropped on exit, last failure: still in flight at the "
   . "deadline",
   "tok-a's in flight, tok-b's not sent: no 503 of before");

done_testing();
