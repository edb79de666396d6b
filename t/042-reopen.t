# The file: sink across nginx -s reopen (USR1): the events after the
# reopen go to the new file.  And master_process off with a reload that
# changes the zone: the sender keeps running on its own copies.  A plain
# Test::More file: it drives nginx with signals.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes qw(sleep);
use t::Mixpanel;

my $http = HTTP::Tiny->new(timeout => 10);

sub config {
    my ($zone, $flush) = @_;
    $flush //= "10ms";

    return <<"_EOC_";
worker_processes 1;
error_log logs/error.log info;

events {
    worker_connections 64;
}

http {
    access_log off;

    mixpanel_api file:%PREFIX%/logs/calls.jsonl;
    mixpanel_token tok-reopen;
    mixpanel_flush_interval $flush;
    mixpanel_zone $zone;

    server {
        listen 127.0.0.1:%PORT%;

        location = /t {
            mixpanel track;
            mixpanel_event "Event \$arg_n";
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

sub events_in {
    my ($path) = @_;
    return join ",", file_text($path) =~ /"event":"Event (\d+)"/g;
}

sub status {
    my ($nginx) = @_;
    my $r = $http->get("$nginx->{base}/status");
    return $r->{success} ? JSON::PP::decode_json($r->{content}) : undef;
}

sub track {
    my ($nginx, $n) = @_;
    is($http->get("$nginx->{base}/t?n=$n")->{status}, 200, "request $n");
}


# 1. USR1: the sink follows the file nginx reopens

{
    my $nginx = start_nginx(conf => config("1m"));
    my $calls = "$nginx->{prefix}/logs/calls.jsonl";
    ok(wait_until(10, sub { status($nginx) }), "reopen: nginx answers");

    track($nginx, 1);
    ok(wait_until(10, sub { events_in($calls) eq "1" }),
       "reopen: the first event is in the file");

    rename $calls, "$calls.1" or die $!;
    kill 'USR1', $nginx->{pid};
    ok(wait_until(10, sub { -e $calls }), "reopen: nginx opened a new file");

    # the sender notices within its drain interval
    sleep 0.5;

    track($nginx, 2);
    track($nginx, 3);
    ok(wait_until(10, sub { events_in($calls) eq "2,3" }),
       "reopen: the later events are in the new file")
        or diag(file_text($calls));
    is(events_in("$calls.1"), "1", "reopen: the old file kept the first");

    my $log = file_text("$nginx->{prefix}/logs/error.log");
    unlike($log, qr/\[alert\]|\[crit\]|exited on signal/,
           "reopen: no alert, no crash");

    ok(stop_nginx($nginx), "reopen: nginx quits");
}


# 2. master_process off, a reload that replaces the zone and closes the
# old cycle's files while the sender holds events.  nginx itself serves no
# request after such a reload (its single process keeps the old cycle's
# connections), so what is checked is what the sender does: it writes
# through its own descriptor, counts in no zone that is gone, and sends
# what it held when nginx quits.

{
    my $nginx = start_nginx(master => 0, conf => config("1m", "1h"));
    my $calls = "$nginx->{prefix}/logs/calls.jsonl";
    ok(wait_until(10, sub { status($nginx) }), "single: nginx answers");

    track($nginx, 1);
    track($nginx, 2);

    my $conf = file_text("$nginx->{prefix}/conf/nginx.conf");
    $conf =~ s/mixpanel_zone 1m;/mixpanel_zone 2m;/ or die "no zone";
    open my $fh, '>', "$nginx->{prefix}/conf/nginx.conf" or die $!;
    print $fh $conf;
    close $fh;

    kill 'HUP', $nginx->{pid};
    ok(wait_until(10, sub {
           file_text("$nginx->{prefix}/logs/error.log") =~ /reconfiguring/
       }), "single: reloaded");

    # a few drains of the outbox on the new cycle
    sleep 1;

    ok(stop_nginx($nginx), "single: nginx quits");

    is(events_in($calls), "1,2", "single: the events held were written");

    my $log = file_text("$nginx->{prefix}/logs/error.log");
    like($log, qr/mixpanel: sending 2 queued events before exit/,
         "single: the sender sent them on exit");
    unlike($log, qr/\[alert\]|\[crit\]|exited on signal|write\(\)[^\n]*failed/,
           "single: no alert, no failed write, no crash");
}

done_testing();
