# A project's people updates go one request at a time (docs/delivery.md),
# its events up to mixpanel_concurrency at once.  Three requests, each
# with an event and a profile update, 0.1 s apart, every answer a second
# late: the three /import requests reach Mixpanel together (the positive
# control), the three /engage requests a second apart, each after the
# previous one's answer, in the order they were made; meanwhile the
# worker uses no CPU.  A plain Test::More file driving nginx directly
# (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes ();
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
    mixpanel_token tok-one;
    mixpanel_batch_size 1;
    mixpanel_flush_interval 50ms;
    mixpanel_concurrency 6;
    server {
        listen 127.0.0.1:%PORT%;
        location = /p {
            mixpanel profile_update;
            mixpanel_account_id \$arg_a;
            mixpanel_people_set plan \$arg_plan;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

dn_emu("faults", JSON::PP::encode_json([
    { delay_ms => 1000, count => -1 } ]));

my $http = HTTP::Tiny->new(timeout => 10);

for my $plan (1 .. 3) {
    is($http->get("$n->{base}/p?a=acc-one&plan=$plan")->{status}, 200,
       "request $plan");
    Time::HiRes::sleep(0.1);
}

# meanwhile the updates wait behind the one in flight: the sender sleeps
# until an answer comes, it does not spin
my $cpu = dn_worker_cpu($n, 1.5);
cmp_ok($cpu, '<', 0.4, "the worker idle while updates wait ("
                       . sprintf("%.2f", $cpu) . " s of CPU in 1.5 s)");

my $e = dn_emu("requests?path=/engage&wait_for=3&timeout=20");
my $i = dn_emu("requests?path=/import&wait_for=3&timeout=20");
is($e->{count}, 3, "three /engage requests");
is($i->{count}, 3, "three /import requests");

my @ims = map { $_->{received_ms} } @{ $i->{requests} };
cmp_ok($ims[2] - $ims[0], '<', 900,
       "the events' requests in flight together (control)");

my @ems = map { $_->{received_ms} } @{ $e->{requests} };
cmp_ok($ems[1] - $ems[0], '>=', 950, "the second update after the first's "
                                      . "answer");
cmp_ok($ems[2] - $ems[1], '>=', 950, "the third after the second's");

my @plans = map { $_->{records}[0]{'$set'}{plan} // "" }
                @{ $e->{requests} };
is("@plans", "1 2 3", "in the order they were made");

dn_emu("faults", undef, "DELETE");
ok(dn_stop($n), "nginx quits");

done_testing();
