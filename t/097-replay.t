# Spool replay with four workers, files an hour old, a Mixpanel that
# answers each request after 3 s, and a reload in the middle of the
# replay: each file is sent by one worker, once; each event is received
# once.  A claim is a lock its worker holds while it lives.  A plain
# Test::More file: it drives the master with signals.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes qw(sleep time);
use t::Mixpanel;

start_emulator("--identity", "original");

my $nginx = start_nginx(dirs => ["spool"], conf => <<"_EOC_");
worker_processes 4;
error_log logs/error.log info;

events {
    worker_connections 64;
}

http {
    access_log off;

    mixpanel_api http://127.0.0.1:$ENV{TEST_NGINX_EMULATOR_PORT};
    mixpanel_token tok-replay;
    mixpanel_timeout 10s;
    mixpanel_spool %PREFIX%/spool;

    server {
        listen 127.0.0.1:%PORT%;

        location = /t {
            mixpanel track;
            return 200 "ok\\n";
        }

        location = /status {
            mixpanel_status;
        }

        location = /ready {
            return 204;
        }
    }
}
_EOC_

my ($pid, $prefix) = ($nginx->{pid}, $nginx->{prefix});
my $http = HTTP::Tiny->new(timeout => 10);

sub error_log {
    open my $l, '<', "$prefix/logs/error.log" or return "";
    local $/;
    return <$l>;
}

sub spool_files {
    opendir my $d, "$prefix/spool" or return ();
    return grep { /^mp-/ } readdir $d;
}

# nginx is stopped while the files are written, then started again: the
# files must be there when the workers start
ok(wait_until(30, sub { $http->get("$nginx->{base}/ready")->{success} }),
   "the first nginx answers");
ok(stop_nginx($nginx, 60), "the first nginx quits");

my $time = int(time * 1000) - 3600 * 1000;
my $files = 4;
my $per_file = 5;
my $n = 0;

# in a string, what would end the value outside one: the array's records
# are told apart by brackets and commas outside strings only
my $note = 'a,b}c]d"e\\f,{[';

for my $f (1 .. $files) {
    my @recs = map {
        $n++;
        JSON::PP->new->canonical->encode({
            event => "Replayed",
            properties => {
                token => "tok-replay", time => $time + $n,
                distinct_id => "d-$n", '$insert_id' => sprintf("%032x", $n),
                file => $f, note => $note,
            },
        });
    } 1 .. $per_file;

    # the format of earlier versions: a header line and one JSON array
    my $path = "$prefix/spool/mp-1-$f-$f.json";
    open my $fh, '>', $path or die $!;
    print $fh "{\"kind\":\"import\",\"token\":\"tok-replay\","
              . "\"count\":$per_file}\n[" . join(",", @recs) . "]";
    close $fh;
    utime time - 3600, time - 3600, $path;
}

emulator("faults", '{"delay_ms":3000,"count":-1,"path":"/import"}');

# the same prefix, a new master
$nginx = start_nginx_again($nginx);
$pid = $nginx->{pid};

ok(wait_until(10, sub { $http->get("$nginx->{base}/status")->{success} }),
   "nginx answers");

# the replay is under way: reload in the middle of it
ok(wait_until(10, sub {
       emulator("requests?path=/import")->{count} > 0
   }), "the replay started");

sleep 1;
kill 'HUP', $pid;

my $events = emulator("events?wait_for=" . ($files * $per_file)
                      . "&timeout=60");
is($events->{count}, $files * $per_file, "every event arrived");
is(scalar(grep { ($_->{properties}{note} // '') eq $note }
           @{ $events->{events} }),
   $files * $per_file, "each with its string of commas, brackets, quotes");

ok(wait_until(30, sub { !spool_files() }), "the spool is empty");

# time for a duplicate to show up, should one be on its way
sleep 4;

my $stats = emulator("stats");
is($stats->{events}{received}, $files * $per_file, "each event received once");
is($stats->{events}{duplicates}, 0, "no duplicates");

my $requests = emulator("requests?path=/import");
is($requests->{count}, $files, "one request a file");

my %bodies;
$bodies{ $_->{records}[0]{properties}{file} }++
    for @{ $requests->{requests} };
is_deeply(\%bodies, { map { ($_ => 1) } 1 .. $files },
          "each file sent once");

emulator("faults/clear", "{}");

my $st;
ok(wait_until(10, sub {
       my $r = $http->get("$nginx->{base}/status");
       $st = JSON::PP::decode_json($r->{content}) if $r->{success};
       $st && $st->{events_replayed} == $files * $per_file
   }), "events_replayed counts each event once")
    or diag(JSON::PP->new->canonical->encode($st));

my $log = error_log();
unlike($log, qr/\[alert\]|exited on signal/, "no alert, no crash");

ok(stop_nginx($nginx, 60), "nginx quits");

done_testing();


# a new master on the prefix of one that quit
sub start_nginx_again {
    my ($old) = @_;
    my $binary = $ENV{TEST_NGINX_BINARY} || "nginx";

    my $child = fork();
    die "fork: $!" unless defined $child;

    if ($child == 0) {
        open STDERR, '>>', "$old->{prefix}/logs/stderr.log";
        exec $binary, "-p", "$old->{prefix}/", "-c", "conf/nginx.conf";
        die "exec: $!";
    }

    return { %$old, pid => $child };
}
