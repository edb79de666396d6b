# Inputs the fuzz targets of fuzz/ found, replayed through nginx: each
# block pins the fix of one finding (the input itself is also kept in
# fuzz/corpus/<target>/regress-*).
#
# The sender writes asynchronously, so each block waits for it with a
# request that limit_req delays by a second before reading the sink.

use Test::Nginx::Socket 'no_plan';

our $HttpConfig = <<'_EOC_';
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_flush_interval 500ms;
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
_EOC_

# a sink's body as its events counted by name: "$identify=1,Log In=2"
sub events {
    my ($body) = @_;

    return $body unless $body =~ /"event":/;

    my %n;
    $n{$_}++ for $body =~ /"event":"([^"]+)"/g;

    return join(",", map { "$_=$n{$_}" } sort keys %n) . "\n";
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", $HttpConfig);
    }

    $block->set_value("config", $block->config . $Helpers);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: fuzz_event: a number beyond a double ("1e400") is left out
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-fuzz;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_property n1 $arg_n1 type=number;
        mixpanel_property n2 $arg_n2 type=number;
        mixpanel_property n3 $arg_n3 type=number;
        mixpanel_property n4 $arg_n4 type=number;
        return 200 "ok\n";
    }
--- request eval
["GET /t?n1=1e400&n2=-1E+309&n3=1e-400&n4=1.7e308", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","n3":1e-400,"n4":1\.7e308\}\}\]\}\n$}]
--- no_error_log
[error]
[alert]



=== TEST 2: fuzz_emit: an account id that reads $mixpanel_distinct_id (its own value) does not recurse: inside it, $mixpanel_distinct_id and $mixpanel_account_id are empty, and the event, the variables and the properties agree
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-fuzz;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_account_id $http_x_user$mixpanel_distinct_id$mixpanel_account_id;
        mixpanel_property who $mixpanel_distinct_id;
        mixpanel_property acct $mixpanel_account_id;
        add_header X-Who $mixpanel_distinct_id;
        return 200 "ok\n";
    }
--- more_headers
X-User: bob
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{^\{"endpoint":"/import","body":\[\{"event":"API Request","properties":\{"token":"tok-fuzz","time":\d+,"distinct_id":"bob","\$device_id":"[-0-9a-f]{36}","\$insert_id":"[0-9a-f]{32}","mp_lib":"nginx","\$lib_version":"[^"]+","ip":"127\.0\.0\.1","account_id":"bob","who":"bob","acct":"bob"\}\}\]\}\n$}]
--- response_headers eval
["X-Who: bob", "", "", ""]
--- no_error_log
[error]
[alert]



=== TEST 3: fuzz_emit: a login whose device cookie carries a tag of another key, sent again before the new cookie reached the client (two tabs, a client that keeps no cookie): the zone knows the binding, one $identify, and both responses rewrite the cookie with the current key's tag ("bef" for this secret); before, the other key's tag hid the zone and every such login sent $identify again
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-fuzz;\n    mixpanel_cookie_secret 0123456789abcdef0123;\n"
--- config
    location = /login {
        mixpanel login;
        mixpanel_request_properties off;
        mixpanel_account_id $http_x_account;
        return 200 "ok\n";
    }
--- more_headers
X-Account: ana
Cookie: mp_device_id=6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b.000123456789
--- request eval
["GET /login", "GET /login", "GET /wait", "GET /wait", "GET /sink"]
--- response_headers_like eval
["Set-Cookie: mp_device_id=6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\\.bef[0-9a-f]{9}; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax",
 "Set-Cookie: mp_device_id=6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\\.bef[0-9a-f]{9}; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax",
 "", "", ""]
--- response_body_filters eval
\&::events
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^GIF", "^GIF", "^\\\$identify=1,Log In=2\n\$"]
--- no_error_log
[error]
[alert]



=== TEST 4: fuzz_emit: the same two logins with a cookie without a tag: one $identify (the zone's binding, as in TEST 3)
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-fuzz;\n    mixpanel_cookie_secret 0123456789abcdef0123;\n"
--- config
    location = /login {
        mixpanel login;
        mixpanel_request_properties off;
        mixpanel_account_id $http_x_account;
        return 200 "ok\n";
    }
--- more_headers
X-Account: ana
Cookie: mp_device_id=6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b
--- request eval
["GET /login", "GET /login", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_filters eval
\&::events
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^GIF", "^GIF", "^\\\$identify=1,Log In=2\n\$"]
--- no_error_log
[error]
[alert]
