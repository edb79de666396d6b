# Response-body accounts are first-class (SPEC section 4): a signup or
# login whose account comes from the response body holds the response
# header until the body is read, then decides rotation, binding and
# cookies on the full response.  Bodies from memory, static files,
# proxy_cache hits and temporary files; the size limit; what is never
# held.  Bodies pass byte for byte.

use Test::Nginx::Socket 'no_plan';
use t::Mixpanel;

our ($T1, $T2, $T9) = (tag("acc-1"), tag("acc-2"), tag("acc-9"));

# about 40 KB, the account last: it spans many buffers
our $BIG = '{"filler":[' . join(',', map { qq("item-$_-) . 'x' x 20 . '"' }
                                       1 .. 1400)
           . '],"account":{"id":"acc-1"}}';

add_block_preprocessor(sub {
    my $block = shift;

    # sendfile on (Debian's default): file buffers reach the filters as
    # files unless a filter asks for them in memory
    $block->set_value("http_config", <<'_EOC_' . ($block->http_config // ""));
    sendfile on;
    mixpanel_json_set $body_account response /account/id;
    mixpanel_json_set $body_profile response /profile/id;
_EOC_
});

use_sink("original");
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a login with the account in the body: the header waits, the cookie of this response is bound
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
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
--- response_body_like chomp
^\{"account":\{"id":"acc-1"\}\}$
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])
--- no_error_log
[error]
[alert]



=== TEST 2: Ana, then Ben, log in on one browser: Ben's login response rotates the device bound to Ana, the new cookie pending for Ben
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend$is_args$args;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"account":{"id":"$arg_acc"}}';
    }
--- more_headers eval
["Cookie: mp_device_id=$::D1",
 "Cookie: mp_device_id=$::D1." . tag("acc-ana")]
--- request eval
["POST /login?acc=acc-ana", "POST /login?acc=acc-ben"]
--- response_headers_like eval
["Set-Cookie: mp_device_id=$::D1." . tag("acc-ana") . "; .*",
 "Set-Cookie: mp_device_id=(?!$::D1)$::UUID" . "_" . tag("acc-ben") . "; .*"]
--- calls eval
sink_re(['/import', identify_re('acc-ana', $::D1),
         event_re('Log In', 'acc-ana', $::D1, undef,
                  ',"account_id":"acc-ana"'),
         event_re('Log In', 'acc-ben', "(?!$::D1)$::UUID", undef,
                  ',"account_id":"acc-ben"')],
        ['/engage', engage_re('acc-ana', '$set', '"account_id":"acc-ana"'),
                    engage_re('acc-ben', '$set', '"account_id":"acc-ben"')])
--- no_error_log
cannot be rotated



=== TEST 3: a signup with account and profile in the body; the profile reaches the event and the profile update
--- config
    location = /signup {
        mixpanel signup;
        mixpanel_account_id $body_account;
        mixpanel_profile_id $body_profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-1"},"profile":{"id":"solo"}}';
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T9"
--- request
POST /signup
--- response_headers_like eval
"Set-Cookie: mp_device_id=(?!$::D1)$::UUID" . "_$::T1; .*"
--- calls eval
sink_re(['/import', event_re('Sign Up', 'acc-1', "(?!$::D1)$::UUID", undef,
                             ',"account_id":"acc-1","active_profile_id":"solo"')],
        ['/engage',
         engage_re('acc-1', '$set_once', '"\$created":"[0-9T:-]{19}"'),
         engage_re('acc-1', '$set', '"account_id":"acc-1","active_profile_id":"solo"')])



=== TEST 3b: the signup's profile, known from the body, is remembered in the profile cookie, so that the first switch has a previous profile
--- config
    location = /signup {
        mixpanel signup;
        mixpanel_account_id $body_account;
        mixpanel_profile_id $body_profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-1"},"profile":{"id":"solo"}}';
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
POST /signup
--- raw_response_headers_like eval
["Set-Cookie: mp_device_id=$::D1.$::T1; .*\r\nSet-Cookie: mp_profile=solo; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax\r\n",
 "", "", ""]
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
                    event_re('Sign Up', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1","active_profile_id":"solo"')],
        ['/engage',
         engage_re('acc-1', '$set_once', '"\$created":"[0-9T:-]{19}"'),
         engage_re('acc-1', '$set', '"account_id":"acc-1","active_profile_id":"solo"')])



=== TEST 3c: a login whose profile is the one in the cookie already: no profile cookie set again
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        mixpanel_profile_id $body_profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-1"},"profile":{"id":"solo"}}';
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; mp_profile=solo"
--- request
POST /login
--- raw_response_headers_unlike eval
["Set-Cookie: mp_profile", "Set-Cookie: mp_profile", "Set-Cookie: mp_profile",
 "Set-Cookie: mp_profile"]
--- calls eval
sink_re(['/import', event_re('Log In', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1","active_profile_id":"solo"')],
        ['/engage',
         engage_re('acc-1', '$set', '"account_id":"acc-1","active_profile_id":"solo"')])



=== TEST 4: a profile switch with the profile in the body: the profile cookie is on this response
--- config
    location = /switch {
        mixpanel profile_switch;
        mixpanel_account_id $http_x_account;
        mixpanel_profile_id $body_profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"profile":{"id":"partner"}}';
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1; mp_profile=solo\nX-Account: acc-1"
--- request
POST /switch
--- response_headers_like
Set-Cookie: mp_profile=partner; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax
--- calls eval
sink_re(['/import', event_re('Switch Profile', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1","active_profile_id":"partner","previous_profile_id":"solo"')],
        ['/engage', engage_re('acc-1', '$set', '"active_profile_id":"partner"')])



=== TEST 5: a static file as the login response (file buffers are read into memory for the copy)
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        default_type application/json;
        alias $TEST_NGINX_SERVER_ROOT/html/login.json;
    }
--- user_files
>>> login.json
{"account":{"id":"acc-1"}}
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /login
--- response_body_like chomp
^\{"account":\{"id":"acc-1"\}\}$
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 6: proxy_cache: the first login's body comes back from the temporary file the cache writes, the second's from the cache file; both are read
--- http_config
    proxy_cache_path $TEST_NGINX_SERVER_ROOT/cache keys_zone=login:1m;
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        proxy_cache login;
        proxy_cache_valid 200 1h;
        proxy_cache_methods GET;
        add_header X-Cache $upstream_cache_status;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-1"}}';
    }
--- more_headers eval
["Cookie: mp_device_id=$::D1", "Cookie: mp_device_id=$::D2"]
--- request eval
["GET /login", "GET /login"]
--- response_headers_like eval
["X-Cache: MISS\nSet-Cookie: mp_device_id=$::D1.$::T1; .*",
 "X-Cache: HIT\nSet-Cookie: mp_device_id=$::D2.$::T1; .*"]
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"'),
         identify_re('acc-1', $::D2),
         event_re('Log In', 'acc-1', $::D2, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"'),
                    engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 7: a 40 KB upstream answer through small proxy buffers passes byte for byte and is read
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        proxy_buffer_size 1k;
        proxy_buffers 2 1k;
        proxy_busy_buffers_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        alias $TEST_NGINX_SERVER_ROOT/html/big.json;
    }
--- user_files eval
">>> big.json\n$::BIG"
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /login
--- response_body_like eval
"^" . quotemeta($::BIG) . "\$"
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])
--- no_error_log
[alert]



=== TEST 9: a body over mixpanel_json_max_size while held (no Content-Length): the held part and the rest pass whole, in order; nothing is bound
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        mixpanel_json_max_size 16k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        ssi on;
        ssi_types application/json;
        root $TEST_NGINX_SERVER_ROOT/html;
        rewrite ^ /big.json break;
    }
--- user_files eval
">>> big.json\n$::BIG"
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /login
--- response_body_like eval
"^" . quotemeta($::BIG) . "\$"
--- response_headers
!Set-Cookie
--- calls eval
sink_re(['/import', event_re('Log In', $::D1, $::D1)])



=== TEST 10: what the block above logs, at info
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        mixpanel_json_max_size 16k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        ssi on;
        ssi_types application/json;
        root $TEST_NGINX_SERVER_ROOT/html;
        rewrite ^ /big.json break;
    }
--- user_files eval
">>> big.json\n$::BIG"
--- request
GET /login
--- error_log
the response body is larger than mixpanel_json_max_size, its header is not held for the account
the response body is larger than mixpanel_json_max_size, its fields are empty
--- no_error_log
[alert]



=== TEST 11: the same body at a limit it fits in (48k) is read and bound
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        mixpanel_json_max_size 48k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        ssi on;
        ssi_types application/json;
        root $TEST_NGINX_SERVER_ROOT/html;
        rewrite ^ /big.json break;
    }
--- user_files eval
">>> big.json\n$::BIG"
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /login
--- response_body_like eval
"^" . quotemeta($::BIG) . "\$"
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 12: track with a body account is not held: its cookie cannot wait, the log phase binds it in the zone, the next request needs no $identify
--- config
    location = /me {
        mixpanel track;
        mixpanel_account_id $body_account;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-1"}}';
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request eval
["GET /me", "GET /me"]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie"]
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('API Request', 'acc-1', $::D1, undef,
                  ',"account_id":"acc-1"'),
         event_re('API Request', 'acc-1', $::D1, undef,
                  ',"account_id":"acc-1"')])



=== TEST 13: a failed login (401) with a JSON body is not held, and does nothing
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 401 '{"account":{"id":"acc-1"}}';
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
POST /login
--- error_code: 401
--- response_headers
!Set-Cookie
--- calls eval
'^$'



=== TEST 14: a HEAD login has no body to wait for: the header goes at once
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
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
HEAD /login
--- response_headers
!Set-Cookie
--- calls eval
sink_re(['/import', event_re('Log In', $::D1, $::D1)])



=== TEST 15: the account from a header is known at once: a login with a JSON body is not held (the debug log says so only when it is)
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $http_x_account;
        mixpanel_profile_id $body_profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"profile":{"id":"solo"}}';
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1\nX-Account: acc-1"
--- request
POST /login
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log In', 'acc-1', $::D1, undef,
                  ',"account_id":"acc-1","active_profile_id":"solo"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1","active_profile_id":"solo"')])



=== TEST 16: the debug log of a held and of a not-held login
--- config
    location = /held {
        mixpanel login;
        mixpanel_account_id $body_account;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-1"}}';
    }
--- request
POST /held
--- error_log
mixpanel json: header held for the body



=== TEST 17: a login with a header account is not held
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $http_x_account;
        mixpanel_profile_id $body_profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"profile":{"id":"solo"}}';
    }
--- more_headers
X-Account: acc-1
--- request
POST /login
--- no_error_log
mixpanel json: header held for the body



=== TEST 18: logout never holds: nothing it decides needs the account
--- config
    location = /logout {
        mixpanel logout;
        mixpanel_logout_reset on;
        mixpanel_account_id $body_account;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-1"}}';
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1"
--- request
POST /logout
--- no_error_log
mixpanel json: header held for the body



=== TEST 19: the Log Out of the block above is sent as the account from the body, on the old device; the cookie rotated
--- config
    location = /logout {
        mixpanel logout;
        mixpanel_logout_reset on;
        mixpanel_account_id $body_account;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-1"}}';
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1.$::T1"
--- request
POST /logout
--- response_headers_like eval
"Set-Cookie: mp_device_id=(?!$::D1)$::UUID; .*"
--- calls eval
sink_re(['/import', event_re('Log Out', 'acc-1', $::D1, undef,
                             ',"account_id":"acc-1"')])



=== TEST 20: "if=" reading the body: the header waits for it too
--- http_config
    mixpanel_json_set $body_ok response /ok;
--- config
    location = /login {
        mixpanel login if=$body_ok;
        mixpanel_account_id $body_account;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        return 401 '{"ok":true,"account":{"id":"acc-1"}}';
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
POST /login
--- error_code: 401
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 21: a Range request for a held login answers 200 with the whole body: the range filter, which runs before the hold, would see no range yet and pass the whole body under a 206 header
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        default_type application/json;
        alias $TEST_NGINX_SERVER_ROOT/html/login.json;
    }
--- user_files
>>> login.json
{"account":{"id":"acc-1"}}
--- more_headers eval
"Cookie: mp_device_id=$::D1\nRange: bytes=0-4"
--- request
GET /login
--- error_code: 200
--- response_body_like chomp
^\{"account":\{"id":"acc-1"\}\}$
--- response_headers_like eval
"Set-Cookie: mp_device_id=$::D1.$::T1; .*"
--- calls eval
sink_re(['/import', identify_re('acc-1', $::D1),
         event_re('Log In', 'acc-1', $::D1, undef, ',"account_id":"acc-1"')],
        ['/engage', engage_re('acc-1', '$set', '"account_id":"acc-1"')])



=== TEST 22: the same Range request where nothing is held (a header account): the range is served, so ranges are off only while holding
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $http_x_account;
        default_type application/json;
        alias $TEST_NGINX_SERVER_ROOT/html/login.json;
    }
--- user_files
>>> login.json
{"account":{"id":"acc-1"}}
--- more_headers eval
"Cookie: mp_device_id=$::D1\nRange: bytes=0-4\nX-Account: acc-1"
--- request
GET /login
--- error_code: 206
--- response_body chomp
{"acc



=== TEST 23: the upstream fails in the middle of a held body (read timeout, buffered): the client gets the held part and the connection closes at once, as without the hold; nothing is bound
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        limit_rate_after 10k;
        limit_rate 1;
        alias $TEST_NGINX_SERVER_ROOT/html/big.json;
    }
--- user_files eval
">>> big.json\n$::BIG"
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /login
--- timeout: 4
--- ignore_response
--- error_log
upstream timed out
mixpanel: the upstream failed in the middle of a response held for its account
--- no_error_log
[alert]



=== TEST 23b: the event of the block above is anonymous, nothing is identified or bound
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        limit_rate_after 10k;
        limit_rate 1;
        alias $TEST_NGINX_SERVER_ROOT/html/big.json;
    }
--- user_files eval
">>> big.json\n$::BIG"
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /login
--- timeout: 4
--- calls eval
sink_re(['/import', event_re('Log In', $::D1, $::D1, undef)])



=== TEST 24: the same with proxy_buffering off
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        proxy_buffering off;
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        limit_rate_after 10k;
        limit_rate 1;
        alias $TEST_NGINX_SERVER_ROOT/html/big.json;
    }
--- user_files eval
">>> big.json\n$::BIG"
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /login
--- timeout: 4
--- ignore_response
--- error_log
upstream timed out
mixpanel: the upstream failed in the middle of a response held for its account
--- no_error_log
[alert]



=== TEST 24b: the event of the block above is anonymous, nothing is identified or bound
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        proxy_buffering off;
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        limit_rate_after 10k;
        limit_rate 1;
        alias $TEST_NGINX_SERVER_ROOT/html/big.json;
    }
--- user_files eval
">>> big.json\n$::BIG"
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
GET /login
--- timeout: 4
--- calls eval
sink_re(['/import', event_re('Log In', $::D1, $::D1, undef)])



=== TEST 25: a held login whose upstream answers an empty body without a length (gzip, chunked): the response is empty and whole, no zero-size buffer reaches the writer ([alert])
--- config
    location = /login {
        mixpanel login;
        mixpanel_account_id $body_account;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
        proxy_http_version 1.1;
    }

    location = /backend {
        mixpanel off;
        default_type application/json;
        gzip on;
        gzip_min_length 0;
        gzip_types application/json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/empty;
    }

    location = /empty {
        mixpanel off;
        default_type application/json;
        return 200 "";
    }
--- more_headers eval
"Cookie: mp_device_id=$::D1"
--- request
POST /login
--- response_body
--- no_error_log
[error]
[alert]
