# Original ID Merge: every row of SPEC section 4's table, the exact calls
# each action sends (read back from the file: sink) and the cookies it
# sets.  Device ids are fixed by the tests' cookies, so the binding tags
# and the calls can be predicted exactly.

use Test::Nginx::Socket 'no_plan';
use t::Mixpanel;

our ($T1, $T2, $T9) = (tag("acc-1"), tag("acc-2"), tag("acc-9"));
our $UP = "3F2504E0-4F89-41D3-9A0C-0305E82C3301";

# TEST 34a: client ids, and whether each is kept or mapped
our @Ids = ("0f1c2a3b-4d5e-4f60-8b7b-9c0d1e2f3a4b",
            "0f1c2a3b-4d5e-4f60-9b7b-9c0d1e2f3a4b",
            "0f1c2a3b-4d5e-4f60-ab7b-9c0d1e2f3a4b",
            "0F1C2A3B-4D5E-4F60-BB7B-9C0D1E2F3A4B",
            "0f1c2a3b-4d5e-1f60-8b7b-9c0d1e2f3a4b",
            "0f1c2a3b-4d5e-5f60-8b7b-9c0d1e2f3a4b",
            "0f1c2a3b-4d5e-4f60-7b7b-9c0d1e2f3a4b",
            "0f1c2a3b-4d5e-4f60-cb7b-9c0d1e2f3a4b",
            "0f1c2a3b-4d5e-4f60-8b7b-9c0d1e2f3a4g",
            "0f1c2a3b4-d5e-4f60-8b7b-9c0d1e2f3a4b",
            # each edge of the hex digits' ranges, in each of the 4 words
            # the digits are read in, and a character just past an edge
            "09afAF09-afAF-4a9F-8fA0-09afAF09afAF",
            "09afAF09-afAF-4a9F-Af90-09afAF09afAF",
            "/9afAF09-afAF-4a9F-8fA0-09afAF09afAF",
            "09afAF09-af:F-4a9F-8fA0-09afAF09afAF",
            "09afAF09-afAF-4a9`-8fA0-09afAF09afAF",
            "09afAF09-afAF-4a9F-8f\@0-09afAF09afAF",
            "09afAF09-afAF-4a9F-8fA0-09GfAF09afAF",
            "09afAF09-afAF-4a9F-8fA0-09afAF/9afAF");
our @Kind = (("keep:") x 4, ("map:") x 6, ("keep:") x 2, ("map:") x 6);
our $Cookie = 'mp_device_id=(' . $UUID . ')(?:\.[0-9a-f]{12})?; Path=/; '
              . 'Max-Age=31536000; Expires=[^;]+; SameSite=Lax';

use_sink("original");
no_shuffle();
run_tests();

__DATA__

=== TEST 1: track, a new anonymous client: a fresh device id, set as cookie
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::UUID; Path=/; Max-Age=31536000; Expires=[^;]+ GMT; SameSite=Lax"
--- calls eval
sink_re(['/import', event_re('API Request', $::UUID, $::UUID)])
--- no_error_log
[error]



=== TEST 2: track, an anonymous client with a device cookie: no new cookie
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
sink_re(['/import', event_re('API Request', $::D1, $::D1)])



=== TEST 3: track, logged in on a device not yet bound: $identify first, then the event; the cookie gets the tag
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
"Set-Cookie: mp_device_id=$::D1.$::T1; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('API Request', 'acc-1', $::D1, undef,
                  ',"account_id":"acc-1"')])



=== TEST 4: track, logged in on a device bound to the account: no $identify, no cookie
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1\nX-Profile: solo"
--- request
GET /t
--- response_headers
!Set-Cookie
--- calls eval
sink_re(['/import', event_re('API Request', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1","active_profile_id":"solo"')])



=== TEST 5: track, logged in without a cookie: a minted device id is never identified
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers
X-Account: acc-1
--- request
GET /t
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::UUID; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax"
--- calls eval
sink_re(['/import', event_re('API Request', 'acc-1', $::UUID, undef,
                             ',"account_id":"acc-1"')])



=== TEST 6: a client device id that is not a UUIDv4 is mapped, identified once, and remembered in the zone
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $http_x_device_id;
        return 200 "ok\n";
    }
--- more_headers
X-Device-Id: ios-abc
X-Account: acc-1
--- request eval
["GET /t", "GET /t"]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie"]
--- calls eval
my $d = mapped_device("ios-abc");
sink_re(['/import', identify_re('acc-1', $d),
         event_re('API Request', 'acc-1', $d, undef, ',"account_id":"acc-1"'),
         event_re('API Request', 'acc-1', $d, undef, ',"account_id":"acc-1"')])



=== TEST 7: signup on a new device: no $identify of the id just minted, its cookie pending for the account; Sign Up, $set_once $created, $set ids and configured properties
--- config
    location = /signup {
        mixpanel signup;
        mixpanel_people_set name $http_x_name;
        mixpanel_people_set_once first_seen web;
        return 200 "ok\n";
    }
--- more_headers
X-Account: acc-1
X-Profile: solo
X-Name: Gabe
--- request
POST /signup
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::UUID\\_$::T1; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax, mp_profile=solo; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax"
--- calls eval
sink_re(['/import',
         event_re('Sign Up', 'acc-1', $::UUID, undef,
                  ',"account_id":"acc-1","active_profile_id":"solo"')],
        ['/engage',
         engage_re('acc-1', '$set_once',
                   '"\$created":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d","first_seen":"web"'),
         engage_re('acc-1', '$set',
                   '"account_id":"acc-1","active_profile_id":"solo","name":"Gabe"')])



=== TEST 7a: the pending device comes back with its account: now $identify, and the cookie says bound
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
"Set-Cookie: mp_device_id=$::D1.$::T1; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('API Request', 'acc-1', $::D1, undef,
                  ',"account_id":"acc-1"')])



=== TEST 7b: a pending device back at a login of its account: identified, not rotated
--- config
    location = /login {
        mixpanel login;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1" . "_$::T1\nX-Account: acc-1"
--- request
POST /login
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 7c: a pending device back with another account: it is in no cluster yet, so that account identifies it
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1" . "_$::T1\nX-Account: acc-2"
--- request
GET /t
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T2; .*"
--- calls eval
sink_re(['/import', identify_re('acc-2', $::D1),
         event_re('API Request', 'acc-2', $::D1, undef,
                  ',"account_id":"acc-2"')])



=== TEST 7d: a pending device back without an account: anonymous, its cookie unchanged
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1" . "_$::T1"
--- request
GET /t
--- response_headers
!Set-Cookie
--- calls eval
sink_re(['/import', event_re('API Request', $::D1, $::D1)])



=== TEST 7e: reset on a pending device rotates it (the sign-up screen: a new person)
--- config
    location = /signup-screen {
        mixpanel reset;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1" . "_$::T1"
--- request
GET /signup-screen
--- response_headers_like eval
"Set-Cookie: mp_device_id=(?!$::D1)$::UUID; Path=/; .*"
--- calls eval
'^$'



=== TEST 8: signup on the anonymous device: its history merges into the account
--- config
    location = /signup {
        mixpanel signup;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1"
--- request
POST /signup
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Sign Up', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage',
         engage_re('acc-1', '$set_once', '"\$created":"[0-9T:-]{19}"'),
         engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 9: login on a device already bound to the account: no $identify, no rotation
--- config
    location = /login {
        mixpanel login;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1"
--- request
POST /login
--- response_headers
!Set-Cookie
--- calls eval
sink_re(['/import', event_re('Log In', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 10: login of a different account on a bound device: rotated first; the new id, pending for the account, is not identified yet
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
my $new = "(?!$::D1)$::UUID";
sink_re(['/import',
         event_re('Log In', 'acc-1', $new, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 11: a failed login (401) does nothing at all
--- config
    location = /login {
        mixpanel login;
        return 401 "no\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1"
--- request
POST /login
--- error_code: 401
--- response_headers
!Set-Cookie
--- calls eval
'^$'



=== TEST 11a: a login answered 302 (a redirect, not a 2xx) does nothing at all
--- config
    location = /login {
        mixpanel login;
        return 302 /home;
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1"
--- request
POST /login
--- error_code: 302
--- response_headers
!Set-Cookie
--- calls eval
'^$'



=== TEST 11b: a login answered 299, the last 2xx, is a login (the control of 11a)
--- config
    location = /login {
        mixpanel login;
        return 299 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1"
--- request
POST /login
--- error_code: 299
--- calls eval
sink_re(['/import', event_re('Log In', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 12: if= replaces the 2xx rule of identity actions
--- config
    location = /login {
        mixpanel login if=$http_x_ok;
        return 401 "no\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1\nX-Ok: 1"
--- request
POST /login
--- error_code: 401
--- calls eval
sink_re(['/import', event_re('Log In', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 13: logout, original: Log Out as the account, no rotation, the profile cookie cleared
--- config
    location = /logout {
        mixpanel logout;
        mixpanel_people_set ignored yes;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; mp_profile=partner\nX-Account: acc-1"
--- request
POST /logout
--- response_headers
Set-Cookie: mp_profile=; Path=/; Max-Age=0; Expires=Thu, 01-Jan-70 00:00:00 GMT; SameSite=Lax
--- calls eval
sink_re(['/import', event_re('Log Out', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1","active_profile_id":"partner"')])



=== TEST 13a: logout on a device minted at the account's login that comes back for the first time: it is identified and bound (the next account to log in there must find it bound, and rotate it)
--- config
    location = /logout {
        mixpanel logout;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1" . "_$::T1\nX-Account: acc-1"
--- request
POST /logout
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; Path=/; .*"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log Out', 'acc-1', $::D1, undef,
                  ',"account_id":"acc-1"')])



=== TEST 13b: the same logout with mixpanel_logout_reset on: the device is left, nothing to identify on it
--- config
    location = /logout {
        mixpanel logout;
        mixpanel_logout_reset on;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1" . "_$::T1\nX-Account: acc-1"
--- request
POST /logout
--- response_headers_like eval
"Set-Cookie: mp_device_id=(?!$::D1)$::UUID; Path=/; .*"
--- calls eval
sink_re(['/import', event_re('Log Out', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1"')])



=== TEST 13a: logout clears a profile cookie set with a Domain and a Path with that same Domain and Path: a browser deletes a cookie only when both match
--- config
    location = /logout {
        mixpanel logout;
        mixpanel_profile_cookie prof domain=example.com path=/app max_age=1h samesite=strict secure httponly;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; prof=partner\nX-Account: acc-1"
--- request
POST /logout
--- response_headers
Set-Cookie: prof=; Domain=example.com; Path=/app; Max-Age=0; Expires=Thu, 01-Jan-70 00:00:00 GMT; SameSite=Strict; Secure; HttpOnly
--- calls eval
sink_re(['/import', event_re('Log Out', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1","active_profile_id":"partner"')])



=== TEST 14: logout with mixpanel_logout_reset on: the event on the old id, a new id in the cookie
--- config
    location = /logout {
        mixpanel logout;
        mixpanel_logout_reset on;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1"
--- request
POST /logout
--- response_headers_like eval
"Set-Cookie: mp_device_id=(?!$::D1)$::UUID; Path=/; .*"
--- calls eval
sink_re(['/import', event_re('Log Out', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1"')])



=== TEST 15: profile_switch: previous and new profile, the profile cookie, $set active_profile_id, no rotation
--- config
    location = /switch {
        mixpanel profile_switch;
        mixpanel_people_set profile_type $http_x_type;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; mp_profile=solo\nX-Account: acc-1\nX-Profile: partner\nX-Type: couple"
--- request
POST /switch
--- response_headers_like
Set-Cookie: mp_profile=partner; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax
--- calls eval
sink_re(['/import', event_re('Switch Profile', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1","active_profile_id":"partner","previous_profile_id":"solo"')],
        ['/engage', engage_re('acc-1', '$set',
                              '"active_profile_id":"partner","profile_type":"couple"')])



=== TEST 15a: the profile cookie's flags: domain, path, max_age, samesite, secure, httponly, as the device cookie's
--- config
    location = /switch {
        mixpanel profile_switch;
        mixpanel_profile_cookie prof domain=example.com path=/app max_age=1h samesite=strict secure httponly;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; prof=solo\nX-Account: acc-1\nX-Profile: partner"
--- request
POST /switch
--- response_headers_like eval
"Set-Cookie: prof=partner; Domain=example.com; Path=/app; Max-Age=3600; Expires=[A-Z][a-z]{2}, \\d\\d-[A-Z][a-z]{2}-\\d\\d \\d\\d:\\d\\d:\\d\\d GMT; SameSite=Strict; Secure; HttpOnly\$"
--- calls eval
sink_re(['/import', event_re('Switch Profile', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1","active_profile_id":"partner","previous_profile_id":"solo"')],
        ['/engage', engage_re('acc-1', '$set', '"active_profile_id":"partner"')])



=== TEST 15b: the profile cookie's secure alone: Secure, and no HttpOnly
--- config
    location = /switch {
        mixpanel profile_switch;
        mixpanel_profile_cookie prof secure;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; prof=solo\nX-Account: acc-1\nX-Profile: partner"
--- request
POST /switch
--- response_headers_like eval
"Set-Cookie: ^prof=partner; Path=/; Max-Age=31536000; Expires=[^;]+ GMT; SameSite=Lax; Secure\$"



=== TEST 15c: the profile cookie's httponly alone: HttpOnly, and no Secure
--- config
    location = /switch {
        mixpanel profile_switch;
        mixpanel_profile_cookie prof httponly;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; prof=solo\nX-Account: acc-1\nX-Profile: partner"
--- request
POST /switch
--- response_headers_like eval
"Set-Cookie: ^prof=partner; Path=/; Max-Age=31536000; Expires=[^;]+ GMT; SameSite=Lax; HttpOnly\$"



=== TEST 16: later requests carry the profile from the cookie
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; mp_profile=partner\nX-Account: acc-1"
--- request
GET /t
--- calls eval
sink_re(['/import', event_re('API Request', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1","active_profile_id":"partner"')])



=== TEST 17: profile_update: the configured people operations, in order
--- config
    location = /profile {
        mixpanel profile_update;
        mixpanel_people_set age $http_x_age type=number;
        mixpanel_people_add updates 1;
        mixpanel_people_unset nickname;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1\nX-Age: 34"
--- request
PUT /profile
--- calls eval
sink_re(['/import', event_re('Update Profile', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"age":34'),
                    engage_re('acc-1', '$add', '"updates":1'),
                    engage_re('acc-1', '$unset', '"nickname"')])



=== TEST 17a: mixpanel_people_add from a variable: a negative number takes away, a fraction adds, a value that is no number is left out
--- config
    location = /profile {
        mixpanel profile_update;
        mixpanel_people_add credits $arg_c;
        mixpanel_people_add score $arg_s;
        mixpanel_people_add bad $arg_b;
        mixpanel_people_add fixed 3;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1"
--- request
PUT /profile?c=-2&s=0.5&b=1x
--- calls eval
sink_re(['/import', event_re('Update Profile', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$add',
                              '"credits":-2,"score":0\.5,"fixed":3')])



=== TEST 18: reset on a bound device: a new anonymous id, no event
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



=== TEST 19: reset on an anonymous device keeps it
--- config
    location = /signup-screen {
        mixpanel reset;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /signup-screen
--- response_headers
!Set-Cookie
--- calls eval
'^$'



=== TEST 19a: reset on a device bound to the account of the request keeps it: the same person is still here (rotating would add a device to the cluster at every visit)
--- config
    location = /signup-screen {
        mixpanel reset;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1"
--- request
GET /signup-screen
--- response_headers
!Set-Cookie
--- calls eval
'^$'



=== TEST 19b: reset on a device bound to another account than the request's rotates it
--- config
    location = /signup-screen {
        mixpanel reset;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-2"
--- request
GET /signup-screen
--- response_headers_like eval
"Set-Cookie: mp_device_id=(?!$::D1)$::UUID; Path=/; .*"
--- calls eval
'^$'



=== TEST 20: an unknown account: events as the device, never a people update
--- config
    location = /signup {
        mixpanel signup;
        mixpanel_people_set name someone;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: undefined"
--- request
POST /signup
--- calls eval
sink_re(['/import', event_re('Sign Up', $::D1, $::D1)])



=== TEST 21: opted out: nothing sent, no cookie
--- config
    location = /t {
        mixpanel track;
        mixpanel_opt_out $http_sec_gpc;
        return 200 "ok\n";
    }
--- more_headers
Sec-GPC: 1
X-Account: acc-1
--- request
GET /t
--- response_headers
!Set-Cookie
--- calls eval
'^$'



=== TEST 22: a malformed device cookie is replaced by a fresh id, which is not identified
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers
Cookie: mp_device_id=not-a-uuid
X-Account: acc-1
--- request
GET /t
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::UUID; Path=/; .*"
--- calls eval
sink_re(['/import', event_re('API Request', 'acc-1', $::UUID, undef,
                             ',"account_id":"acc-1"')])



=== TEST 22a: a device cookie of the right length but not the module's is replaced too: a UUIDv7, a binding tag in capitals, a tag after '-'; the module's own form, for comparison, is kept (and identified)
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
["Cookie: mp_device_id=0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\nX-Account: acc-1",
 "Cookie: mp_device_id=$::D1.ABCDEF012345\nX-Account: acc-1",
 "Cookie: mp_device_id=$::D1-$::T1\nX-Account: acc-1",
 "Cookie: mp_device_id=$::D2\nX-Account: acc-1"]
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- raw_response_headers_like eval
my $new = "Set-Cookie: mp_device_id=(?!$::D1|$::D2)$::UUID; Path=/; ";
[$new, $new, $new, "Set-Cookie: mp_device_id=$::D2\\.$::T1; Path=/; ",
 "", "", ""]
--- calls eval
my $new = "(?!$::D1|$::D2)$::UUID";
sink_re(['/import',
         event_re('API Request', 'acc-1', $new, undef, ',"account_id":"acc-1"'),
         event_re('API Request', 'acc-1', $new, undef, ',"account_id":"acc-1"'),
         event_re('API Request', 'acc-1', $new, undef, ',"account_id":"acc-1"'),
         identify_re('acc-1', $::D2),
         event_re('API Request', 'acc-1', $::D2, undef,
                  ',"account_id":"acc-1"')])



=== TEST 22b: a binding tag's hex digits at each edge (0 9 a f, in the tag of acc-215) are the module's, and the device bound to that account is kept; one character just past an edge (/ : ` g), anywhere in the tag, makes the cookie malformed and replaced
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
my @past = map { my $t = $::T1; substr($t, $_->[0], 1) = $_->[1]; $t }
               ([0, '/'], [4, ':'], [8, '`'], [11, 'g']);
["Cookie: mp_device_id=$::D1." . tag("acc-215") . "\nX-Account: acc-215",
 map { "Cookie: mp_device_id=$::D1.$_\nX-Account: acc-1" } @past]
--- request eval
[ ("GET /t") x 5 ]
--- response_headers eval
["!Set-Cookie", "", "", "", ""]
--- raw_response_headers_like eval
my $new = "Set-Cookie: mp_device_id=(?!$::D1)$::UUID; Path=/; ";
["", $new, $new, $new, $new, "", "", "", "", ""]
--- calls eval
my $new = "(?!$::D1)$::UUID";
sink_re(['/import',
         event_re('API Request', 'acc-215', $::D1, undef,
                  ',"account_id":"acc-215"'),
         (event_re('API Request', 'acc-1', $new, undef,
                   ',"account_id":"acc-1"')) x 4])



=== TEST 23: what the two blocks above log, at info
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers
Cookie: mp_device_id=not-a-uuid
X-Account: null
--- request
GET /t
--- error_log
malformed device cookie replaced
account id "null" is one Mixpanel bans, treated as unknown



=== TEST 24: cookie attributes
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_cookie did domain=example.com path=/app max_age=1h secure httponly samesite=strict;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers_like eval
"Set-Cookie: did=$::UUID; Domain=example.com; Path=/app; Max-Age=3600; Expires=[A-Z][a-z]{2}, \\d\\d-[A-Z][a-z]{2}-\\d\\d \\d\\d:\\d\\d:\\d\\d GMT; SameSite=Strict; Secure; HttpOnly"
--- calls eval
sink_re(['/import', event_re('API Request', $::UUID, $::UUID)])



=== TEST 24a: the device cookie's secure alone: Secure, and no HttpOnly
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_cookie did secure;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers_like eval
"Set-Cookie: ^did=$::UUID; Path=/; Max-Age=31536000; Expires=[^;]+ GMT; SameSite=Lax; Secure\$"
--- calls eval
sink_re(['/import', event_re('API Request', $::UUID, $::UUID)])



=== TEST 24b: the device cookie's httponly alone: HttpOnly, and no Secure
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_cookie did httponly;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers_like eval
"Set-Cookie: ^did=$::UUID; Path=/; Max-Age=31536000; Expires=[^;]+ GMT; SameSite=Lax; HttpOnly\$"
--- calls eval
sink_re(['/import', event_re('API Request', $::UUID, $::UUID)])



=== TEST 25: an internal redirect (try_files to a named location) is tracked once, by the first tracked location
--- config
    location = /t {
        mixpanel track;
        mixpanel_event "From T";
        try_files /nonexistent @app;
    }

    location @app {
        mixpanel track;
        mixpanel_event "From App";
        return 200 "app\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /t
--- response_body_like: ^app
--- calls eval
sink_re(['/import', event_re('From T', $::D1, $::D1)])



=== TEST 26: error_page to an untracked location keeps the login, and its status decides
--- config
    location = /login {
        mixpanel login;
        error_page 404 = @fallback;
        try_files /nonexistent =404;
    }

    location @fallback {
        return 200 "fallback\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1"
--- request
POST /login
--- response_body_like: ^fallback
--- calls eval
sink_re(['/import', event_re('Log In', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 27: a subrequest is not tracked again
--- config
    log_subrequest on;

    location = /t {
        mixpanel track;
        mirror /mirror;
        return 200 "ok\n";
    }

    location = /mirror {
        mixpanel track;
        mixpanel_event "Mirror";
        return 204;
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /t
--- calls eval
sink_re(['/import', event_re('API Request', $::D1, $::D1)])



=== TEST 27a: a subrequest logged before its main request (log_subrequest on: a mirror is logged when it ends, its main request when freed) does not make the event: the main request's URI and status
--- config
    log_subrequest on;

    location = /t {
        mixpanel track;
        mixpanel_property uri $uri;
        mixpanel_property status $status;
        mirror /mirror;
        return 200 "ok\n";
    }

    location = /mirror {
        mixpanel track;
        mixpanel_event "Mirror";
        mixpanel_property uri $uri;
        return 204;
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /t
--- calls eval
sink_re(['/import', event_re('API Request', $::D1, $::D1, undef,
                             ',"uri":"/t","status":"200"')])



=== TEST 28: HTTP/1.0 requests are tracked the same way
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /t HTTP/1.0
--- calls eval
sink_re(['/import', event_re('API Request', $::D1, $::D1)])



=== TEST 29: the variables, after the identity decisions of the response
--- config
    location = /login {
        mixpanel login;
        add_header X-Ids "$mixpanel_device_id $mixpanel_distinct_id $mixpanel_account_id $mixpanel_profile_id";
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T9\nX-Account: acc-1\nX-Profile: solo"
--- request
POST /login
--- response_headers_like eval
"X-Ids: (?!$::D1)$::UUID acc-1 acc-1 solo"
--- calls eval
'"event":"Log In"'



=== TEST 30: a variable read at the server level does not choose the action: the login location's decides (http "mixpanel track")
--- http_config
    mixpanel track;
--- config
    set $early $mixpanel_device_id;

    location = /login {
        mixpanel login;
        return 200 "ok $early\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1"
--- request
POST /login
--- response_body_like eval
"^ok $::D1\n\$"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 31: opted out: $mixpanel_device_id read before the header filter is empty, not NUL bytes; the same request without Sec-GPC sends its id
--- config
    location = /t {
        mixpanel track;
        mixpanel_opt_out $http_sec_gpc;
        proxy_set_header X-Device-Id $mixpanel_device_id;
        proxy_set_header Sec-GPC "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }

    location = /echo {
        mixpanel off;
        return 200 "[$http_x_device_id]\n";
    }
--- more_headers eval
["Sec-GPC: 1\nCookie: mp_device_id=$::D1", "Cookie: mp_device_id=$::D1"]
--- request eval
["GET /t", "GET /t"]
--- response_body_like eval
["^\\[\\]\n\$", "^\\[$::D1\\]\n\$"]
--- calls eval
sink_re(['/import', event_re('API Request', $::D1, $::D1)])



=== TEST 32: opted out at the http and server levels too
--- http_config
    mixpanel_opt_out $http_sec_gpc;
--- config
    location = /t {
        mixpanel track;
        return 200 "[$mixpanel_device_id]\n";
    }
--- more_headers eval
["Sec-GPC: 1\nCookie: mp_device_id=$::D1", "Cookie: mp_device_id=$::D1"]
--- request eval
["GET /t", "GET /t"]
--- response_body_like eval
["^\\[\\]\n\$", "^\\[$::D1\\]\n\$"]
--- calls eval
sink_re(['/import', event_re('API Request', $::D1, $::D1)])



=== TEST 33: a client id "$device:X" (an SDK's anonymous distinct_id) means D = X, upper case kept; anonymous events are "$device:X", the $identify's $anon_id too
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $http_x_device_id;
        return 200 "ok\n";
    }
--- more_headers eval
["X-Device-Id: \$device:$::UP",
 "X-Device-Id: \$device:$::UP\nX-Account: acc-1",
 "X-Device-Id: \$device:$::UP\nX-Account: acc-1"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie", "!Set-Cookie"]
--- calls eval
sink_re(['/import', event_re('API Request', '\$device:' . $::UP, $::UP),
         identify_re('acc-1', $::UP, '\$device:' . $::UP),
         event_re('API Request', 'acc-1', $::UP, undef,
                  ',"account_id":"acc-1"'),
         event_re('API Request', 'acc-1', $::UP, undef,
                  ',"account_id":"acc-1"')])



=== TEST 33a: the same, with the variables read: $mixpanel_distinct_id is the events' distinct_id, "$device:X" while anonymous (as the SDK's own), the account after; for a client id without "$device:", the id itself
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $http_x_device_id;
        add_header X-Ids "$mixpanel_device_id $mixpanel_distinct_id";
        return 200 "ok\n";
    }
--- more_headers eval
["X-Device-Id: \$device:$::UP",
 "X-Device-Id: \$device:$::UP\nX-Account: acc-1",
 "X-Device-Id: $::D1"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- response_headers eval
["X-Ids: $::UP \$device:$::UP", "X-Ids: $::UP acc-1", "X-Ids: $::D1 $::D1"]
--- calls eval
sink_re(['/import', event_re('API Request', '\$device:' . $::UP, $::UP),
         identify_re('acc-1', $::UP, '\$device:' . $::UP),
         event_re('API Request', 'acc-1', $::UP, undef,
                  ',"account_id":"acc-1"'),
         event_re('API Request', $::D1, $::D1)])



=== TEST 34: a client UUIDv4 in upper case is kept as it is (Mixpanel's ids are case-sensitive); a non-UUID one is still mapped
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $http_x_device_id;
        return 200 "ok\n";
    }
--- more_headers eval
["X-Device-Id: $::UP", "X-Device-Id: \$device:not-a-uuid"]
--- request eval
["GET /t", "GET /t"]
--- calls eval
my $m = mapped_device('$device:not-a-uuid');
sink_re(['/import', event_re('API Request', $::UP, $::UP),
         event_re('API Request', $m, $m)])



=== TEST 34a: which client ids are UUIDv4 (kept) and which are mapped: version 4 and variant 8, 9, a or b in any case are kept, and 0 9 a f A F in each part; another version (1, 5), variant (7, c), a letter past f, a dash out of place, and / : ` @ G in any part are mapped (the variable is the events' D: TEST 34)
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $http_x_device_id;
        return 200 "$mixpanel_device_id\n";
    }
--- request eval
[ ("GET /t") x @::Ids ]
--- more_headers eval
[ map { "X-Device-Id: $_" } @::Ids ]
--- response_body_like eval
[ map { "^" . ($::Kind[$_] eq "keep:" ? $::Ids[$_]
               : ::mapped_device($::Ids[$_])) . "\n\\z" } 0 .. $#::Ids ]



=== TEST 35: the mixpanel_status location and CORS preflights are never tracked nor given a cookie, under a server-level "mixpanel track"; a plain OPTIONS and a GET are
--- config
    mixpanel track;

    location = /status {
        mixpanel_status;
    }

    location /api/ {
        return 204;
    }
--- more_headers eval
["", "Origin: https://app.example\nAccess-Control-Request-Method: POST",
 "Origin: https://app.example", ""]
--- request eval
["GET /status", "OPTIONS /api/x", "OPTIONS /api/x", "GET /api/x"]
--- error_code eval
[200, 204, 204, 204]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie", "", ""]
--- raw_response_headers_like eval
["", "", "Set-Cookie: mp_device_id=$::UUID; .*", "Set-Cookie: mp_device_id=$::UUID; .*", "", "", ""]
--- calls eval
sink_re(['/import', event_re('API Request', $::UUID, $::UUID),
         event_re('API Request', $::UUID, $::UUID)])



=== TEST 35a: a browser's prefetches (Sec-Purpose, and the older Purpose, X-Moz and X-Purpose forms, X-Purpose's preview and prefetch) are not tracked nor given a cookie; a POST with Sec-Purpose (no prefetch is a POST), and a header that only looks alike (X-Moz: prefetched, X-Purpose: previewed, Sec-Purposes), are
--- config
    location /page {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
["Sec-Purpose: prefetch", "Sec-Purpose: prefetch;prerender",
 "Purpose: prefetch", "X-Moz: prefetch", "X-Purpose: preview",
 "X-Purpose: prefetch", "Sec-Purpose: prefetch", "X-Moz: prefetched",
 "Sec-Purposes: prefetch", "X-Purpose: previewed"]
--- request eval
["GET /page", "GET /page", "GET /page", "HEAD /page", "GET /page",
 "GET /page", "POST /page", "GET /page", "GET /page", "GET /page"]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie", "!Set-Cookie", "!Set-Cookie", "!Set-Cookie",
 "!Set-Cookie", "", "", "", ""]
--- raw_response_headers_like eval
["", "", "", "", "", "", "Set-Cookie: mp_device_id=$::UUID; .*",
 "Set-Cookie: mp_device_id=$::UUID; .*",
 "Set-Cookie: mp_device_id=$::UUID; .*",
 "Set-Cookie: mp_device_id=$::UUID; .*"]
--- calls eval
sink_re(['/import', map { event_re('API Request', $::UUID, $::UUID) } 1 .. 4])



=== TEST 35b: the same headers with their names in lower case (as HTTP/2 sends them) or upper case, and values in any case: not tracked, no cookie; the same requests without them are
--- config
    location /page {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
["origin: https://app.example\naccess-control-request-method: POST",
 "ACCESS-CONTROL-REQUEST-METHOD: PUT", "sec-purpose: prefetch",
 "SEC-PURPOSE: Prefetch", "purpose: PREFETCH", "x-moz: Prefetch",
 "x-purpose: PREVIEW", "origin: https://app.example", ""]
--- request eval
["OPTIONS /page", "OPTIONS /page", "GET /page", "GET /page", "GET /page",
 "GET /page", "GET /page", "OPTIONS /page", "GET /page"]
--- response_headers eval
[("!Set-Cookie") x 7, "", ""]
--- raw_response_headers_like eval
[("") x 7, "Set-Cookie: mp_device_id=$::UUID; .*",
 "Set-Cookie: mp_device_id=$::UUID; .*", "", "", ""]
--- calls eval
sink_re(['/import', map { event_re('API Request', $::UUID, $::UUID) } 1 .. 2])



=== TEST 35b1: a prefetch and a CORS preflight whose telling header comes after 24 others, or is the 20th to 22nd (Host and Connection come first; nginx keeps headers in parts of 20): still not tracked, no cookie; the same GET without it is
--- config
    location /page {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
my $pad = sub { join "", map { "X-Pad-$_: $_\n" } 1 .. $_[0] };
[(map { $pad->($_) . "Sec-Purpose: prefetch" } 17, 18, 19, 22),
 "Origin: https://app.example\n" . $pad->(22)
 . "Access-Control-Request-Method: POST",
 "Origin: https://app.example\n" . $pad->(17)
 . "Access-Control-Request-Method: POST",
 $pad->(22)]
--- request eval
[("GET /page") x 4, "OPTIONS /page", "OPTIONS /page", "GET /page"]
--- response_headers eval
[("!Set-Cookie") x 6, ""]
--- raw_response_headers_like eval
[("") x 6, "Set-Cookie: mp_device_id=$::UUID; .*", "", "", ""]
--- calls eval
sink_re(['/import', event_re('API Request', $::UUID, $::UUID)])



=== TEST 35c: a switch to a profile whose id is a prefix of the active one ("p-1" after "p-12"): the profile cookie changes, the switch names both
--- config
    location = /switch {
        mixpanel profile_switch;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; mp_profile=p-12\nX-Account: acc-1\nX-Profile: p-1"
--- request
POST /switch
--- response_headers_like eval
"Set-Cookie: mp_profile=p-1; Path=/; .*"
--- calls eval
sink_re(['/import', event_re('Switch Profile', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1","active_profile_id":"p-1","previous_profile_id":"p-12"')],
        ['/engage', engage_re('acc-1', '$set', '"active_profile_id":"p-1"')])



=== TEST 36: a publicly cacheable response (Cache-Control public or s-maxage from the upstream) gets no cookie, and no rotation; a private one does
--- config
    location /api/ {
        mixpanel login;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }

    location /backend/ {
        mixpanel off;
        add_header Cache-Control $arg_cc;
        return 200 "ok\n";
    }
--- more_headers eval
["X-Account: acc-1",
 "Cookie: mp_device_id=$::D1.$::T9\nX-Account: acc-1",
 "X-Account: acc-1"]
--- request eval
["POST /api/login?cc=public,max-age=60", "POST /api/login?cc=max-age=0,S-MAXAGE=60",
 "POST /api/login?cc=private,max-age=60"]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie", ""]
--- raw_response_headers_like eval
["", "", "Set-Cookie: mp_device_id=$::UUID" . "_$::T1" . "; .*", "", "", ""]
--- calls eval
sink_re(['/import',
         event_re('Log In', 'acc-1', $::UUID, undef, ',"account_id":"acc-1"'),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"'),
         event_re('Log In', 'acc-1', $::UUID, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"'),
                    engage_re('acc-1', '$set', '"account_id":"acc-1"'),
                    engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 36b: two Cache-Control headers from the upstream, "public" in the second: no cookie; neither public: a cookie
--- config
    location /api/ {
        mixpanel login;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }

    location /backend/ {
        mixpanel off;
        add_header Cache-Control $arg_a;
        add_header Cache-Control $arg_b;
        return 200 "ok\n";
    }
--- more_headers eval
["X-Account: acc-1", "X-Account: acc-1", "X-Account: acc-1"]
--- request eval
["POST /api/login?a=max-age=60&b=public", "POST /api/login?a=max-age=60&b=s-maxage=60",
 "POST /api/login?a=max-age=60&b=must-revalidate"]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie", ""]
--- raw_response_headers_like eval
["", "", "Set-Cookie: mp_device_id=$::UUID" . "_$::T1" . "; .*", "", "", ""]
--- calls eval
sink_re(['/import',
         map { event_re('Log In', 'acc-1', $::UUID, undef,
                        ',"account_id":"acc-1"') } 1 .. 3],
        ['/engage', map { engage_re('acc-1', '$set', '"account_id":"acc-1"')
                        } 1 .. 3])



=== TEST 36a: what the block above logs for the bound device, at info
--- config
    location /api/ {
        mixpanel login;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }

    location /backend/ {
        mixpanel off;
        add_header Cache-Control $arg_cc;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T9\nX-Account: acc-1"
--- request
POST /api/login?cc=public
--- error_log
the device id is bound to another account and is not identified with this one; it cannot be rotated: the response is cacheable by shared caches



=== TEST 36g: a device id the client sends in mixpanel_device_id, bound to another account: the info line says so, where a device cookie is set (round 30: the reason read as "no cookie can be set any more") and where none is
--- config
    location = /hlogin {
        mixpanel login;
        mixpanel_device_id $http_x_device_id;
        return 200 "ok\n";
    }

    location = /hlogin-nc {
        mixpanel login;
        mixpanel_device_id $http_x_device_id;
        mixpanel_device_cookie off;
        return 200 "ok\n";
    }

    location = /errlog {
        mixpanel off;
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/error.log;
    }
--- more_headers eval
["X-Device-Id: $::D1\nX-Account: acc-1", "X-Device-Id: $::D1\nX-Account: acc-2",
 "X-Device-Id: $::D2\nX-Account: acc-1", "X-Device-Id: $::D2\nX-Account: acc-2",
 ""]
--- request eval
["POST /hlogin", "POST /hlogin", "POST /hlogin-nc", "POST /hlogin-nc",
 "GET /errlog"]
--- response_body_filters eval
sub { join "", map { "$_\n" } $_[0] =~ /it cannot be rotated: ([^,\n]*)/g }
--- response_body eval
["", "", "", "",
 "the client sends it in mixpanel_device_id\n" x 2]



=== TEST 36c: Cache-Control's directives in any case (RFC 9111 5.2): "Public", "PUBLIC", "s-MaxAge" get no cookie; "Private" does
--- config
    location /api/ {
        mixpanel login;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }

    location /backend/ {
        mixpanel off;
        add_header Cache-Control $arg_cc;
        return 200 "ok\n";
    }
--- more_headers eval
[("X-Account: acc-1") x 4]
--- request eval
["POST /api/login?cc=Public,max-age=300", "POST /api/login?cc=max-age=60,PUBLIC",
 "POST /api/login?cc=s-MaxAge=60", "POST /api/login?cc=Private,max-age=60"]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie", "!Set-Cookie", ""]
--- raw_response_headers_like eval
["", "", "", "Set-Cookie: mp_device_id=$::UUID" . "_$::T1" . "; .*", "", "", ""]
--- calls eval
sink_re(['/import',
         map { event_re('Log In', 'acc-1', $::UUID, undef,
                        ',"account_id":"acc-1"') } 1 .. 4],
        ['/engage', map { engage_re('acc-1', '$set', '"account_id":"acc-1"')
                        } 1 .. 4])



=== TEST 36d: Cache-Control read directive by directive (RFC 9111 5.2): "public" or "s-maxage" inside a quoted value or another directive's name is not one: the response gets its cookie
--- http_config
    map $arg_cc $cc {
        1 'private, no-cache="X-Public-Key"';
        2 'max-age=60, x-public=1';
        3 'private="x\\", public, y"';
        4 'max-age=60, x-s-maxage=60';
    }
--- config
    location /api/ {
        mixpanel login;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }

    location /backend/ {
        mixpanel off;
        add_header Cache-Control $cc;
        return 200 "ok\n";
    }
--- more_headers eval
[("X-Account: acc-1") x 4]
--- request eval
[map { "POST /api/login?cc=$_" } 1 .. 4]
--- raw_response_headers_like eval
[("Set-Cookie: mp_device_id=$::UUID" . "_$::T1" . "; ") x 4, ("") x 3]
--- raw_response_headers_unlike eval
[("X-No-Such-Header") x 7]
--- calls eval
sink_re(['/import',
         map { event_re('Log In', 'acc-1', $::UUID, undef,
                        ',"account_id":"acc-1"') } 1 .. 4],
        ['/engage', map { engage_re('acc-1', '$set', '"account_id":"acc-1"')
                        } 1 .. 4])



=== TEST 36e: the same words as directives, after a quoted value, after spaces, or after a quote never closed (as caches that split at commas read it), get no cookie
--- http_config
    map $arg_cc $cc {
        1 'no-cache="a, b", public';
        2 'no-cache="Set-Cookie", s-maxage=5';
        3 'max-age=0 , foo="bar, Public';
    }
--- config
    location /api/ {
        mixpanel login;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }

    location /backend/ {
        mixpanel off;
        add_header Cache-Control $cc;
        return 200 "ok\n";
    }
--- more_headers eval
[("X-Account: acc-1") x 3]
--- request eval
[map { "POST /api/login?cc=$_" } 1 .. 3]
--- raw_response_headers_like eval
[("") x 6]
--- raw_response_headers_unlike eval
[("Set-Cookie: mp_") x 3, ("X-No-Such-Header") x 3]
--- calls eval
sink_re(['/import',
         map { event_re('Log In', 'acc-1', $::UUID, undef,
                        ',"account_id":"acc-1"') } 1 .. 3],
        ['/engage', map { engage_re('acc-1', '$set', '"account_id":"acc-1"')
                        } 1 .. 3])




=== TEST 36f: tabs where Cache-Control allows spaces: before a directive, after its name, on either side of "=": "public" after a tab gets no cookie, a quoted value after a tab is still skipped whole, with the "public" after a comma inside it
--- http_config
    map $arg_cc $cc {
        1 'max-age=60,	public';
        2 'public	, max-age=60';
        3 'private	="a, public", max-age=0';
        4 'private=	"a, public", max-age=0';
        5 'private	="a,public,b", max-age=0';
        6 'private=	"a,public,b", max-age=0';
    }
--- config
    location /api/ {
        mixpanel login;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }

    location /backend/ {
        mixpanel off;
        add_header Cache-Control $cc;
        return 200 "ok\n";
    }
--- more_headers eval
[("X-Account: acc-1") x 6]
--- request eval
[map { "POST /api/login?cc=$_" } 1 .. 6]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie", "", "", "", ""]
--- raw_response_headers_like eval
["", "", ("Set-Cookie: mp_device_id=$::UUID" . "_$::T1" . "; ") x 4]
--- calls eval
sink_re(['/import',
         map { event_re('Log In', 'acc-1', $::UUID, undef,
                        ',"account_id":"acc-1"') } 1 .. 6],
        ['/engage', map { engage_re('acc-1', '$set', '"account_id":"acc-1"')
                        } 1 .. 6])


=== TEST 37: a login the client never sees (444, "if=" forcing it): nothing rotates, no new id is identified
--- config
    location = /front {
        mixpanel off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/login;
    }

    location = /login {
        mixpanel login if=1;
        return 444;
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T9\nX-Account: acc-1"
--- request
GET /front
--- error_code: 502
--- calls eval
sink_re(['/import',
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 38: a login whose account id evaluated empty is logged, once a minute per worker: two logins (one mirrored), one line
--- config
    location = /front {
        mixpanel off;
        mirror /mirror;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/login;
    }

    location = /mirror {
        internal;
        mixpanel off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/login;
    }

    location = /login {
        mixpanel login;
        mixpanel_account_id $http_x_none;
        return 200 "ok\n";
    }
--- request
POST /front
--- grep_error_log eval
qr/mixpanel: "login" in location "\/login" had no account id \("mixpanel_account_id" evaluated empty\)|mixpanel: "login" in location "\/login" had no account id/
--- grep_error_log_out
mixpanel: "login" in location "/login" had no account id ("mixpanel_account_id" evaluated empty)



=== TEST 38b: the warning is once a minute per location: a login of another location in the same minute logs its own line, and a switch with no profile id logs one of its own (the switch names the profile the cookie remembers); a switch with its profile id logs nothing
--- config
    location = /front {
        mixpanel off;
        mirror /mirror;
        mirror /switch;
        mirror /switch-ok;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/login;
    }

    location = /mirror {
        internal;
        mixpanel off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/login2;
    }

    location = /switch {
        internal;
        mixpanel off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/switch-to;
    }

    location = /switch-ok {
        internal;
        mixpanel off;
        proxy_set_header X-Profile partner;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/switch-to-ok;
    }

    location = /login {
        mixpanel login;
        mixpanel_account_id $http_x_none;
        return 200 "ok\n";
    }

    location = /login2 {
        mixpanel login;
        mixpanel_account_id $http_x_none;
        return 200 "ok\n";
    }

    location = /switch-to {
        mixpanel profile_switch;
        mixpanel_profile_id $http_x_none;
        return 200 "ok\n";
    }

    location = /switch-to-ok {
        mixpanel profile_switch;
        mixpanel_profile_id $http_x_profile;
        return 200 "ok\n";
    }
--- request
POST /front
--- wait: 0.5
--- grep_error_log eval
qr/mixpanel: "\w+" in location "[^"]+" had no (?:account|profile) id \("mixpanel_\w+_id" evaluated empty\)/
--- grep_error_log_out eval
qr/\A(?=.*^mixpanel: "login" in location "\/login" had no account id \("mixpanel_account_id" evaluated empty\)$)(?=.*^mixpanel: "login" in location "\/login2" had no account id \("mixpanel_account_id" evaluated empty\)$)(?=.*^mixpanel: "profile_switch" in location "\/switch-to" had no profile id \("mixpanel_profile_id" evaluated empty\)$)(?:[^\n]*\n){3}\z/ms



=== TEST 38a: the two logins of the block above were sent, anonymous
--- config
    location = /front {
        mixpanel off;
        mirror /mirror;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/login;
    }

    location = /mirror {
        internal;
        mixpanel off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/login;
    }

    location = /login {
        mixpanel login;
        mixpanel_account_id $http_x_none;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
POST /front
--- calls eval
sink_re(['/import', event_re('Log In', $::D1, $::D1),
         event_re('Log In', $::D1, $::D1)])



=== TEST 39: device cookie max_age: 400 days is the most, one second past it is refused at nginx -t
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_cookie did max_age=34560001s;
        return 200 "ok\n";
    }
--- must_die
--- error_log
invalid "max_age=34560001s" of "mixpanel_device_cookie", it must be a time from 1s to 400d, the longest browsers keep a cookie



=== TEST 40: device cookie max_age of exactly 400 days
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_cookie did max_age=400d;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers_like eval
"Set-Cookie: did=$::UUID; Path=/; Max-Age=34560000; Expires=[A-Z][a-z]{2}, \\d\\d-[A-Z][a-z]{2}-\\d\\d \\d\\d:\\d\\d:\\d\\d GMT; SameSite=Lax"
--- calls eval
sink_re(['/import', event_re('API Request', $::UUID, $::UUID)])



=== TEST 40a: device cookie max_age=0 (a cookie the browser drops at once: every request a new device) is refused at nginx -t
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_cookie did max_age=0;
        return 200 "ok\n";
    }
--- must_die
--- error_log
invalid "max_age=0" of "mixpanel_device_cookie", it must be a time from 1s to 400d, the longest browsers keep a cookie



=== TEST 40b: device cookie max_age of one second, the least
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_cookie did max_age=1s;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers_like eval
"Set-Cookie: did=$::UUID; Path=/; Max-Age=1; Expires=[A-Z][a-z]{2}, \\d\\d-[A-Z][a-z]{2}-\\d\\d \\d\\d:\\d\\d:\\d\\d GMT; SameSite=Lax"
--- calls eval
sink_re(['/import', event_re('API Request', $::UUID, $::UUID)])



=== TEST 41: the 98,000-year max_age that wrote past the cookie buffer is refused
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_cookie did max_age=98000y;
        return 200 "ok\n";
    }
--- must_die
--- error_log
invalid "max_age=98000y" of "mixpanel_device_cookie"



=== TEST 42: the troubleshooting log format and an if in the location change nothing: login with a body account still identifies (see t/056 for every reader)
--- http_config
    mixpanel_json_set $login_account response /account/id;
    log_format mixpanel '$remote_addr "$request" $status '
                        'device=$mixpanel_device_id account=$mixpanel_account_id '
                        'profile=$mixpanel_profile_id distinct=$mixpanel_distinct_id';
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $login_account;
        access_log logs/ids.log mixpanel;
        if ($mixpanel_account_id = "never") {
            return 418;
        }
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-1"}}';
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
POST /login
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 43: crawlers on the JavaScript SDK's list are not tracked and get no cookie (mixpanel_track_bots off, the default); a browser is
--- skip_eval: 9: system("grep -q 'TODO(ua)' ngx_mixpanel_module/ngx_http_mixpanel_ua.c") == 0
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
["User-Agent: Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
 "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\nCookie: mp_device_id=$::D1"]
--- request eval
["GET /t", "GET /t"]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie"]
--- calls eval
sink_re(['/import', event_re('API Request', $::D1, $::D1)])



=== TEST 44: mixpanel_track_bots on, at the http, server and location levels, tracks them
--- http_config
    mixpanel_track_bots off;
--- config
    mixpanel_track_bots on;

    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_track_bots on;
        return 200 "ok\n";
    }
--- more_headers eval
"User-Agent: Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)\nCookie: mp_device_id=$::D1"
--- request eval
["GET /t", "GET /l"]
--- calls eval
sink_re(['/import', event_re('API Request', $::D1, $::D1),
         event_re('API Request', $::D1, $::D1)])



=== TEST 45: mixpanel_track_bots on at the http level
--- http_config
    mixpanel_track_bots on;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
"User-Agent: Mozilla/5.0 (compatible; bingbot/2.0)\nCookie: mp_device_id=$::D1"
--- request
GET /t
--- calls eval
sink_re(['/import', event_re('API Request', $::D1, $::D1)])



=== TEST 46: mixpanel_cookie_secret shorter than 16 characters is refused, without quoting it
--- http_config
    mixpanel_cookie_secret short-key;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- must_die
--- error_log
"mixpanel_cookie_secret" must be at least 16 characters long (9 given); a short key lets the account ids in cookies be guessed
--- no_error_log
short-key



=== TEST 46a: mixpanel_cookie_secret of 15 characters, one short, is refused
--- http_config
    mixpanel_cookie_secret 0123456789abcde;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- must_die
--- error_log
"mixpanel_cookie_secret" must be at least 16 characters long (15 given); a short key lets the account ids in cookies be guessed



=== TEST 47: mixpanel_cookie_secret of exactly 16 characters keys the tag
--- http_config
    mixpanel_cookie_secret 0123456789abcdef;
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
"Set-Cookie: mp_device_id=$::D1." . tag("acc-1", "tok", "0123456789abcdef") . "; .*"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('API Request', 'acc-1', $::D1, undef,
                  ',"account_id":"acc-1"')])



=== TEST 48: mixpanel_cookie_secret twice
--- http_config
    mixpanel_cookie_secret 0123456789abcdef0123;
    mixpanel_cookie_secret 0123456789abcdef0124;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- must_die
--- error_log
"mixpanel_cookie_secret" directive is duplicate



=== TEST 49: mixpanel_cookie_secret belongs to the http block
--- config
    mixpanel_cookie_secret 0123456789abcdef0123;

    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- must_die
--- error_log
"mixpanel_cookie_secret" directive is not allowed here



=== TEST 50: an account id that is not valid UTF-8 is unknown (U+FFFD for each bad byte would make two accounts one distinct_id); the same bytes valid are an account
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
["Cookie: mp_device_id=$::D1\nX-Account: " . ("\xe9" x 90) . "alice",
 "Cookie: mp_device_id=$::D1\nX-Account: " . ("\xe9" x 90) . "bob",
 "Cookie: mp_device_id=$::D1\nX-Account: " . ("\xc3\xa9" x 90) . "carol"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- calls eval
my $carol = ("\xc3\xa9" x 90) . "carol";
sink_re(['/import', event_re('API Request', $::D1, $::D1),
                    event_re('API Request', $::D1, $::D1),
                    identify_re($carol, $::D1),
                    event_re('API Request', $carol, $::D1,
                             undef, ',"account_id":"' . $carol . '"')])



=== TEST 50a: what the block above logs, at info
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- more_headers eval
"X-Account: " . ("\xe9" x 90) . "alice"
--- request
GET /t
--- error_log
mixpanel: account id of 95 bytes ignored, it is not valid UTF-8



=== TEST 51: a token that evaluates empty (a host of no project): nothing sent and no cookie; the same request with a token: its event and the cookie
--- config
    location = /t {
        mixpanel track;
        mixpanel_token $arg_tok;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t?tok=tok"]
--- response_headers eval
["Set-Cookie:", ""]
--- raw_response_headers_like eval
["", "Set-Cookie: mp_device_id=$::UUID; Path=/; .*", "", "", ""]
--- calls eval
sink_re(['/import', event_re('API Request', $::UUID, $::UUID)])



=== TEST 52: a second person's login on a device bound to the first: the first's active profile (its cookie) is neither the new account's nor kept; the same login by the first account keeps it
--- config
    location = /login {
        mixpanel login;
        return 200 "ok\n";
    }
--- more_headers eval
["Cookie: mp_device_id=$::D1.$::T9; mp_profile=partner-of-9\nX-Account: acc-1",
 "Cookie: mp_device_id=$::D2.$::T9; mp_profile=partner-of-9\nX-Account: acc-9"]
--- request eval
["POST /login", "POST /login"]
--- raw_response_headers_like eval
["Set-Cookie: mp_device_id=(?!$::D1)$::UUID\\_$::T1; [^\\r]*\\r\\nSet-Cookie: mp_profile=; Path=/; Max-Age=0; ", "", "", "", ""]
--- raw_response_headers_unlike eval
["X-No-Such-Header", "Set-Cookie: mp_profile", "X-No-Such-Header",
 "X-No-Such-Header", "X-No-Such-Header"]
--- calls eval
my $new = "(?!$::D1)$::UUID";
sink_re(['/import',
         event_re('Log In', 'acc-1', $new, undef, ',"account_id":"acc-1"'),
         event_re('Log In', 'acc-9', $::D2, undef,
                  ',"account_id":"acc-9","active_profile_id":"partner-of-9"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"'),
                    engage_re('acc-9', '$set', '"account_id":"acc-9","active_profile_id":"partner-of-9"')])



=== TEST 52a: the same second person's login naming its own profile: that profile is the login's, its $set's and the cookie's (round 11's slipped bug dropped it, and the first's profile stayed in the cookie); the first account's login naming a profile, for comparison
--- config
    location = /login {
        mixpanel login;
        return 200 "ok\n";
    }
--- more_headers eval
["Cookie: mp_device_id=$::D1.$::T9; mp_profile=partner-of-9\nX-Account: acc-1\nX-Profile: solo-of-1",
 "Cookie: mp_device_id=$::D2.$::T9; mp_profile=partner-of-9\nX-Account: acc-9\nX-Profile: solo-of-9"]
--- request eval
["POST /login", "POST /login"]
--- raw_response_headers_like eval
["Set-Cookie: mp_device_id=(?!$::D1)$::UUID\\_$::T1; [^\\r]*\\r\\nSet-Cookie: mp_profile=solo-of-1; Path=/; Max-Age=31536000; ",
 "Set-Cookie: mp_profile=solo-of-9; Path=/; Max-Age=31536000; ", "", "", ""]
--- raw_response_headers_unlike eval
["Set-Cookie: mp_profile=;", "Set-Cookie: mp_device_id", "X-No-Such-Header",
 "X-No-Such-Header", "X-No-Such-Header"]
--- calls eval
my $new = "(?!$::D1)$::UUID";
sink_re(['/import',
         event_re('Log In', 'acc-1', $new, undef,
                  ',"account_id":"acc-1","active_profile_id":"solo-of-1"'),
         event_re('Log In', 'acc-9', $::D2, undef,
                  ',"account_id":"acc-9","active_profile_id":"solo-of-9"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1","active_profile_id":"solo-of-1"'),
                    engage_re('acc-9', '$set', '"account_id":"acc-9","active_profile_id":"solo-of-9"')])



=== TEST 53: logout with mixpanel_logout_reset on and a device id from the client: not rotated (no cookie would hold a new one); kept, it is bound to the account as any request of it binds it
--- config
    location = /logout {
        mixpanel logout;
        mixpanel_logout_reset on;
        mixpanel_device_id $http_x_device_id;
        return 200 "ok\n";
    }
--- more_headers eval
"X-Device-Id: $::D1\nX-Account: acc-1"
--- request
POST /logout
--- response_headers
!Set-Cookie
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log Out', 'acc-1', $::D1, undef,
                  ',"account_id":"acc-1"')])



=== TEST 53a: what the block above logs, at info, exactly (no error number)
--- config
    location = /logout {
        mixpanel logout;
        mixpanel_logout_reset on;
        mixpanel_device_id $http_x_device_id;
        return 200 "ok\n";
    }
--- more_headers eval
"X-Device-Id: $::D1\nX-Account: acc-1"
--- request
POST /logout
--- error_log eval
qr/\[info\] .*mixpanel: the device id comes from the client's mixpanel_device_id, not a cookie, so it is not rotated, client: 127\.0\.0\.1, /



=== TEST 54: a full zone (32k, the least) makes room for new bindings by dropping the least recently used, and nginx's allocator logs none of its failures
150 devices, each bound to its account, in a zone that holds about 100.
--- http_config
    mixpanel_zone 32k;
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $http_x_device_id;
        return 200 "ok\n";
    }
--- request eval
[ map { "GET /t" } 1 .. 150 ]
--- more_headers eval
[ map { "X-Device-Id: dev-$_\nX-Account: acc-$_" } 1 .. 150 ]
--- response_body eval
[ ("ok\n") x 150 ]
--- no_error_log
[crit]
no memory
zone is full



=== TEST 55: a login from a browser: its profile's $set carries the browser's $browser, $browser_version and $os, as the SDK's people.set() does ($device stays the event's); an app's User-Agent that names no platform (okhttp) none; mixpanel_user_agent_properties off: none
--- config
    location = /login {
        mixpanel login;
        mixpanel_user_agent_properties on;
        return 200 "ok\n";
    }

    location = /login-off {
        mixpanel login;
        mixpanel_user_agent_properties off;
        return 200 "ok\n";
    }
--- more_headers eval
["Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1\nUser-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
 "Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1\nUser-Agent: okhttp/4.12.0",
 "Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1\nUser-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"]
--- request eval
["POST /login", "POST /login", "POST /login-off"]
--- calls eval
my $ua = ',"\$browser":"Mobile Safari","\$browser_version":17\.2,"\$os":"iOS","\$device":"iPhone"';
sink_re(['/import',
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"' . $ua),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"'),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage',
         engage_re('acc-1', '$set', '"account_id":"acc-1","\$browser":"Mobile Safari","\$browser_version":17\.2,"\$os":"iOS"'),
         engage_re('acc-1', '$set', '"account_id":"acc-1"'),
         engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 55a: the client's $browser, $browser_version and $os go in $set only: not in $set_once, $add (whose values must be numbers: Mixpanel would refuse the update) or $unset of the same request
--- config
    location = /profile {
        mixpanel profile_update;
        mixpanel_user_agent_properties on;
        mixpanel_people_set_once first_seen web;
        mixpanel_people_set age $http_x_age type=number;
        mixpanel_people_add updates 1;
        mixpanel_people_unset nickname;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1\nX-Account: acc-1\nX-Age: 34\nUser-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
--- request
PUT /profile
--- calls eval
my $ua = ',"\$browser":"Mobile Safari","\$browser_version":17\.2,"\$os":"iOS"';
sink_re(['/import', event_re('Update Profile', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1"' . $ua
                             . ',"\$device":"iPhone"')],
        ['/engage', engage_re('acc-1', '$set_once', '"first_seen":"web"'),
                    engage_re('acc-1', '$set', '"age":34' . $ua),
                    engage_re('acc-1', '$add', '"updates":1'),
                    engage_re('acc-1', '$unset', '"nickname"')])
