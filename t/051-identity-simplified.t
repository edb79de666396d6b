# Simplified ID Merge: no $identify ever; events carry $device_id and,
# once known, $user_id; distinct_id is the account or "$device:" + id;
# logout rotates by default.

use Test::Nginx::Socket 'no_plan';
use t::Mixpanel;

our ($T1, $T9) = (tag("acc-1"), tag("acc-9"));

# mixpanel-browser 2.83's cookie after init(), then identify("acc-1")
our $SDK_ID_U = "a17628db-0b3c-4b58-94c6-2458ce5ca2a6";
our $SDK_IDENTIFIED = 'mp_tok_mixpanel=%7B%22distinct_id%22%3A%22acc-1%22%2C%22%24device_id%22%3A%22a17628db-0b3c-4b58-94c6-2458ce5ca2a6%22%2C%22%24initial_referrer%22%3A%22%24direct%22%2C%22%24initial_referring_domain%22%3A%22%24direct%22%2C%22__mps%22%3A%7B%7D%2C%22__mpso%22%3A%7B%7D%2C%22__mpus%22%3A%7B%7D%2C%22__mpa%22%3A%7B%7D%2C%22__mpu%22%3A%7B%7D%2C%22__mpr%22%3A%5B%5D%2C%22__mpap%22%3A%5B%5D%2C%22%24user_id%22%3A%22acc-1%22%7D';

use_sink("simplified");
no_shuffle();
run_tests();

__DATA__

=== TEST 1: track, anonymous: distinct_id is "$device:" + the device id, no $user_id
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /t
--- response_headers
!Set-Cookie
--- calls eval
sink_re(['/import', event_re('API Request', '\$device:' . $::D1, $::D1)])



=== TEST 2: track, logged in: $user_id and $device_id on the event merge them; no $identify; the device is bound
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1"
--- request
GET /t
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', event_re('API Request', 'acc-1', $::D1, 'acc-1',
                             ',"account_id":"acc-1"')])



=== TEST 3: signup: Sign Up with $user_id, then the people updates; no $identify
--- config
    location = /signup {
        mixpanel signup;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1\nX-Profile: solo"
--- request
POST /signup
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', event_re('Sign Up', 'acc-1', $::D1, 'acc-1',
                             ',"account_id":"acc-1","active_profile_id":"solo"')],
        ['/engage',
         engage_re('acc-1', '$set_once', '"\$created":"[0-9T:-]{19}"'),
         engage_re('acc-1', '$set', '"account_id":"acc-1","active_profile_id":"solo"')])



=== TEST 4: login of another account on a bound device: rotated first; the new id, not yet the client's, is not on the event (it would merge)
--- config
    location = /login {
        mixpanel login;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T9\nX-Account: acc-1"
--- request
POST /login
--- response_headers_like eval
"Set-Cookie: mp_device_id=(?!$::D1)$::UUID\\_$::T1; .*"
--- calls eval
sink_re(['/import', event_re('Log In', 'acc-1', undef, 'acc-1',
                             ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 4a: the pending device comes back: its event carries $device_id and $user_id (the merge); the cookie says bound
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1" . "_$::T1\nX-Account: acc-1"
--- request
GET /t
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', event_re('API Request', 'acc-1', $::D1, 'acc-1',
                             ',"account_id":"acc-1"')])



=== TEST 4b: a client that keeps no cookies: its identified events never carry the ids minted for it; an anonymous event does
--- config
    location = /signup {
        mixpanel signup;
        return 200 "ok\n";
    }

    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
["X-Account: acc-1", "X-Account: acc-1", ""]
--- request eval
["POST /signup", "GET /t", "GET /t"]
--- calls eval
sink_re(['/import', event_re('Sign Up', 'acc-1', undef, 'acc-1',
                             ',"account_id":"acc-1"'),
         event_re('API Request', 'acc-1', undef, 'acc-1',
                  ',"account_id":"acc-1"'),
         event_re('API Request', '\$device:' . $::UUID, $::UUID)],
        ['/engage', engage_re('acc-1', '$set_once', '"\$created":"[0-9T:-]{19}"'),
                    engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 5: logout rotates by default in simplified mode; the event keeps the old id
--- config
    location = /logout {
        mixpanel logout;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1"
--- request
POST /logout
--- response_headers_like eval
"Set-Cookie: mp_device_id=(?!$::D1)$::UUID; Path=/; .*"
--- calls eval
sink_re(['/import', event_re('Log Out', 'acc-1', $::D1, 'acc-1',
                             ',"account_id":"acc-1"')])



=== TEST 6: logout with mixpanel_logout_reset off keeps the device
--- config
    location = /logout {
        mixpanel logout;
        mixpanel_logout_reset off;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1"
--- request
POST /logout
--- response_headers
!Set-Cookie
--- calls eval
sink_re(['/import', event_re('Log Out', 'acc-1', $::D1, 'acc-1',
                             ',"account_id":"acc-1"')])



=== TEST 7: profile_switch: no rotation, $set active_profile_id
--- config
    location = /switch {
        mixpanel profile_switch;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; mp_profile=solo\nX-Account: acc-1\nX-Profile: partner"
--- request
POST /switch
--- response_headers_like
Set-Cookie: mp_profile=partner; .*
--- calls eval
sink_re(['/import', event_re('Switch Profile', 'acc-1', $::D1, 'acc-1',
                             ',"account_id":"acc-1","active_profile_id":"partner","previous_profile_id":"solo"')],
        ['/engage', engage_re('acc-1', '$set', '"active_profile_id":"partner"')])



=== TEST 8: reset rotates a bound device, sends nothing
--- config
    location = /signup-screen {
        mixpanel reset;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1"
--- request
GET /signup-screen
--- response_headers_like eval
"Set-Cookie: mp_device_id=(?!$::D1)$::UUID; Path=/; .*"
--- calls eval
'^$'



=== TEST 9: the distinct id variable of an anonymous request
--- config
    location = /t {
        mixpanel track;
        add_header X-Distinct $mixpanel_distinct_id;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /t
--- response_headers eval
"X-Distinct: \$device:$::D1"
--- calls eval
'"event":"API Request"'



=== TEST 10: an SDK's "$device:X" client id: D = X; anonymous distinct_id "$device:X" as always in Simplified; logged in, $device_id X merges
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $http_x_device_id;
        return 200 "ok\n";
    }
--- more_headers eval
["X-Device-Id: \$device:3F2504E0-4F89-41D3-9A0C-0305E82C3301",
 "X-Device-Id: \$device:3F2504E0-4F89-41D3-9A0C-0305E82C3301\nX-Account: acc-1"]
--- request eval
["GET /t", "GET /t"]
--- calls eval
my $u = "3F2504E0-4F89-41D3-9A0C-0305E82C3301";
sink_re(['/import', event_re('API Request', '\$device:' . $u, $u),
         event_re('API Request', 'acc-1', $u, 'acc-1',
                  ',"account_id":"acc-1"')])



=== TEST 11: a client's device id bound to one account, a second account logs in on it: the login carries $user_id but no $device_id (the merge would be refused: one user id per cluster); the first account's own request still carries it
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $http_x_device_id;
        return 200 "ok\n";
    }

    location = /login {
        mixpanel login;
        mixpanel_device_id $http_x_device_id;
        return 200 "ok\n";
    }
--- more_headers eval
["X-Device-Id: 44444444-4444-4444-8444-444444444444\nX-Account: eve",
 "X-Device-Id: 44444444-4444-4444-8444-444444444444\nX-Account: frank",
 "X-Device-Id: 44444444-4444-4444-8444-444444444444\nX-Account: eve"]
--- request eval
["GET /t", "GET /login", "GET /t"]
--- calls eval
my $d = "44444444-4444-4444-8444-444444444444";
sink_re(['/import', event_re('API Request', 'eve', $d, 'eve',
                             ',"account_id":"eve"'),
         event_re('Log In', 'frank', undef, 'frank',
                  ',"account_id":"frank"'),
         event_re('API Request', 'eve', $d, 'eve',
                  ',"account_id":"eve"')],
        ['/engage', engage_re('frank', '$set',
                              '"account_id":"frank"')])



=== TEST 11a: the SDK identified its device with acc-1 (its cookie says so): acc-2's request on it carries $user_id but no $device_id, and so do those of acc-12 and acc- (acc-1 begins the one, the other begins acc-1); acc-1's carries both
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $mixpanel_sdk_device_id;
        return 200 "ok\n";
    }
--- more_headers eval
[map { "Cookie: $::SDK_IDENTIFIED\nX-Account: $_" }
     "acc-2", "acc-12", "acc-", "acc-1"]
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- calls eval
sink_re(['/import', (map { event_re('API Request', $_, undef, $_,
                                    ',"account_id":"' . $_ . '"') }
                         "acc-2", "acc-12", "acc-"),
         event_re('API Request', 'acc-1', $::SDK_ID_U, 'acc-1',
                  ',"account_id":"acc-1"')])
