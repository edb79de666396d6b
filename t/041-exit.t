# Exit and reload with many batches held: Mixpanel unreachable, one
# record a batch, two tokens and both kinds (events, people updates), so
# the worker holds 40 batches in 4 lanes when it is told to go.  At its
# deadline everything it holds is spooled (spool on) or counted as
# dropped.shutdown, exactly, in one step; nothing is left in queue_depth.
# A plain Test::More file: it drives the master with signals.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use POSIX ":sys_wait_h";
use Time::HiRes qw(sleep time);
use t::Mixpanel;

my $http = HTTP::Tiny->new(timeout => 10);
my $per_token = 10;
my @tokens = ("tok-exit-a", "tok-exit-b");
my $records = 2 * $per_token * @tokens;      # an event and an update each

sub config {
    my (%o) = @_;
    my $spool = $o{spool} ? "mixpanel_spool %PREFIX%/spool;" : "";

    return <<"_EOC_";
worker_processes 1;
worker_shutdown_timeout 1s;
error_log logs/error.log info;

events {
    worker_connections 64;
}

http {
    access_log off;

    mixpanel_api http://127.0.0.1:1;
    mixpanel_batch_size 1;
    mixpanel_flush_interval 10ms;
    mixpanel_timeout 1s;
    $spool

    server {
        listen 127.0.0.1:%PORT%;

        location = /t {
            mixpanel track;
            mixpanel_token \$arg_tok;
            mixpanel_account_id \$arg_a;
            mixpanel_people_set plan \$arg_n;
            return 200 "ok\\n";
        }

        location = /status {
            mixpanel_status;
        }
    }
}
_EOC_
}

sub file_text {
    my ($path) = @_;
    open my $fh, '<', $path or return "";
    local $/;
    return <$fh>;
}

sub status {
    my ($nginx) = @_;
    my $r = $http->get("$nginx->{base}/status");
    return $r->{success} ? JSON::PP::decode_json($r->{content}) : undef;
}

# sends the requests; every one answered, every record queued
sub load {
    my ($nginx) = @_;
    my $ok = 0;

    for my $n (1 .. $per_token) {
        for my $tok (@tokens) {
            my $r = $http->get("$nginx->{base}/t?tok=$tok&a=acc-$n&n=$n");
            $ok++ if $r->{status} == 200;
        }
    }

    is($ok, $per_token * @tokens, "every request answered");

    # the sender has taken them all and failed a first time
    sleep 0.5;

    my $st = status($nginx);
    is($st->{events_queued}, $records, "$records records queued");
}

# records in the spool, per "kind token", from the files' headers and
# contents (sections of a header line, then one record a line, "count" of
# them; an older file holds a JSON array on its second line)
sub spooled {
    my ($dir) = @_;
    my (%by, $files);

    opendir my $d, $dir or return ({}, 0);

    for my $f (sort grep { /^mp-/ && !/\.corrupt$/ } readdir $d) {
        my $text = file_text("$dir/$f");
        my @lines = split /\n/, $text;
        my $sections = 0;
        while (@lines) {
            my $h = JSON::PP::decode_json(shift @lines);
            my @recs = @lines == 1 && $lines[0] =~ /^\[/
                       ? @{ JSON::PP::decode_json(shift @lines) }
                       : map { JSON::PP::decode_json($_) }
                             splice(@lines, 0, $h->{count});
            is(scalar @recs, $h->{count},
               "$f: a header counts its records");
            $by{"$h->{kind} $h->{token}"} += @recs;
            $sections++;
        }
        ok($sections, "$f: a section at least");
        $files++;
    }

    return (\%by, $files);
}

sub sum_of {
    my ($log, $re) = @_;
    my $sum = 0;
    $sum += $1 while $log =~ /$re/g;
    return $sum;
}

my %expected = map { ("import $_" => $per_token, "engage $_" => $per_token) }
               @tokens;


# 1. quit, spool on: every record spooled, in files per kind and token

{
    my $nginx = start_nginx(dirs => ["spool"], conf => config(spool => 1));
    ok(wait_until(10, sub { status($nginx) }), "quit/spool: nginx answers");

    load($nginx);

    my $t0 = time;
    ok(stop_nginx($nginx, 10), "quit/spool: nginx exits");
    my $took = time - $t0;

    my ($by, $files) = spooled("$nginx->{prefix}/spool");
    is_deeply($by, \%expected,
              "quit/spool: all $records records spooled, by kind and token");

    my $log = file_text("$nginx->{prefix}/logs/error.log");
    is(sum_of($log, qr/\[warn\] [^\n]*mixpanel: (\d+) events spooled to /
                    . qr/"[^"]+" on exit/),
       $records, "quit/spool: the log says $records spooled");
    unlike($log, qr/events dropped/, "quit/spool: nothing dropped");
    unlike($log, qr/\[alert\]|exited on signal|sender did not finish/,
           "quit/spool: no alert, no crash");
    cmp_ok($took, '<', 5, sprintf("quit/spool: bounded (%.1f s)", $took));
}


# 2. quit, spool off: every record counted as dropped on exit

{
    my $nginx = start_nginx(conf => config());
    ok(wait_until(10, sub { status($nginx) }), "quit/drop: nginx answers");

    load($nginx);

    ok(stop_nginx($nginx, 10), "quit/drop: nginx exits");

    my $log = file_text("$nginx->{prefix}/logs/error.log");
    is(sum_of($log, qr/\[error\] [^\n]*mixpanel: (\d+) events dropped on exit/),
       $records,
       "quit/drop: the log says $records dropped on exit");
    like($log, qr/dropped on exit[^\n]*connection refused|could not connect/i,
         "quit/drop: with the reason");
    unlike($log, qr/\[alert\]|exited on signal|sender did not finish/,
           "quit/drop: no alert, no crash");
}


# 3. reload, spool off: the new worker's status counts every record of the
# old one as dropped.shutdown, and queue_depth goes back to 0

for my $spool (0, 1) {
    my $name = $spool ? "reload/spool" : "reload/drop";
    my $nginx = start_nginx(dirs => ["spool"], conf => config(spool => $spool));
    ok(wait_until(10, sub { status($nginx) }), "$name: nginx answers");

    load($nginx);

    kill 'HUP', $nginx->{pid};

    ok(wait_until(10, sub {
           file_text("$nginx->{prefix}/logs/error.log")
               =~ /worker process \d+ exited with code 0/
       }), "$name: the old worker exited");

    my $st;
    ok(wait_until(5, sub {
           $st = status($nginx);
           $st && $st->{queue_depth} == 0
       }), "$name: queue_depth back to 0");

    my $d = $st->{events_dropped};
    is($st->{events_queued}, $records, "$name: queued");
    is($d->{shutdown}, $spool ? 0 : $records, "$name: dropped.shutdown");
    is($st->{events_spooled}, $spool ? $records : 0, "$name: spooled");
    is($d->{retry_expired} + $d->{queue_full} + $st->{events_sent}
       + $st->{events_rejected}, 0, "$name: nothing else");

    if ($spool) {
        my ($by) = spooled("$nginx->{prefix}/spool");
        is_deeply($by, \%expected, "$name: the files hold them all");
    }

    my $log = file_text("$nginx->{prefix}/logs/error.log");
    unlike($log, qr/\[alert\]|exited on signal|sender did not finish/,
           "$name: no alert, no crash");

    ok(stop_nginx($nginx, 10), "$name: nginx quits");
}

done_testing();
