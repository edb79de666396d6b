# A spool at its max_size makes room again once its files are replayed:
# an outage fills it (two events of about 1000 bytes, in a max_size of 2500;
# a third is dropped, counted), Mixpanel comes back and the spool is
# replayed, then a second outage: its two events are spooled again, not
# dropped, and delivered when Mixpanel is back.  A plain Test::More file.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $pad = "p" x 250;

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => <<"_EOC_");
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-room;
    mixpanel_flush_interval 100ms;
    mixpanel_retry_max_time 1s;
    mixpanel_spool %PREFIX%/spool max_size=2500;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t {
            mixpanel track;
            mixpanel_event "Event \$arg_n";
            mixpanel_property pad1 $pad;
            mixpanel_property pad2 $pad;
            mixpanel_property pad3 $pad;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 10);

sub event { $http->get("$n->{base}/t?n=$_[0]")->{status} }

sub files {
    opendir my $d, "$n->{prefix}/spool" or return -1;
    return scalar grep { /^mp-.*\.json$/ } readdir $d;
}

my $s;

# outage 1: the spool fills
dn_emu("faults", '{"status":503,"count":-1,"path":"/import"}');
is(event(1), 200, "event 1");
ok(dn_wait(20, sub { dn_status($n)->{events_spooled} == 1 }), "spooled");
is(event(2), 200, "event 2");
ok(dn_wait(20, sub { dn_status($n)->{events_spooled} == 2 }), "spooled");
is(event(3), 200, "event 3");
ok(dn_wait(20, sub { $s = dn_status($n);
                     $s->{events_dropped}{retry_expired} == 1 }),
   "dropped: the spool is full")
    or diag(explain($s));
is($s->{events_spooled}, 2, "not spooled");
like(dn_errlog($n), qr/spool "[^"]+" is full \(max_size=2500\)/,
     "the full spool logged");

# Mixpanel is back: once the lane's pause is over, the spool is replayed
dn_emu("faults", undef, "DELETE");
ok(dn_wait(30, sub { dn_status($n)->{events_replayed} == 2 }),
   "the spool replayed");
ok(dn_wait(10, sub { files() == 0 }), "and empty");

# outage 2: the room is there again
sleep(1);
dn_emu("faults", '{"status":503,"count":-1,"path":"/import"}');
is(event(5), 200, "event 5");
ok(dn_wait(20, sub { dn_status($n)->{events_spooled} == 3 }),
   "spooled, the replayed files no longer count");
is(event(6), 200, "event 6");
ok(dn_wait(20, sub { $s = dn_status($n); $s->{events_spooled} == 4 }),
   "spooled")
    or diag(explain($s));
is($s->{events_dropped}{retry_expired}, 1, "nothing more dropped");

dn_emu("faults", undef, "DELETE");
ok(dn_wait(30, sub { dn_status($n)->{events_replayed} == 4 }),
   "replayed once Mixpanel is back");

my %got = map { $_->{event} => 1 }
    @{ dn_emu("events?token=tok-room")->{events} };
is_deeply([sort keys %got], [map { "Event $_" } 1, 2, 5, 6],
          "every event but the dropped one delivered");
is(dn_emu("events?token=tok-room")->{count}, 4, "each once");

ok(dn_stop($n), "nginx quits");

done_testing();
