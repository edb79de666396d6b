# Regression: an exit appends a section per lane to a spool file until the
# file holds 4 MB, and a lane's records go in sections of up to 4 MB: a
# section appended to a file just under 4 MB makes a file of up to 8 MB
# and two headers, past the 8 MB a worker reads back.  The next start
# moves that file aside ("cannot be read"): the events were counted as
# spooled and are never sent.  Here two tokens: the first lane's section
# ends one byte short of 4 MB, the second's is 4 MB exactly.
#
# Expected (SPEC §5): spool files are written atomically and replayed when
# the module runs again; every file an exit writes is one a worker reads.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
my $props = 100;
my $pad = "p" x 250;

my $conf = <<"_EOC_";
worker_processes 1;
worker_shutdown_timeout 1s;
events { worker_connections 64; }
http {
    access_log off;
    # nothing listens there: Mixpanel is down (until the last start)
    mixpanel_api http://127.0.0.1:@{[ $port + 2 ]};
    mixpanel_spool %PREFIX%/spool;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    server {
        listen 127.0.0.1:%PORT%;
        location = /v {
            mixpanel track;
            mixpanel_token \$http_x_token;
@{[ join "", map { "            mixpanel_property p$_ \$http_x_pad;\n" }
                 1 .. $props ]}
            mixpanel_property tail \$http_x_tail;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(keep_alive => 1);

sub track {
    my ($n, $token, $tail) = @_;
    my $r = $http->get("$n->{base}/v", { headers => {
        "X-Token" => $token, "X-Pad" => $pad, "X-Tail" => "t" x $tail } });
    die "track: $r->{status}" unless $r->{success};
}

sub spooled {
    my ($prefix) = @_;
    return map { s{.*/}{}r } glob "$prefix/spool/mp-*.json";
}

# the length of a record with a tail of t bytes: base + t
my $n = dn_nginx(port => $port, dirs => ["spool"], conf => $conf);
track($n, "tok-a", 1);
track($n, "tok-a", 2);
ok(dn_stop($n), "nginx quits");
my @lines = map { open my $fh, '<', "$n->{prefix}/spool/$_" or die; <$fh> }
            spooled($n->{prefix});
chomp @lines;
is(scalar @lines, 3, "a header and 2 records spooled");
my $base = length($lines[1]) - 1;
is(length($lines[2]), $base + 2, "a record is $base bytes and its tail");

# tails (1 to 255) of records whose lines make "total" bytes
sub tails {
    my ($total) = @_;
    my $count = int($total / ($base + 1 + 128));
    my $rem = $total - $count * ($base + 1);
    my @t = (int($rem / $count)) x $count;
    $t[$_]++ for 0 .. $rem - $count * $t[0] - 1;
    die "tails" if grep { $_ < 1 || $_ > 255 } @t;
    return @t;
}

my $mb4 = 4 * 1024 * 1024;
my $time = time;

# the first section, with its header, ends 1 byte before 4 MB
my ($a, @ta);
for my $digits (1 .. 6) {
    my $head = length("{\"kind\":\"import\",\"token\":\"tok-a\",\"count\":"
                      . ("9" x $digits) . ",\"time\":$time}\n");
    @ta = tails($mb4 - 1 - $head);
    last if length(scalar @ta) == $digits;
}
my @tb = tails($mb4);

$n = dn_nginx(port => $port, dirs => ["spool"], conf => $conf);
track($n, "tok-a", $_) for @ta;
track($n, "tok-b", $_) for @tb;
my $total = @ta + @tb;

my $s;
ok(dn_wait(20, sub { $s = dn_status($n); $s->{events_queued} == $total }),
   "$total events queued");
ok(dn_stop($n), "nginx quits");

$s = undef;
my @files = spooled($n->{prefix});
my @big = grep { -s "$n->{prefix}/spool/$_" > 2 * $mb4 } @files;
is(scalar @big, 0, "no spool file is over 8 MB ("
   . join(", ", map { -s "$n->{prefix}/spool/$_" } @files) . " bytes)");

my $spooled = 0;
for my $f (@files) {
    open my $fh, '<', "$n->{prefix}/spool/$f" or die;
    $spooled += grep { !/^\{"kind"/ } <$fh>;
}
is($spooled, $total, "every event spooled");

# the next start, with Mixpanel up, sends them all
dn_emulator($port + 2);

my $m = dn_nginx(port => $port, dirs => ["spool"], conf => $conf,
                 before => sub {
    my ($prefix) = @_;
    rename "$n->{prefix}/spool/$_", "$prefix/spool/$_" or die for @files;
});

ok(dn_wait(60, sub { $s = dn_status($m); $s->{events_replayed} >= $total }),
   "the spooled events were replayed");
is($s->{events_replayed}, $total, "all $total replayed");
unlike(dn_errlog($m), qr/cannot be read|is corrupt/, "no file set aside");
is(scalar(() = glob "$m->{prefix}/spool/*"), 0, "the spool is empty");
is(dn_emu("stats")->{events}{stored}, $total, "Mixpanel has them all");

ok(dn_stop($m), "nginx quits");

done_testing();
