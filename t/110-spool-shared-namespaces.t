# Regression: two nginx instances in containers (each in a pid namespace
# of its own, so both workers are pid 2 here) share one spool directory,
# as directives.md allows ("several nginx instances on one host may share
# a directory").  A spool file was named after the worker's pid, the
# monotonic clock (the host's, the same in both) in ms and a sequence
# number from 0: two instances stopped together wrote their exit files
# under the same name, and the second one's open(O_EXCL) failed: "open()
# failed File exists, 10 events not spooled", dropped (3 times out of 4
# on this machine); a file renamed over another one's would lose it.
#
# Now every name also holds a random number drawn when the worker starts.
# Up to 6 stops of two instances at once: each spools all its events.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use File::Temp ();
use Time::HiRes ();

my $port = ($ENV{TEST_NGINX_SERVER_PORT} || 2500) + 6;
my $binary = $ENV{TEST_NGINX_BINARY} || "nginx";

plan skip_all => "needs unshare -p (root)"
    unless $> == 0 && system("unshare -p --fork true 2>/dev/null") == 0;

my $spool = File::Temp::tempdir(CLEANUP => 1);
chmod 0777, $spool;

sub start {
    my ($port) = @_;
    my $prefix = File::Temp::tempdir(CLEANUP => 1);
    mkdir "$prefix/$_" for "conf", "logs";
    chmod 0755, $prefix;
    open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
    print $fh join("", map { "load_module $_;\n" }
                       split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // "")),
              <<"_EOC_";
daemon off;
pid logs/nginx.pid;
error_log logs/error.log info;
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    # nothing listens there: Mixpanel is down
    mixpanel_api http://127.0.0.1:1;
    mixpanel_spool $spool;
    mixpanel_flush_interval 50ms;
    server {
        listen 127.0.0.1:$port;
        location = /v {
            mixpanel track;
            mixpanel_token tok-$port;
            return 200 "ok\\n";
        }
    }
}
_EOC_
    close $fh;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', "$prefix/logs/stderr.log";
        exec "unshare", "-p", "--fork", $binary, "-p", "$prefix/",
             "-c", "conf/nginx.conf";
        die "exec: $!";
    }
    my $http = HTTP::Tiny->new(timeout => 2);
    for (1 .. 100) {
        last if $http->get("http://127.0.0.1:$port/v")->{success};
        Time::HiRes::sleep(0.1);
    }
    # the master, pid 1 in its namespace, is unshare's child
    my $master = `pgrep -P $pid`;
    chomp $master;
    die "nginx did not start" unless $master;
    return { pid => $pid, master => $master, prefix => $prefix,
             port => $port };
}

sub errlog {
    my ($n) = @_;
    open my $l, '<', "$n->{prefix}/logs/error.log" or return "";
    local $/;
    return <$l>;
}

for my $trial (1 .. 6) {
    my @n = map { start($port + $_) } 0, 1;

    # 10 events each (the first came with the start)
    my $http = HTTP::Tiny->new(keep_alive => 1);
    for my $n (@n) {
        $http->get("http://127.0.0.1:$n->{port}/v") for 1 .. 9;
    }
    Time::HiRes::sleep(0.3);

    kill 'TERM', map { $_->{master} } @n;
    waitpid $_->{pid}, 0 for @n;

    my ($spooled, $dropped, $pids) = (0, 0, "");
    for my $n (@n) {
        my $log = errlog($n);
        while ($log =~ /on exit \d+ events were sent, (\d+) spooled, (\d+)/g)
        {
            $spooled += $1;
            $dropped += $2;
        }
        $pids .= " $1" if $log =~ /\[notice\] (\d+)#\d+: mixpanel: sending/;
    }

    my ($files, $records) = (0, 0);
    for my $f (glob "$spool/mp-*.json") {
        open my $fh, '<', $f or die;
        $files++;
        $records += grep { !/^\{"kind"/ } <$fh>;
        unlink $f;
    }

    is($spooled, 20, "stop $trial: each instance spooled its 10 events"
                     . " (workers$pids)");
    is($dropped, 0, "stop $trial: none dropped");
    is($records, 20, "stop $trial: the spool holds the 20, in 2 files")
        or last;
    is($files, 2, "stop $trial: 2 files");
}

done_testing();
