# $http_NAME read by the module itself (ngx_http_mixpanel_complex_value):
# the same value as nginx's own variable, for every way a header's name
# can match: case, '-' for '_', underscores in names, several headers of
# the name (nginx 1.22 takes the first, 1.23 and later join them with
# ", "), names of the same length that differ, and no header at all.

use Test::Nginx::Socket 'no_plan';

our $HttpConfig = <<'_EOC_';
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_flush_interval 500ms;
    mixpanel_token tok-headers;
    limit_req_zone $server_name zone=wait:1m rate=1r/s;
_EOC_

our $Helpers = <<'_EOC_';
    location = /wait {
        limit_req zone=wait burst=5;
        empty_gif;
    }

    location = /sink {
        default_type application/json;
        alias $TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    }

    location = /echo {
        return 200 "[$http_x_app_version]\n";
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", $HttpConfig);
    }

    $block->set_value("config", $block->config . $Helpers);
});

# what nginx itself makes of two headers of one name
my $v = `$ENV{TEST_NGINX_BINARY} -v 2>&1`;
$v =~ m{nginx/(\d+)\.(\d+)} or die "no nginx version in: $v";
our $Both = ($1 > 1 || $2 >= 23) ? "one, two" : "one";

run_tests();

__DATA__

=== TEST 1: names in any case, '-' for '_', digits, 8 bytes and more
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_user_agent_properties off;
        mixpanel_property a $http_x_app_version;
        mixpanel_property b $http_x_h2o_v8;
        mixpanel_property c $http_x_a;
        mixpanel_property d $http_x_very_long_header_name_2;
        mixpanel_property e $http_x_absent;
        return 200 "ok\n";
    }
--- more_headers
x-APP-vERSION: A1
X-H2O-V8: B2
X-A: C3
X-Very-Long-Header-Name-2: D4
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","a":"A1","b":"B2","c":"C3","d":"D4"\}\}\]\}\n$}]
--- no_error_log
[error]



=== TEST 1b: the letters at both ends of A-Z, capital, in the last bytes of a name (after each 8) and in its first 8: "X-ZZ-AZ", "X-Zulu-Zebra-AZ", "ZAZAZAZA"; a header one letter off ("X-ZZ-AY") is another
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_user_agent_properties off;
        mixpanel_property a $http_x_zz_az;
        mixpanel_property b $http_x_zulu_zebra_az;
        mixpanel_property c $http_zazazaza;
        mixpanel_property d $http_x_yy_ay;
        return 200 "ok\n";
    }
--- more_headers
X-ZZ-AY: no
X-ZZ-AZ: Z1
X-ZULU-ZEBRA-AZ: Z2
ZAZAZAZA: Z3
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","a":"Z1","b":"Z2","c":"Z3"\}\}\]\}\n$}]
--- no_error_log
[error]



=== TEST 1a: headers around and after the 20th (nginx keeps a request's headers in parts of 20) are found
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_user_agent_properties off;
        mixpanel_property a $http_x_app_version;
        mixpanel_property b $http_x_filler_3;
        mixpanel_property c $http_x_filler_17;
        mixpanel_property d $http_x_filler_18;
        mixpanel_property e $http_x_filler_19;
        mixpanel_property f $http_x_filler_20;
        mixpanel_property g $http_x_filler_21;
        mixpanel_property h $http_x_filler_22;
        return 200 "ok\n";
    }
--- more_headers eval
join("", map { "X-Filler-$_: f$_\n" } 1 .. 22) . "X-App-Version: late\n"
--- request eval
["GET /t", "GET /echo", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^\\[late\\]\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","a":"late","b":"f3","c":"f17","d":"f18","e":"f19","f":"f20","g":"f21","h":"f22"\}\}\]\}\n$}]



=== TEST 2: a name of the same length that differs is no match
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_user_agent_properties off;
        mixpanel_property a $http_x_app_version;
        mixpanel_property b $http_x_app_versioo;
        mixpanel_property c "seen";
        return 200 "ok\n";
    }
--- more_headers
X-App-Versiom: no
X-App_Version: no
X-App-Versioo: B1
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","b":"B1","c":"seen"\}\}\]\}\n$}]



=== TEST 3: with underscores_in_headers, "X_App_Version" is $http_x_app_version
--- config
    underscores_in_headers on;

    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_user_agent_properties off;
        mixpanel_property a $http_x_app_version;
        return 200 "ok\n";
    }
--- more_headers
X_App_Version: U1
--- request eval
["GET /t", "GET /echo", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^\\[U1\\]\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","a":"U1"\}\}\]\}\n$}]



=== TEST 4: two headers of the name: what nginx's variable says
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_user_agent_properties off;
        mixpanel_property a $http_x_app_version;
        return 200 "ok\n";
    }
--- more_headers
X-App-Version: one
x-app-version: two
--- request eval
["GET /t", "GET /echo", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^\\[$::Both\\]\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","a":"$::Both"\}\}\]\}\n$}]



=== TEST 4a: two headers of the name, one on each side of the 20th header: what nginx's variable says
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_user_agent_properties off;
        mixpanel_property a $http_x_app_version;
        return 200 "ok\n";
    }
--- more_headers eval
"X-App-Version: one\n" . join("", map { "X-Filler-$_: f\n" } 1 .. 22)
. "x-app-version: two\n"
--- request eval
["GET /t", "GET /echo", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^\\[$::Both\\]\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","a":"$::Both"\}\}\]\}\n$}]



=== TEST 5: a value nginx has already read is the one the event gets
--- config
    location = /t {
        set $seen $http_x_app_version;
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_user_agent_properties off;
        mixpanel_property a $http_x_app_version;
        mixpanel_property b $seen;
        return 200 "ok\n";
    }
--- more_headers
X-App-Version: V1
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","a":"V1","b":"V1"\}\}\]\}\n$}]
