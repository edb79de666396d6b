# Regression: a spool file of several sections (as an exit writes them, a
# section per token) that the workers may read but not write: copied in
# by root, or left by an nginx whose workers ran as another user.  A
# section sent is marked "sent__" in place; in such a file the mark fails.
# When the lane failed in the middle of a section, the replay wrote the
# rest of the section to a file of its own and gave the file back with
# the section unmarked: the whole section was replayed again later, its
# sent part and its rest (which was in the new file too) accepted twice.
#
# Expected (SPEC §5, delivery.md): such a file is replaced by a copy of
# the worker's when it is claimed; when it cannot be, a failed replay
# keeps the file and waits for its lane, as when the rest cannot be
# written: each event is accepted once.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use File::Temp ();
use t::Direct;

# the copy's fsync() fails while $flag exists (t/shim/fsync-eio.c)
my $cc = $ENV{CC} || 'cc';
my $shimdir = File::Temp::tempdir(CLEANUP => 1);
chmod 0755, $shimdir;    # the workers (nobody) look for the flag there
my $shim = "$shimdir/fsync-eio.so";

system("$cc -shared -fPIC -o $shim t/shim/fsync-eio.c -ldl") == 0
    or BAIL_OUT("cannot build t/shim/fsync-eio.c");

my $flag = "$shimdir/fail";

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

my $conf = <<"_EOC_";
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_spool %PREFIX%/spool;
    mixpanel_batch_size 2;
    server {
        listen 127.0.0.1:%PORT%;
        location = /v {
            mixpanel track;
            mixpanel_token tok-live;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

dn_emulator($port + 2);


# the file is replaced by a copy of the worker's; or, when the copy
# cannot be written, the file is kept, claimed, until its lane resumes
for my $copy (1, 0) {
    my $what = $copy ? "copied" : "kept";

    dn_emu("reset", "{}");

    # the first batch of tok-a's section accepted (after 2 s, while the
    # copy is looked at), the second refused once
    dn_emu("faults", JSON::PP::encode_json([
        { delay_ms => $copy ? 2000 : 1, token => "tok-a", count => 1 },
        { status => 503, token => "tok-a", count => 1 } ]));

    unless ($copy) {
        open my $f, '>', $flag or die $!;
        close $f;
    }

    # a sanitized nginx wants its runtime first; the shim is loaded first
    local $ENV{LD_PRELOAD} = $shim;
    local $ENV{MIXPANEL_TEST_FSYNC_FAIL} = $flag;
    local $ENV{ASAN_OPTIONS} = join ":", grep { length }
                     ($ENV{ASAN_OPTIONS} // ""), "verify_asan_link_order=0";

    my $n = dn_nginx(port => $port, dirs => ["spool"], conf => $conf,
                     # the workers' user may read the file, not write it
                     before => dn_spool_file(
                         dn_spool_section("tok-a", 4)
                         . dn_spool_section("tok-b", 2), 0444));

    # the copy, made when the file is claimed, holds tokens: of mode
    # 0600, as every spool file (docs/security.md)
    if ($copy) {
        my $mode = 0444;
        ok(dn_wait(20, sub {
               my ($f) = glob "$n->{prefix}/spool/mp-*.json";
               $mode = (stat $f)[2] & 07777 if defined $f && -e $f;
               $mode != 0444 }), "$what: the file is the worker's copy");
        is(sprintf("%04o", $mode), "0600", "$what: of mode 0600");
    }

    my $s;
    ok(dn_wait(30, sub { $s = dn_status($n); $s->{events_replayed} >= 6 }),
       "$what: the file's 6 events were replayed");

    # time for a second replay of what was left unmarked
    sleep 2;

    $s = dn_status($n);
    is($s->{events_replayed}, 6, "$what: 6 events replayed");
    is(dn_emu("events?token=tok-a")->{count}, 4,
       "$what: tok-a: 4 events stored");
    is(dn_emu("events?token=tok-b")->{count}, 2,
       "$what: tok-b: 2 events stored");
    is(dn_emu("stats")->{events}{duplicates}, 0,
       "$what: none accepted twice");

    ok(!(() = glob "$n->{prefix}/spool/mp-*.json"),
       "$what: the spool is empty");

    my $log = dn_errlog($n);
    if ($copy) {
        unlike($log, qr/cannot be marked/, "$what: copied");
    } else {
        my $kept = 'a section sent cannot be marked in a read-only file, '
                   . '"[^"]+/mp-1-1-0\.json" is kept';
        like($log, qr/$kept/, "$what: logged");
    }
    unlink $flag;

    ok(dn_stop($n), "$what: nginx quits");
    unlike(dn_errlog($n), qr/\[alert\]/, "$what: no [alert]");
}

done_testing();
