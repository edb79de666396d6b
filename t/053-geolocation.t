# Geolocation (SPEC section 3, mixpanel_ip): "ip" on every event, the
# $identify included, and "$ip" on every people update, always present.
# A list (X-Forwarded-For) gives its first address; an empty value, or one
# that is no IPv4 or IPv6 address, gives "0", and so does "off" -- left
# out, Mixpanel would locate the user where nginx is.

use Test::Nginx::Socket 'no_plan';
use t::Mixpanel;

our $T1 = tag("acc-1");

# the $identify, the event and the $set of one login, all with this ip
sub login_calls {
    my ($ip) = @_;
    (my $re = identify_re('acc-1', $::D1, undef, $ip)) =~ s/^//;
    my $ev = event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"');
    $ev =~ s/"ip":"127\\\.0\\\.0\\\.1"/"ip":"$ip"/;
    my $set = engage_re('acc-1', '$set', '"account_id":"acc-1"');
    $set =~ s/"\\\$ip":"127\\\.0\\\.0\\\.1"/"\\\$ip":"$ip"/;
    return sink_re(['/import', $re, $ev], ['/engage', $set]);
}

for my $f (qw(login_calls)) {
    no strict 'refs';
    *{"Test::Base::Filter::$f"} = \&$f;
}

use_sink("original");
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the default, $remote_addr, on the $identify, the event and the people update
--- config
    location = /login {
        mixpanel login;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1"
--- request
POST /login
--- calls eval
login_calls('127\.0\.0\.1')



=== TEST 2: X-Forwarded-For: the first address of the list, spaces trimmed
--- config
    location = /login {
        mixpanel login;
        mixpanel_ip $http_x_forwarded_for;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1\nX-Forwarded-For:  203.0.113.9 , 10.0.0.2, 10.0.0.3"
--- request
POST /login
--- calls eval
login_calls('203\.0\.113\.9')



=== TEST 2a: a tab after the first address of X-Forwarded-For trimmed too (nginx strips the ones before a header's value)
--- config
    location = /login {
        mixpanel login;
        mixpanel_ip $http_x_forwarded_for;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1\nX-Forwarded-For: 203.0.113.9\t, 10.0.0.2"
--- request
POST /login
--- calls eval
login_calls('203\.0\.113\.9')



=== TEST 2b: tabs trimmed on both sides of an address in a value of the configuration
--- config
    location = /login {
        mixpanel login;
        mixpanel_ip "		203.0.113.7		,10.0.0.2";
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1"
--- request
POST /login
--- calls eval
login_calls('203\.0\.113\.7')



=== TEST 3: an IPv6 address first in the list
--- config
    location = /login {
        mixpanel login;
        mixpanel_ip $http_x_forwarded_for;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1\nX-Forwarded-For: 2001:db8::7,10.0.0.2"
--- request
POST /login
--- calls eval
login_calls('2001:db8::7')



=== TEST 4: no X-Forwarded-For (empty): "0", not left out
--- config
    location = /login {
        mixpanel login;
        mixpanel_ip $http_x_forwarded_for;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1"
--- request
POST /login
--- calls eval
login_calls('0')



=== TEST 5: values that are no address: "0"; an address with a port (as some load balancers write X-Forwarded-For) or in brackets: the address
--- config
    location = /t {
        mixpanel track;
        mixpanel_ip $http_x_ip;
        return 200 "ok\n";
    }
--- more_headers eval
["Cookie: mp_device_id=$::D1\nX-Ip: unknown",
 "Cookie: mp_device_id=$::D1\nX-Ip: 203.0.113.9:4711",
 "Cookie: mp_device_id=$::D1\nX-Ip: 256.1.1.1",
 "Cookie: mp_device_id=$::D1\nX-Ip: , 203.0.113.9",
 "Cookie: mp_device_id=$::D1\nX-Ip: [2001:db8::7]",
 "Cookie: mp_device_id=$::D1\nX-Ip: 203.0.113.9"]
--- request eval
[("GET /t") x 6]
--- calls eval
my @ev = map {
    (my $e = event_re('API Request', $::D1, $::D1)) =~ s/127\\\.0\\\.0\\\.1/$_/;
    $e
} ('0', '203\.0\.113\.9', '0', '0', '2001:db8::7', '203\.0\.113\.9');
sink_re(['/import', @ev])



=== TEST 5a: ports and brackets, at their edges
--- config
    location = /t {
        mixpanel track;
        mixpanel_ip $http_x_ip;
        return 200 "ok\n";
    }
--- more_headers eval
["Cookie: mp_device_id=$::D1\nX-Ip: [2001:db8::8]:443, 10.0.0.1",
 "Cookie: mp_device_id=$::D1\nX-Ip: 203.0.113.9:",
 "Cookie: mp_device_id=$::D1\nX-Ip: [2001:db8::7]x",
 "Cookie: mp_device_id=$::D1\nX-Ip: 203.0.113.9:1:2",
 "Cookie: mp_device_id=$::D1\nX-Ip: []:1"]
--- request eval
[("GET /t") x 5]
--- calls eval
my @ev = map {
    (my $e = event_re('API Request', $::D1, $::D1)) =~ s/127\\\.0\\\.0\\\.1/$_/;
    $e
} ('2001:db8::8', '203\.0\.113\.9', '0', '0', '0');
sink_re(['/import', @ev])



=== TEST 5b: IPv6 forms: the longest (45 characters, an IPv4 tail), upper case, "::1", an IPv4-mapped address; nine groups is none
--- config
    location = /t {
        mixpanel track;
        mixpanel_ip $http_x_ip;
        return 200 "ok\n";
    }
--- more_headers eval
["Cookie: mp_device_id=$::D1\nX-Ip: 2001:0db8:1111:2222:3333:4444:203.113.100.199",
 "Cookie: mp_device_id=$::D1\nX-Ip: 2001:DB8::A",
 "Cookie: mp_device_id=$::D1\nX-Ip: ::1",
 "Cookie: mp_device_id=$::D1\nX-Ip: ::ffff:203.0.113.9",
 "Cookie: mp_device_id=$::D1\nX-Ip: 1:2:3:4:5:6:7:8:9"]
--- request eval
[("GET /t") x 5]
--- calls eval
my @ev = map {
    (my $e = event_re('API Request', $::D1, $::D1)) =~ s/127\\\.0\\\.0\\\.1/$_/;
    $e
} ('2001:0db8:1111:2222:3333:4444:203\.113\.100\.199', '2001:DB8::A', '::1',
   '::ffff:203\.0\.113\.9', '0');
sink_re(['/import', @ev])



=== TEST 6: mixpanel_ip off: "0" everywhere
--- config
    location = /login {
        mixpanel login;
        mixpanel_ip off;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1"
--- request
POST /login
--- calls eval
login_calls('0')



=== TEST 6a: a request on a Unix socket: $remote_addr is "unix:", no address, so "0"
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/logs/mp.sock;
        location = /t {
            mixpanel track;
            return 200 "ok\n";
        }
    }
--- config
    location = /t {
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/logs/mp.sock:/t;
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /t
--- calls eval
(my $e = event_re('API Request', $::D1, $::D1)) =~ s/127\\\.0\\\.0\\\.1/0/;
sink_re(['/import', $e])



=== TEST 7: mixpanel_ip at the http and server levels too
--- http_config
    mixpanel_ip $http_x_real_ip;
--- config
    location = /login {
        mixpanel login;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1\nX-Real-IP: 198.51.100.4"
--- request
POST /login
--- calls eval
login_calls('198\.51\.100\.4')



=== TEST 8: server level
--- config
    mixpanel_ip $http_x_real_ip;

    location = /login {
        mixpanel login;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1\nX-Real-IP: 198.51.100.5"
--- request
POST /login
--- calls eval
login_calls('198\.51\.100\.5')
