# Regression: a spool file the worker can read but cannot remove (the
# spool directory made read-only, a file system remounted read-only after
# an I/O error, a sticky directory) is replayed again at once after every
# successful replay: a tight loop of requests to Mixpanel (about a
# thousand a second here), each sending the same events (receipts pile
# up) and applying the same people update ($add) again and again, while
# every other spool file waits behind it.
#
# Expected (SPEC §5): a people update replayed from the spool never
# overwrites state a newer one set, and "Spool files are written
# atomically and replayed"; docs/delivery.md: files are looked at "every
# 30 s", a file sent is removed, replay "never starves" live traffic.  A
# file that cannot be removed must not be sent again and again.
#
# Now: a file sent that cannot be removed is emptied (an empty spool file
# is read as sent), or, when it cannot be emptied either, remembered by
# the worker and never sent again by it.  The same held for a corrupt file
# that cannot be moved aside: found again at once, for ever (the thread
# spun); now remembered and skipped.

use strict;
use warnings;
use Test::More;
use t::Direct;

plan skip_all => "needs root (chown/chmod of the spool)" if $> != 0;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

# the first two replay attempts fail: the directory is made read-only
# before the files are sent
dn_emu("faults", '{"status":503,"count":2}');

my (undef, undef, $uid, $gid) = getpwnam("nobody");
my $t = int(time * 1000) - 60000;

sub put {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
    chown $uid, $gid, $path;
    chmod 0600, $path;
}

my $n = dn_nginx(port => $port, dirs => ["spool"], before => sub {
    my ($prefix) = @_;
    put("$prefix/spool/mp-1-1-1.json",
        "{\"kind\":\"import\",\"token\":\"tok-unlink\",\"count\":1,"
        . "\"time\":1}\n"
        . "{\"event\":\"Spooled\",\"properties\":{\"token\":\"tok-unlink\","
        . "\"time\":$t,\"distinct_id\":\"d1\","
        . "\"\$insert_id\":\"0000000000000000000000000000beef\"}}\n");
    # this one cannot be emptied either: not writable by the workers
    put("$prefix/spool/mp-1-1-2.json",
        "{\"kind\":\"engage\",\"token\":\"tok-unlink\",\"count\":1,"
        . "\"time\":1}\n"
        . "{\"\$token\":\"tok-unlink\",\"\$distinct_id\":\"acc-1\","
        . "\"\$time\":$t,\"\$add\":{\"visits\":1}}\n");
    chmod 0400, "$prefix/spool/mp-1-1-2.json";
}, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-unlink;
    mixpanel_flush_interval 100ms;
    mixpanel_spool %PREFIX%/spool;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $spool = "$n->{prefix}/spool";
diag("prefix $n->{prefix}") if $ENV{KEEP};

# read-only for the workers (as after "mount -o remount,ro" or a chmod):
# files can be read, not removed
chown 0, 0, $spool;
chmod 0555, $spool;

# a corrupt file, which cannot be moved aside either
put("$spool/mp-1-1-0.json", "{\"kind\":\"import\"\nnot json\n");

# two 503s: the replay backs off twice (up to 16 s), then sends each file;
# a loop would send them hundreds of times a second after that
ok(dn_wait(40, sub { dn_emu("stats")->{events}{received} >= 1
                     && dn_emu("updates?distinct_id=acc-1")->{count} >= 1 }),
   "both files were sent");
sleep 3;

my $stats = dn_emu("stats");
my $upd = dn_emu("updates?distinct_id=acc-1");
my $prof = dn_emu("profiles?distinct_id=acc-1");
my $s = dn_status($n);

chmod 0755, $spool;
chown $uid, $gid, $spool;

ok(dn_stop($n, 'QUIT', 20), "nginx quits");

diag("requests to Mixpanel: $stats->{requests}{total}, events_replayed: "
     . "$s->{events_replayed}");

is($stats->{events}{received}, 1, "the spooled event reached Mixpanel once");
is($upd->{count}, 1, "the spooled \$add was applied once");

my $visits = $prof->{profiles}[0]{properties}{visits} // 0;
is($visits, 1, "the profile's visits is 1");
is($s->{events_replayed}, 2, "events_replayed is 2");

is(-s "$spool/mp-1-1-1.json", 0, "the file that cannot be removed is emptied");
ok(-s "$spool/mp-1-1-2.json" > 0,
   "the file that can be neither removed nor emptied is left");

my $log = dn_errlog($n);
my @lines = $log =~ /\[error\].*mixpanel: spool file "\S+\/mp-1-1-[12]\.json" was sent but cannot be removed \(Permission denied\)(?:, it was emptied instead and is not sent again| nor emptied: this worker does not send it again, others would; remove it)$/mg;
is(scalar @lines, 1, "logged at error, once a minute");

my @corrupt = $log =~ /\[error\].*mixpanel: spool file "\S+\/mp-1-1-0\.json" is corrupt and cannot be moved aside \(Permission denied\), this worker skips it$/mg;
is(scalar @corrupt, 1, "the corrupt file that cannot be moved aside: "
                       . "logged once, then skipped");
ok(-s "$spool/mp-1-1-0.json", "and left as it is");

done_testing();
