# Regression: a spool file of several sections that the workers may read
# but not write, whose copy (t/117) failed when it was claimed (a disk
# that failed for a moment): a section sent could not be marked in it.
# Two ways gave the file back with sections sent and unmarked, so that
# they were sent again whole:
#
# - a section sent, the next one failing at its first attempt: "nothing
#   of the section was sent", and the file was given back at once;
# - an exit (a reload) while the file was kept for its lane: "left
#   whole", although the copy could be made by then.
#
# Expected (SPEC §5, delivery.md): the copy is tried again, from the
# section being sent, whenever the file would be given back with a
# section sent; when it cannot be made, the file is kept (or its last
# section's rest written to a file of its own): each event is accepted
# once.

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


sub start {
    my (@faults) = @_;

    dn_emu("reset", "{}");
    dn_emu("faults", JSON::PP::encode_json(\@faults));

    open my $f, '>', $flag or die $!;
    close $f;

    # a sanitized nginx wants its runtime first; the shim is loaded first
    local $ENV{LD_PRELOAD} = $shim;
    local $ENV{MIXPANEL_TEST_FSYNC_FAIL} = $flag;
    local $ENV{ASAN_OPTIONS} = join ":", grep { length }
                     ($ENV{ASAN_OPTIONS} // ""), "verify_asan_link_order=0";

    return dn_nginx(port => $port, dirs => ["spool"], conf => $conf,
                    # the workers' user may read the file, not write it
                    before => dn_spool_file(
                        dn_spool_section("tok-a", 4)
                        . dn_spool_section("tok-b", 2), 0444));
}

sub check {
    my ($n, $what) = @_;

    # a reload's new worker looks again 30 s after a file the old one held
    ok(dn_wait(45, sub { dn_emu("events?token=tok-b")->{count} >= 2
                         && dn_emu("events?token=tok-a")->{count} >= 4 }),
       "$what: the file's 6 events were sent");

    # time for a second replay of what was left unmarked
    sleep 3;

    is(dn_emu("events?token=tok-a")->{count}, 4,
       "$what: tok-a: 4 events stored");
    is(dn_emu("events?token=tok-b")->{count}, 2,
       "$what: tok-b: 2 events stored");
    is(dn_emu("stats")->{events}{duplicates}, 0,
       "$what: none accepted twice");
    ok(!(() = glob "$n->{prefix}/spool/mp-*.json"),
       "$what: the spool is empty");

    unlink $flag;

    ok(dn_stop($n), "$what: nginx quits");
    unlike(dn_errlog($n), qr/\[alert\]/, "$what: no [alert]");
}

# tok-a's section sent, tok-b's refused once at its first attempt, the
# disk failing all along: the rest of the last section, its whole,
# cannot be written either; the file is kept for tok-b's lane
{
    my $n = start({ status => 503, token => "tok-b", count => 1 });

    ok(dn_wait(30, sub { dn_errlog($n) =~ /mp-1-1-0\.json" is kept/ }),
       "next: the file is kept");

    check($n, "next");
}

# tok-a's first batch accepted, its second refused once: the file is kept;
# the disk works again, and a reload's exit copies it and writes the rest
{
    my $n = start({ delay_ms => 1, token => "tok-a", count => 1 },
                  { status => 503, token => "tok-a", count => 1 });

    ok(dn_wait(30, sub { dn_errlog($n) =~ /mp-1-1-0\.json" is kept/ }),
       "exit: the file is kept");

    unlink $flag;
    dn_signal($n, 'HUP');

    check($n, "exit");
}

done_testing();
