# Regression: a spool file the workers cannot open (copied in by root
# with mode 0600 — docs/delivery.md tells operators to move a retired
# server's files "to another server's spool") is skipped silently on
# every look, for ever: never replayed, never moved aside, nothing in the
# log, and it still counts against max_size, so the spool may end "full"
# with no file the module can send.
#
# Expected (SPEC §5): "a corrupt spool file is moved aside with an error";
# docs/delivery.md: "A file that cannot be parsed is renamed to *.corrupt
# and logged at error".  A file that cannot be read at all should at least
# be logged (once), and not count against max_size.
#
# Now: logged at error (once a minute), naming the file, and left out of
# max_size: a batch given up is spooled though the unreadable file alone
# is near max_size.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use t::Direct;

plan skip_all => "needs root" if $> != 0;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $t = int(time * 1000) - 60000;

my $n = dn_nginx(port => $port, dirs => ["spool"], before => sub {
    my ($prefix) = @_;
    my $path = "$prefix/spool/mp-7-7-7.json";
    open my $fh, '>', $path or die $!;
    print $fh "{\"kind\":\"import\",\"token\":\"tok-ro\",\"count\":1,"
              . "\"time\":1}\n{\"event\":\"Moved\",\"properties\":{"
              . "\"token\":\"tok-ro\",\"time\":$t,\"distinct_id\":\"d1\","
              . "\"pad\":\"" . ("p" x 1600) . "\","
              . "\"\$insert_id\":\"0000000000000000000000000000cafe\"}}\n";
    close $fh;
    chmod 0600, $path;    # root's, as "cp" by an administrator leaves it
}, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-ro;
    mixpanel_flush_interval 100ms;
    mixpanel_spool %PREFIX%/spool max_size=2k;
    mixpanel_retry_max_time 1s;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

dn_emu("faults", '{"status":503,"count":-1}');

my $http = HTTP::Tiny->new;
$http->get("$n->{base}/t");

my $s;
ok(dn_wait(15, sub { $s = dn_status($n);
                     $s->{events_spooled} + $s->{events_dropped}{retry_expired}
                     == 1 }), "the event was given up");
is($s->{events_spooled}, 1, "and spooled: the unreadable file does not "
                            . "count against max_size");

my $events = dn_emu("events");
dn_emu("faults", undef, "DELETE");
ok(dn_stop($n), "nginx quits");

my $log = dn_errlog($n);
is($events->{count}, 0, "the unreadable file was not sent");
my @lines = $log =~ /^.*\[error\].*mixpanel: 1 spool file cannot be opened, the first "\S+\/mp-7-7-7\.json" \(Permission denied\); it is skipped and not counted against max_size$/mg;
is(scalar @lines, 1, "logged at error, naming the file, once a minute");

# two such files: counted, the first of them named, "they are"
$n = dn_nginx(port => $port, dirs => ["spool"], before => sub {
    my ($prefix) = @_;
    for my $f ("mp-7-7-7.json", "mp-7-7-8.json") {
        open my $fh, '>', "$prefix/spool/$f" or die $!;
        print $fh "{\"kind\":\"import\",\"token\":\"tok-ro\",\"count\":0,"
                  . "\"time\":1}\n";
        close $fh;
        chmod 0600, "$prefix/spool/$f";
    }
}, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-ro;
    mixpanel_spool %PREFIX%/spool;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

ok(dn_wait(10, sub { dn_errlog($n) =~ /spool files? cannot be opened/ }),
   "two unreadable files: logged");
ok(dn_stop($n), "nginx quits");
like(dn_errlog($n), qr/^.*\[error\].*mixpanel: 2 spool files cannot be opened, the first "\S+\/mp-7-7-[78]\.json" \(Permission denied\); they are skipped and not counted against max_size$/m,
     "the line counts both, in the plural");

done_testing();
