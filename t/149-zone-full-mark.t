# A mark made in a full zone holds: the zone counts its open marks (the
# devices whose $identify was dropped), and a device whose cookie says
# bound is looked up only while that count is not zero.  The bindings
# dropped to make room carried no mark, so they must not lower the count.
# A zone of 32k is filled to one binding short of full with devices from
# a header (tok-f); a login of a cookie device (tok-m) takes the last
# place, and its $identify is dropped after its retries: the mark is then
# made by dropping the oldest binding, which carries none.  The device's
# next request must identify it again.  How many bindings the zone holds
# is measured first, by a nginx of its own with the same zone: filled
# past full, the devices read back newest first are identified again
# from the first one that was dropped (t/129 shows the order).
# A plain Test::More file: it follows cookies and counts $identify calls.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes qw(sleep);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $A = "5c1b3e0a-7d4f-4a8e-9b2c-0f6e1d2a3b4c";

sub conf {
    my ($fill, $mark) = @_;
    return <<"_EOC_";
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_cookie_secret 0123456789abcdef0123456789abcdef;
    mixpanel_zone 32k;
    mixpanel_flush_interval 50ms;
    mixpanel_retry_max_time 1s;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    server {
        listen 127.0.0.1:%PORT%;
        mixpanel_account_id \$http_x_account;
        location /fill/ {
            mixpanel_token $fill;
            mixpanel track;
            mixpanel_device_id \$http_x_device_id;
            return 200 "ok\\n";
        }
        location = /login {
            mixpanel_token $mark;
            mixpanel login;
            return 200 "ok\\n";
        }
        location /api/ {
            mixpanel_token $mark;
            mixpanel track;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_
}

my $http = HTTP::Tiny->new(timeout => 10);

sub dev { sprintf("%08x-0000-4000-8000-%012x", $_[0], $_[0]) }

sub fill {
    my ($n, $i) = @_;
    my $res = $http->get("$n->{base}/fill/x",
                         { headers => { "X-Device-Id" => dev($i),
                                        "X-Account" => "acc-$i" } });
    return $res->{status} == 200;
}

# the $identify calls of a project, per device
sub identifies {
    my ($token) = @_;
    my %n;
    $n{ $_->{ids}{q{$anon_id}} } += $_->{count} || 1
        for dn_identifies($token);
    return \%n;
}

sub total { my $n = 0; $n += $_ for values %{ $_[0] }; return $n }

sub settle {
    my ($token, $n) = @_;
    return dn_wait(20, sub { total(identifies($token)) >= $n });
}

# -- how many bindings the zone holds ---------------------------------------

my $N = 200;
my $cal = dn_nginx(port => $port, conf => conf("tok-cal", "tok-cal-m"));

my $ok = grep { fill($cal, $_) } 1 .. $N;
is($ok, $N, "$N devices from a header, each with its account");
ok(settle("tok-cal", $N), "each identified once");

$ok = grep { fill($cal, $N + 1 - $_) } 1 .. $N;
is($ok, $N, "read back, newest first");
ok(dn_wait(20, sub { dn_status($cal)->{events_queued}
                     == dn_status($cal)->{events_sent} }),
   "all sent");
my $again = total(identifies("tok-cal")) - $N;
my $C = $N - $again;
ok($again > 0 && $C > 20,
   "the zone was full: $again identified again, it holds $C");
is_deeply([sort { $a <=> $b } map { /^([0-9a-f]{8})-/ ? hex $1 : 0 }
           grep { identifies("tok-cal")->{$_} == 2 }
           keys %{ identifies("tok-cal") }],
          [1 .. $again], "the oldest ones were dropped");
ok(dn_stop($cal), "that nginx quits");

# -- a mark made where the zone is full ---------------------------------------

my $n = dn_nginx(port => $port + 2, conf => conf("tok-f", "tok-m"));

$ok = grep { fill($n, $_) } 1 .. $C - 1;
is($ok, $C - 1, "the zone filled to one binding short of full");
ok(settle("tok-f", $C - 1), "each device identified once");

sub req {
    my ($path, $cookie) = @_;
    my ($status, $c) = dn_device_req($n, POST => $path, $cookie, "acc-a");
    is($status, 200, "POST $path");
    return $c;
}

# a login whose $identify (and event) are dropped after their retries:
# 503 with Retry-After: 1 on the login's project only; a batch made
# during the lane's pause would be dropped too, so the next request waits
# for its end (as in t/127).  The device's cookie after it.
sub dropped_login {
    my ($device, $dropped, $what) = @_;
    dn_emu("faults", '{"status":503,"retry_after":1,"count":-1,'
                     . '"path":"/import","token":"tok-m"}');
    my $bound = req("/login", $device);
    like($bound, qr/^\Q$device\E\.[0-9a-f]{12}$/,
         "$what: the login's cookie says bound");
    ok(dn_wait(15, sub {
           dn_status($n)->{events_dropped}{retry_expired} == $dropped }),
       "$what: its \$identify and its event dropped")
        or diag(JSON::PP::encode_json(dn_status($n)));
    dn_emu("faults", undef, "DELETE");
    sleep(6.5);    # the lane's pause ends
    return $bound;
}

# its binding takes the last place; its mark, the oldest binding's
my $bound = dropped_login($A, 2, "a full zone");
is(total(identifies("tok-m")), 0, "no \$identify of tok-m reached Mixpanel");

my $c = req("/api/next", $bound);
ok(dn_wait(10, sub { total(identifies("tok-m")) == 1 }),
   "the device's next request identified it again");
is_deeply(identifies("tok-m"), { $A => 1 }, "that device, once");

req("/api/again", $c);
ok(dn_wait(10, sub { dn_status($n)->{queue_depth} == 0
                     && dn_status($n)->{events_sent}
                        == 2 * ($C - 1) + 4 }),
   "the request after it sent its event (and the login's people update "
   . "before them)")
    or diag(JSON::PP::encode_json(dn_status($n)));
is(total(identifies("tok-m")), 1, "and no second \$identify");

# the zone was full when the mark was made: the first device's binding
# made room for it, the third's is still there
ok(fill($n, 1) && fill($n, 3), "the first and the third device again");
ok(settle("tok-f", $C), "one more \$identify of tok-f");
is_deeply([@{ identifies("tok-f") }{ dev(1), dev(3) }], [2, 1],
          "the first device's, whose binding had made room");

# -- a binding of a device whose mark was cleared ----------------------------

# A second device's $identify dropped: one mark open again.  The first
# device, its mark cleared, is then bound in another project (from a
# header): that binding clears no mark, so it must not lower the count.
my $B = "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b";
my $bound_b = dropped_login($B, 4, "a second device");

ok($http->get("$n->{base}/fill/x",
              { headers => { "X-Device-Id" => $A, "X-Account" => "acc-a" } })
       ->{success}, "the first device from a header, in tok-f");
ok(settle("tok-f", $C + 1), "identified there");
is(identifies("tok-f")->{$A}, 1, "once");

req("/api/next", $bound_b);
ok(dn_wait(10, sub { identifies("tok-m")->{$B} }),
   "the second device's next request identified it again");
is_deeply(identifies("tok-m"), { $A => 1, $B => 1 }, "each device once");

ok(dn_stop($n), "nginx quits");

done_testing();
