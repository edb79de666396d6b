# Regression: spool files of a token whose credentials Mixpanel refuses
# (a revoked token, a deleted project: 401 for ever) and of a healthy
# token.  A replay whose first batch failed set the next look at the
# spool for when that token's lane would resume (60 s and more), for
# every file: the next look claimed the refused token's file again, the
# first in the directory, and failed again; without a live success in
# between, the healthy token's file was never sent.
# The same when the credentials are refused in the middle of a file, after
# some of it was accepted: the file was held, its lane retried every
# minute, and no other file was sent.
#
# Expected (SPEC §5): "A batch being retried for one token or kind never
# holds up another's; spool replay shares the line with live traffic";
# the refused token's files wait for their lane (delivery.md), the
# others are sent at once.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use t::Direct;

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

sub put {
    my ($dir, $name, $token, $n) = @_;
    open my $fh, '>', "$dir/$name" or die "$name: $!";
    print $fh dn_spool_section($token, $n);
    close $fh;
}

# token: refused from its file's first batch, or from its second
for my $case (["tok-revoked", 0], ["tok-mid", 1]) {
    my ($token, $accepted) = @$case;
    my $what = $accepted ? "refused after a batch" : "refused";

    dn_emu("faults", undef, "DELETE");
    dn_emu("faults", JSON::PP::encode_json([
        ($accepted ? { delay_ms => 1, token => $token, count => 1 } : ()),
        { status => 401, token => $token, count => -1 } ]));

    # the refused token's file first in the directory, in the order the
    # workers read it (ext4 lists by a hash of the name): names are tried
    my $order;
    my $n = dn_nginx(port => $port, dirs => ["spool"], conf => $conf,
                     before => sub {
        my ($prefix) = @_;
        my $dir = "$prefix/spool";
        put($dir, "mp-1-1-0.json", "tok-ok-$accepted", 3);
        for my $i (1 .. 64) {
            put($dir, "mp-1-1-$i.json", $token, 4);
            opendir my $d, $dir or die;
            ($order) = grep { /^mp-.*\.json$/ } readdir $d;
            last if $order ne "mp-1-1-0.json";
            unlink "$dir/mp-1-1-$i.json";
        }
        chmod 0777, $dir;
    });

    isnt($order, "mp-1-1-0.json", "$what: its file comes first");

    my $s;
    ok(dn_wait(20, sub { $s = dn_status($n);
                         $s->{events_replayed} >= 3 + 2 * $accepted }),
       "$what: the healthy token's file was replayed");
    is($s->{events_replayed}, 3 + 2 * $accepted,
       "$what: its 3 events" . ($accepted ? " and the 2 accepted" : ""));
    is(dn_emu("events?token=tok-ok-$accepted")->{count}, 3,
       "$what: Mixpanel has them");
    ok(!-e "$n->{prefix}/spool/mp-1-1-0.json", "$what: its file is gone");

    # what is left of the refused token's file waits, once
    my $left = 0;
    for my $f (glob "$n->{prefix}/spool/mp-*.json") {
        open my $fh, '<', $f or die;
        $left += grep { !/^\{"kind"/ } <$fh>;
    }
    is($left, 4 - 2 * $accepted, "$what: its other events wait, once");
    is(dn_emu("events?token=$token")->{count}, 2 * $accepted,
       "$what: " . 2 * $accepted . " of its events stored");

    ok(dn_stop($n), "$what: nginx quits");
}

done_testing();
