# With nothing else to wake it, the replay looks at the spool every 30 s
# (docs/delivery.md): a file that turns up in a running nginx's spool (a
# retired server's files moved in, another nginx's exit) is sent at the
# next look, about 30 s after the look at the start, not 60 s, and not at
# once.  About 31 s.  A plain Test::More file driving nginx directly
# (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

dn_emulator($port + 2);

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => <<"_EOC_",
worker_processes 1;
worker_shutdown_timeout 1s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-every;
    mixpanel_spool %PREFIX%/spool;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_
    before => sub { chmod 0777, "$_[0]/spool" });

# nginx answers: its worker has looked at the (empty) spool
my $t0 = Time::HiRes::time();

Time::HiRes::sleep(1);

my $file = "$n->{prefix}/spool/mp-9-9-9.json";
open my $fh, '>', "$file.tmp" or die $!;
print $fh dn_spool_section("tok-every", 2);
close $fh;
chmod 0666, "$file.tmp";
rename "$file.tmp", $file or die $!;

my $at;
ok(dn_wait(45, sub {
       return 0 if dn_emu("events?event=Spooled")->{count} < 2;
       $at = Time::HiRes::time() - $t0;
   }), "the file's two events sent");

$at //= -1;
ok($at >= 27 && $at <= 32,
   sprintf("%.1f s after the start: at the next look, 30 s later", $at));
# the sender removes the file and counts the records once the answer is
# read; the worker picks the counts up at its next drain
ok(dn_wait(5, sub { !-e $file }), "and the file removed");
ok(dn_wait(5, sub { dn_status($n)->{events_replayed} == 2 }),
   "counted as replayed");

ok(dn_stop($n), "nginx quits");

done_testing();
