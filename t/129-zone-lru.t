# A full shared zone makes room by dropping its least recently used
# device bindings, never the recent ones: 150 devices from a header
# (mixpanel_device_id), each bound to its account, in a zone of 32k that
# holds about 100 (the first five read again after the sixtieth: being
# read makes a binding recent); then the most recent ones come back and
# send no new $identify, and the oldest ones, dropped, are identified once
# more ("a lost binding costs one more $identify", docs/directives.md).
# A plain Test::More file: nginx writes what it would send to a file.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api file:%PREFIX%/logs/sink.jsonl;
    mixpanel_token tok-lru;
    mixpanel_zone 32k;
    mixpanel_flush_interval 100ms;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t {
            mixpanel track;
            mixpanel_device_id $http_x_device_id;
            mixpanel_account_id $http_x_account;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 10);

# the device ids: UUIDs, numbered
sub dev { sprintf("%08x-0000-4000-8000-%012x", $_[0], $_[0]) }

sub req {
    my ($i) = @_;
    return $http->get("$n->{base}/t", { headers => {
        "X-Device-Id" => dev($i), "X-Account" => "acc-$i" } })->{status};
}

# the first five come back early: being read makes them recent again
my $ok = 0;
$ok += req($_) == 200 for 1 .. 60, 1 .. 5, 61 .. 150;
is($ok, 155, "150 devices, each with its account, five of them twice");

my @recent = (150, 149, 140, 120, 1, 2, 5);
my @old = (6, 7, 8);
$ok = 0;
$ok += req($_) == 200 for @recent, @old;
is($ok, 10, "seven recent devices and three of the first come back");

ok(dn_wait(10, sub { dn_status($n)->{events_sent} >= 165 + 150 }),
   "every event and \$identify written");
ok(dn_stop($n), "nginx quits");

my %identify;
open my $fh, '<', "$n->{prefix}/logs/sink.jsonl" or die $!;
while (my $line = <$fh>) {
    my $call = JSON::PP->new->utf8->decode($line);
    for my $rec (@{ $call->{body} }) {
        next unless ($rec->{event} // '') eq '$identify';
        $identify{ $rec->{properties}{'$anon_id'} }++;
    }
}

is(scalar keys %identify, 150, "every device was identified");
is_deeply([map { $identify{dev($_)} } @recent], [1, 1, 1, 1, 1, 1, 1],
          "the recent ones once: their bindings were kept")
    or diag(JSON::PP::encode_json([map { $identify{dev($_)} } 1 .. 150]));
is_deeply([map { $identify{dev($_)} } @old], [2, 2, 2],
          "the oldest ones twice: their bindings made room")
    or diag(JSON::PP::encode_json([map { $identify{dev($_)} } 1 .. 150]));

done_testing();
