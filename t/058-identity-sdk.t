# Beside a Mixpanel SDK (SPEC sections 3 and 4): $mixpanel_sdk_device_id
# reads mixpanel-js's cookie mp_<token>_mixpanel; with it (or an SDK's
# "$device:X" id in a header) as mixpanel_device_id, the module's
# anonymous events are the SDK's anonymous user ("$device:" + the id) and
# its $identify's $anon_id names that user.  The cookies here were written
# by mixpanel-browser 2.83 itself (token "tok"), see the comments; a
# cookie of any shape never crashes a worker nor fails a request.

use Test::Nginx::Socket 'no_plan';
use t::Mixpanel;

# init() on https://app.example.com/?utm_source=newsletter, anonymous
our $SDK_U = "2dc4d4d9-3311-4836-9a9f-8f2c4173ba58";
our $SDK_ANON = 'mp_tok_mixpanel=%7B%22distinct_id%22%3A%22%24device%3A2dc4d4d9-3311-4836-9a9f-8f2c4173ba58%22%2C%22%24device_id%22%3A%222dc4d4d9-3311-4836-9a9f-8f2c4173ba58%22%2C%22__mps%22%3A%7B%7D%2C%22__mpso%22%3A%7B%22initial_utm_source%22%3A%22newsletter%22%2C%22initial_utm_medium%22%3Anull%2C%22initial_utm_campaign%22%3Anull%2C%22initial_utm_content%22%3Anull%2C%22initial_utm_term%22%3Anull%2C%22initial_utm_id%22%3Anull%2C%22initial_utm_source_platform%22%3Anull%2C%22initial_utm_campaign_id%22%3Anull%2C%22initial_utm_creative_format%22%3Anull%2C%22initial_utm_marketing_tactic%22%3Anull%2C%22%24initial_referrer%22%3A%22%24direct%22%2C%22%24initial_referring_domain%22%3A%22%24direct%22%7D%2C%22__mpus%22%3A%7B%7D%2C%22__mpa%22%3A%7B%7D%2C%22__mpu%22%3A%7B%7D%2C%22__mpr%22%3A%5B%5D%2C%22__mpap%22%3A%5B%5D%2C%22utm_source%22%3A%22newsletter%22%2C%22%24initial_referrer%22%3A%22%24direct%22%2C%22%24initial_referring_domain%22%3A%22%24direct%22%7D';

# init(), then identify("acc-1")
our $SDK_ID_U = "a17628db-0b3c-4b58-94c6-2458ce5ca2a6";
our $SDK_IDENTIFIED = 'mp_tok_mixpanel=%7B%22distinct_id%22%3A%22acc-1%22%2C%22%24device_id%22%3A%22a17628db-0b3c-4b58-94c6-2458ce5ca2a6%22%2C%22%24initial_referrer%22%3A%22%24direct%22%2C%22%24initial_referring_domain%22%3A%22%24direct%22%2C%22__mps%22%3A%7B%7D%2C%22__mpso%22%3A%7B%7D%2C%22__mpus%22%3A%7B%7D%2C%22__mpa%22%3A%7B%7D%2C%22__mpu%22%3A%7B%7D%2C%22__mpr%22%3A%5B%5D%2C%22__mpap%22%3A%5B%5D%2C%22%24user_id%22%3A%22acc-1%22%7D';

# what encodeURIComponent(JSON.stringify(props)) makes of other props
sub sdk_cookie {
    my ($json, $token) = @_;
    (my $v = $json) =~ s/([^A-Za-z0-9\-_.!~*'()])/sprintf("%%%02X", ord $1)/ge;
    return "mp_" . ($token // "tok") . "_mixpanel=$v";
}

# an anonymous SDK cookie whose value is $len bytes, padded
sub sdk_pad {
    my ($len) = @_;
    my $u = "2dc4d4d9-3311-4836-9a9f-8f2c4173ba58";
    my $head = '{"distinct_id":"$device:' . $u . '","$device_id":"' . $u
               . '","pad":"';
    my $base = length(sdk_cookie($head . '"}')) - length("mp_tok_mixpanel=");
    return sdk_cookie($head . ("x" x ($len - $base)) . '"}');
}

for my $f (qw(sdk_cookie)) {
    no strict 'refs';
    *{"Test::Base::Filter::$f"} = \&$f;
}

use_sink("original");
no_shuffle();
run_tests();

__DATA__

=== TEST 1: $mixpanel_sdk_device_id: the $device_id of mixpanel-js's cookie, anonymous and identified; empty without it
--- config
    location = /t {
        mixpanel track;
        return 200 "[$mixpanel_sdk_device_id]\n";
    }
--- more_headers eval
["Cookie: a=1; $::SDK_ANON; b=2", "Cookie: $::SDK_IDENTIFIED", "Cookie: a=1"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- response_body_like eval
["^\\[$::SDK_U\\]\n\$", "^\\[$::SDK_ID_U\\]\n\$", "^\\[\\]\n\$"]
--- calls eval
'"event":"API Request"'
--- no_error_log
[alert]



=== TEST 1a: an SDK cookie with a super property past 2^63 (what JSON.stringify() writes of 12345678901234567890 or 1e20, registered by the app) is still read: its $device_id is the SDK's; the same cookie with a small number, for comparison
--- config
    location = /t {
        mixpanel track;
        return 200 "[$mixpanel_sdk_device_id]\n";
    }
--- more_headers eval
[ "Cookie: " . main::sdk_cookie('{"distinct_id":"$device:2dc4d4d9-3311-4836-9a9f-8f2c4173ba58","$device_id":"2dc4d4d9-3311-4836-9a9f-8f2c4173ba58","order_total":12345678901234567000,"big":100000000000000000000,"inf":null}'),
  "Cookie: " . main::sdk_cookie('{"distinct_id":"$device:2dc4d4d9-3311-4836-9a9f-8f2c4173ba58","$device_id":"2dc4d4d9-3311-4836-9a9f-8f2c4173ba58","order_total":12345,"big":1,"inf":null}') ]
--- request eval
["GET /t", "GET /t"]
--- response_body_like eval
["^\\[$::SDK_U\\]\n\$", "^\\[$::SDK_U\\]\n\$"]
--- calls eval
'"event":"API Request"'
--- no_error_log
[alert]



=== TEST 1b: an SDK cookie that is not JSON because a number runs straight into an overflowing real ("order_total":5-1e400, JSON.parse() throws, so the SDK itself drops the cookie) is ignored; the same cookie with -1e400 alone is read, for comparison (hostile review 15)
--- config
    location = /t {
        mixpanel track;
        return 200 "[$mixpanel_sdk_device_id]\n";
    }
--- more_headers eval
[ "Cookie: " . main::sdk_cookie('{"distinct_id":"$device:2dc4d4d9-3311-4836-9a9f-8f2c4173ba58","$device_id":"2dc4d4d9-3311-4836-9a9f-8f2c4173ba58","order_total":5-1e400}'),
  "Cookie: " . main::sdk_cookie('{"distinct_id":"$device:2dc4d4d9-3311-4836-9a9f-8f2c4173ba58","$device_id":"2dc4d4d9-3311-4836-9a9f-8f2c4173ba58","order_total":-1e400}') ]
--- request eval
["GET /t", "GET /t"]
--- response_body_like eval
["^\\[\\]\n\$", "^\\[$::SDK_U\\]\n\$"]
--- calls eval
'"event":"API Request"'
--- no_error_log
[alert]



=== TEST 2: the cookie of the location's token, also when the token is a variable; another token's cookie is not read
--- config
    location = /t {
        mixpanel track;
        mixpanel_token $http_x_token;
        return 200 "[$mixpanel_sdk_device_id]\n";
    }
--- more_headers eval
["X-Token: tok\nCookie: $::SDK_ANON",
 "X-Token: other\nCookie: $::SDK_ANON",
 "X-Token: other\nCookie: $::SDK_ANON; " . sdk_cookie('{"distinct_id":"$device:' . $::D2 . '","$device_id":"' . $::D2 . '"}', "other")]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- response_body_like eval
["^\\[$::SDK_U\\]\n\$", "^\\[\\]\n\$", "^\\[$::D2\\]\n\$"]
--- calls eval
'"event":"API Request"'



=== TEST 2a: two tokens in one request, one beginning the other (an internal redirect from a location of "tok-x" to one of "tok"): each location reads its own token's cookie
--- config
    location = /a {
        mixpanel_token tok-x;
        set $first $mixpanel_sdk_device_id;
        rewrite ^ /b last;
    }

    location = /b {
        mixpanel_token tok;
        return 200 "[$first][$mixpanel_sdk_device_id]\n";
    }
--- more_headers eval
"Cookie: $::SDK_ANON; " . sdk_cookie('{"distinct_id":"$device:' . $::D2 . '","$device_id":"' . $::D2 . '"}', "tok-x")
--- request
GET /a
--- response_body_like eval
"^\\[$::D2\\]\\[$::SDK_U\\]\n\$"



=== TEST 3: cookies that are not the SDK's JSON give nothing, and never an error
--- http_config
    large_client_header_buffers 4 64k;
--- config
    location = /t {
        mixpanel track;
        return 200 "[$mixpanel_sdk_device_id]\n";
    }
--- more_headers eval
[map { "Cookie: $_" }
 "mp_tok_mixpanel=",
 "mp_tok_mixpanel=not-json",
 "mp_tok_mixpanel=%7B%22%24device_id%22%3A%22",
 "mp_tok_mixpanel=%ZZ%7B%zz%%%",
 "mp_tok_mixpanel=%5B1%2C2%5D",
 sdk_cookie('{"$device_id":12345}'),
 sdk_cookie('{"$device_id":{"x":"y"}}'),
 sdk_cookie('{"$device_id":"a","$device_id":"b"}'),
 sdk_cookie('{"$device_id":"a\u0000b"}'),
 sdk_cookie('{"$device_id":"' . ("x" x 300) . '"}'),
 sdk_cookie('{"a":' . ('[' x 5000) . (']' x 5000) . ',"$device_id":"' . $::D1 . '"}'),
 "mp_tok_mixpanel=" . ("%7B" x 6000),
 "mp_tok_mixpanel=\xff\xfe%FF%00"]
--- request eval
[("GET /t") x 13]
--- response_body_like eval
[("^\\[\\]\n\$") x 13]
--- calls eval
'"event":"API Request"'
--- no_error_log
[alert]
[error]



=== TEST 4: mixpanel_device_id $mixpanel_sdk_device_id: the module's anonymous events are the SDK's anonymous user "$device:U", no module cookie; logged in, $identify names "$device:U"
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $mixpanel_sdk_device_id;
        return 200 "ok\n";
    }
--- more_headers eval
["Cookie: $::SDK_ANON", "Cookie: $::SDK_ANON\nX-Account: acc-1",
 "Cookie: $::SDK_ANON\nX-Account: acc-1"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie", "!Set-Cookie"]
--- calls eval
sink_re(['/import',
         event_re('API Request', '\$device:' . $::SDK_U, $::SDK_U),
         identify_re('acc-1', $::SDK_U, '\$device:' . $::SDK_U),
         event_re('API Request', 'acc-1', $::SDK_U, undef,
                  ',"account_id":"acc-1"'),
         event_re('API Request', 'acc-1', $::SDK_U, undef,
                  ',"account_id":"acc-1"')])



=== TEST 5: an SDK that already identified the user: the module's anonymous requests still join "$device:U", which the SDK's $identify merged
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $mixpanel_sdk_device_id;
        return 200 "ok\n";
    }
--- more_headers eval
"Cookie: $::SDK_IDENTIFIED"
--- request
GET /t
--- calls eval
sink_re(['/import',
         event_re('API Request', '\$device:' . $::SDK_ID_U, $::SDK_ID_U)])



=== TEST 6: an SDK older than 2.46 (distinct_id the bare id): the bare id, as the SDK's was; a header id that is not the cookie's $device_id is no SDK's
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $mixpanel_sdk_device_id;
        return 200 "ok\n";
    }

    location = /h {
        mixpanel track;
        mixpanel_device_id $http_x_device_id;
        return 200 "ok\n";
    }
--- more_headers eval
["Cookie: " . sdk_cookie('{"distinct_id":"' . $::D1 . '","$device_id":"' . $::D1 . '"}'),
 "X-Device-Id: $::D2\nCookie: $::SDK_ANON",
 "X-Device-Id: $::SDK_U\nCookie: $::SDK_ANON"]
--- request eval
["GET /t", "GET /h", "GET /h"]
--- calls eval
sink_re(['/import', event_re('API Request', $::D1, $::D1),
         event_re('API Request', $::D2, $::D2),
         event_re('API Request', '\$device:' . $::SDK_U, $::SDK_U)])



=== TEST 7: an SDK that identified the device with acc-1: a request of acc-2 on it sends no $identify (the device is in acc-1's cluster, Mixpanel would refuse the merge), acc-1's sends none either (the SDK merged it); the same request on the SDK's anonymous device does
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $mixpanel_sdk_device_id;
        return 200 "ok\n";
    }
--- more_headers eval
["Cookie: $::SDK_IDENTIFIED\nX-Account: acc-2",
 "Cookie: $::SDK_IDENTIFIED\nX-Account: acc-1",
 "Cookie: $::SDK_ANON\nX-Account: acc-2"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- calls eval
sink_re(['/import',
         event_re('API Request', 'acc-2', $::SDK_ID_U, undef,
                  ',"account_id":"acc-2"'),
         event_re('API Request', 'acc-1', $::SDK_ID_U, undef,
                  ',"account_id":"acc-1"'),
         identify_re('acc-2', $::SDK_U, '\$device:' . $::SDK_U),
         event_re('API Request', 'acc-2', $::SDK_U, undef,
                  ',"account_id":"acc-2"')])



=== TEST 8: an SDK cookie of 16384 bytes (its value) is read
--- http_config
    large_client_header_buffers 4 64k;
--- config
    location = /t {
        mixpanel track;
        return 200 "[$mixpanel_sdk_device_id]\n";
    }
--- more_headers eval
"Cookie: " . main::sdk_pad(16384)
--- request
GET /t
--- response_body
[2dc4d4d9-3311-4836-9a9f-8f2c4173ba58]
--- no_error_log
is larger than
[alert]



=== TEST 8a: one of 16385 bytes is ignored, and logged at info
--- http_config
    large_client_header_buffers 4 64k;
--- config
    location = /t {
        mixpanel track;
        return 200 "[$mixpanel_sdk_device_id]\n";
    }
--- more_headers eval
"Cookie: " . main::sdk_pad(16385)
--- request
GET /t
--- response_body
[]
--- error_log eval
qr/\[info\] .*mixpanel: the Mixpanel SDK's cookie "mp_tok_mixpanel" is larger than 16384 bytes, ignored/
--- no_error_log
[alert]
