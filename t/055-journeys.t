# The customer's journeys through real nginx to the emulator, Original ID
# Merge: anonymous browsing, sign-up, profile switch and update, logout,
# login on a second device, a second person signing up on the first
# device.  The last block reads what Mixpanel would now show.

use Test::Nginx::Socket 'no_plan';
use t::Mixpanel;

start_emulator("--identity", "original");

our $T1 = tag("acc-1");

our $HttpConfig = <<'_EOC_';
    mixpanel_api http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT;
    mixpanel_token tok;
    mixpanel_cookie_secret test-cookie-secret-0123456789abcdef;
    mixpanel_identity original;
    mixpanel_flush_interval 100ms;
    mixpanel_account_id $http_x_account;
    mixpanel_profile_id $http_x_profile;
    mixpanel_profile_cookie mp_profile;
_EOC_

our $Config = <<'_EOC_';
    location /api/ {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /signup {
        mixpanel signup;
        mixpanel_people_set phone_verified true type=boolean;
        return 200 "ok\n";
    }

    location = /login {
        mixpanel login;
        return 200 "ok\n";
    }

    location = /logout {
        mixpanel logout;
        return 200 "ok\n";
    }

    location = /profiles/switch {
        mixpanel profile_switch;
        mixpanel_people_set profile_type $http_x_profile_type;
        return 200 "ok\n";
    }

    location = /profile {
        mixpanel profile_update;
        mixpanel_people_set age $http_x_age type=number;
        return 200 "ok\n";
    }

    location /emu/ {
        mixpanel off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT/_emulator/;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config", $HttpConfig);
    $block->set_value("config", $Config);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: anonymous browsing on the first phone
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request eval
["GET /api/home", "GET /api/plans"]
--- response_body eval
["ok\n", "ok\n"]



=== TEST 2: sign-up with the solo profile
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1\nX-Profile: solo"
--- request
POST /signup
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"



=== TEST 3: browsing logged in, then a switch to the partner profile and an update
--- more_headers eval
["Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1\nX-Profile: solo",
 "Cookie: mp_device_id=$::D1.$::T1; mp_profile=solo\nX-Account: acc-1\nX-Profile: partner\nX-Profile-Type: couple",
 "Cookie: mp_device_id=$::D1.$::T1; mp_profile=partner\nX-Account: acc-1\nX-Age: 34"]
--- request eval
["GET /api/feed", "POST /profiles/switch", "PUT /profile"]
--- response_body eval
["ok\n", "ok\n", "ok\n"]



=== TEST 4: logout (phone validation expired)
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; mp_profile=partner\nX-Account: acc-1"
--- request
POST /logout
--- response_body
ok



=== TEST 5: login on a second phone, after browsing there anonymously
--- more_headers eval
["Cookie: mp_device_id=$::D2", "Cookie: mp_device_id=$::D2\nX-Account: acc-1"]
--- request eval
["GET /api/home", "POST /login"]
--- response_body eval
["ok\n", "ok\n"]



=== TEST 6: a second person signs up on the first phone: a fresh device id, identified when it comes back
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-2\nX-Profile: solo"
--- request
POST /signup
--- response_headers_like eval
"Set-Cookie: mp_device_id=(?!$::D1)$::UUID\\_" . tag("acc-2") . "; .*"



=== TEST 7: what Mixpanel now shows: one user per account, each with its devices
--- request eval
["GET /emu/events?wait_for=12&timeout=20",
 "GET /emu/users?id=acc-1",
 "GET /emu/users?id=acc-2",
 "GET /emu/users?kind=anonymous",
 "GET /emu/profiles?distinct_id=acc-1"]
--- response_body_like eval
['"count": 12,',
 '"count": 1,.*"canonical": "acc-1".*' . $::D1 . '.*' . $::D2,
 '"count": 1,.*"canonical": "acc-2"',
 '"count": 0,',
 '"count": 1,(?=.*"active_profile_id": "partner")(?=.*"age": 34)(?=.*"phone_verified": true)(?=.*"profile_type": "couple")']
