# Delivery over real HTTP: the sender posts to {mixpanel_api}/import, here
# a second server of the same nginx that records what it receives.  Each
# block waits for the sender with a request that limit_req delays.

use Test::Nginx::Socket 'no_plan';

our $HttpConfig = <<'_EOC_';
    mixpanel_api http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    limit_req_zone $server_name zone=wait:1m rate=1r/s;

    log_format ingest escape=none
        '$request_method $request_uri auth=$http_authorization '
        'ct=$http_content_type ce=$http_content_encoding '
        'ua=$http_user_agent body=$request_body';

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;

        location = /import {
            access_log $TEST_NGINX_SERVER_ROOT/logs/ingest.log ingest;
            proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/answer;
        }

        location = /answer {
            access_log off;
            default_type application/json;
            return 200 '{"code":200,"num_records_imported":1,"status":"OK"}';
        }
    }
_EOC_

our $Helpers = <<'_EOC_';
    location = /wait {
        limit_req zone=wait burst=5;
        empty_gif;
    }

    location = /ingested {
        alias $TEST_NGINX_SERVER_ROOT/logs/ingest.log;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config",
                      $HttpConfig . ($block->http_config // ""));
    $block->set_value("config", $block->config . $Helpers);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: POST /import?strict=1 with Basic auth and a JSON array
--- http_config
    mixpanel_token tok-e2e;
    mixpanel_gzip off;
    mixpanel_flush_interval 50ms;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property source e2e;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /ingested"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{^POST /import\?strict=1 auth=Basic dG9rLWUyZTo= ct=application/json ce= ua=ngx_http_mixpanel_module/\d+\.\d+\.\d+ body=\[\{"event":"API Request","properties":\{"token":"tok-e2e",[^\n]*"source":"e2e"\}\}\]\n$}]
--- no_error_log
[error]
[alert]



=== TEST 2: a partial batch leaves after mixpanel_flush_interval, in one request
--- http_config
    mixpanel_token tok-flush;
    mixpanel_gzip off;
    mixpanel_flush_interval 500ms;
--- config
    location = /t {
        mixpanel track;
        mixpanel_event "Event $arg_n";
        return 200 "ok\n";
    }
--- request eval
["GET /t?n=1", "GET /t?n=2", "GET /t?n=3", "GET /wait", "GET /wait", "GET /wait", "GET /ingested"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^ok\n\$", "^GIF", "^GIF", "^GIF",
qr{^POST /import\?strict=1 [^\n]* body=\[\{"event":"Event 1",[^\n]*\},\{"event":"Event 2",[^\n]*\},\{"event":"Event 3",[^\n]*\}\]\n$}]
--- no_error_log
[error]



=== TEST 3: a full batch leaves at once, the rest after the interval
--- http_config
    mixpanel_token tok-batch;
    mixpanel_gzip off;
    mixpanel_batch_size 2;
    mixpanel_flush_interval 200ms;
--- config
    location = /t {
        mixpanel track;
        mixpanel_event "Event $arg_n";
        return 200 "ok\n";
    }
--- request eval
["GET /t?n=1", "GET /t?n=2", "GET /t?n=3", "GET /wait", "GET /wait", "GET /wait", "GET /ingested"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^ok\n\$", "^GIF", "^GIF", "^GIF",
qr{^POST [^\n]* body=\[\{"event":"Event 1",[^\n]*\},\{"event":"Event 2",[^\n]*\}\]\nPOST [^\n]* body=\[\{"event":"Event 3",[^\n]*\}\]\n$}]
--- no_error_log
[error]



=== TEST 4: gzip is on by default
--- http_config
    mixpanel_token tok-gzip;
    mixpanel_flush_interval 50ms;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /ingested"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF", qr{^POST /import\?strict=1 [^\n]* ce=gzip }]
--- no_error_log
[error]



=== TEST 5: a service account authenticates /import, with the project id in the query
--- http_config
    mixpanel_token tok-sa;
    mixpanel_gzip off;
    mixpanel_flush_interval 50ms;
    mixpanel_service_account svc-user s3cret 4242;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /ingested"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{^POST /import\?strict=1&project_id=4242 auth=Basic c3ZjLXVzZXI6czNjcmV0 ct=application/json }]
--- no_error_log
[error]



=== TEST 5a: a project id of every digit, 0 and 9 included, is taken whole
--- http_config
    mixpanel_token tok-sa;
    mixpanel_gzip off;
    mixpanel_flush_interval 50ms;
    mixpanel_service_account svc-user s3cret 9876543210;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /ingested"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{^POST /import\?strict=1&project_id=9876543210 auth=Basic c3ZjLXVzZXI6czNjcmV0 ct=application/json }]
--- no_error_log
[error]
