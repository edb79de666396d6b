# A spool write that fails (the disk answers fsync() with EIO): the batch
# given up is counted as dropped (retry_expired) and logged at error with
# the file and the errno, and the half-written temporary file is removed
# at once, not left in the spool directory for the next start's sweep.
# Then, the disk healthy again (the positive control in the same run), the
# next batch given up is spooled: one file, no temporary one.
#
# The failure comes from t/shim/fsync-eio.c, preloaded into nginx: its
# fsync() fails while the file $MIXPANEL_TEST_FSYNC_FAIL exists.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use File::Temp ();
use t::Direct;

my $cc = $ENV{CC} || 'cc';
my $shimdir = File::Temp::tempdir(CLEANUP => 1);
chmod 0755, $shimdir;    # the workers (nobody) look for the flag there
my $shim = "$shimdir/fsync-eio.so";

system("$cc -shared -fPIC -o $shim t/shim/fsync-eio.c -ldl") == 0
    or BAIL_OUT("cannot build t/shim/fsync-eio.c");

my $flag = "$shimdir/fail";
open my $f, '>', $flag or die $!;
close $f;

$ENV{LD_PRELOAD} = $shim;
$ENV{MIXPANEL_TEST_FSYNC_FAIL} = $flag;

# a sanitized nginx wants its runtime first; the shim is loaded before it
$ENV{ASAN_OPTIONS} = join ":", grep { length }
                     ($ENV{ASAN_OPTIONS} // ""), "verify_asan_link_order=0";

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-eio;
    mixpanel_flush_interval 100ms;
    mixpanel_spool %PREFIX%/spool;
    mixpanel_retry_max_time 1s;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

delete $ENV{LD_PRELOAD};

dn_emu("faults", '{"status":503,"count":-1}');

my $http = HTTP::Tiny->new;
is($http->get("$n->{base}/t")->{status}, 200, "a tracked request");

my $s;
ok(dn_wait(15, sub { $s = dn_status($n);
                     $s->{events_spooled}
                     + $s->{events_dropped}{retry_expired} == 1 }),
   "its event was given up");
is($s->{events_dropped}{retry_expired}, 1,
   "not spooled, the spool file could not be synced: dropped, counted");
is($s->{events_spooled}, 0, "nothing counted as spooled");
is(dn_balance($s), 0, "queued = sent + rejected + dropped + spooled + depth");

my @files = glob("$n->{prefix}/spool/* $n->{prefix}/spool/.mp-*");
is(scalar @files, 0, "no file left in the spool directory, temporary or not")
    or diag(join "\n", @files);

# the sender's lines reach the log through the worker, a moment later
my $re = qr/\[error\].*mixpanel: writing the spool file "\S+\/spool\/\.mp-\S+\.tmp" failed \(5: Input\/output error\), 1 events not spooled/;
ok(dn_wait(10, sub { dn_errlog($n) =~ $re }),
   "logged at error with the file and the errno")
    or diag(join "\n", grep { /mixpanel/ } split /\n/, dn_errlog($n));

# the disk healthy again: the same kind of batch is spooled

unlink $flag;

is($http->get("$n->{base}/t")->{status}, 200, "a second tracked request");

ok(dn_wait(15, sub { $s = dn_status($n);
                     $s->{events_spooled}
                     + $s->{events_dropped}{retry_expired} == 2 }),
   "its event was given up too");
is($s->{events_spooled}, 1, "and spooled this time");
is(dn_balance($s), 0, "the balance holds");

@files = glob("$n->{prefix}/spool/*");
is(scalar @files, 1, "one spool file");
@files = glob("$n->{prefix}/spool/.mp-*");
is(scalar @files, 0, "no temporary file");

dn_emu("faults", undef, "DELETE");
ok(dn_stop($n), "nginx quits");

done_testing();
