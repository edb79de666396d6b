# Configuration errors are caught at start-up with nginx-style messages.

use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an unknown action
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel fly;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
unknown mixpanel action "fly"



=== TEST 1a: an action's beginning ("tra" of "track") is unknown too
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel tra;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
unknown mixpanel action "tra"



=== TEST 1b: and so is an action with more after it ("signups")
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel signups;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
unknown mixpanel action "signups"



=== TEST 2: tracking without a token anywhere
--- config
    location = /signup {
        mixpanel signup;
        return 200;
    }
--- request
GET /signup
--- must_die
--- error_log
"mixpanel signup" is used in location "/signup" but no "mixpanel_token" is set for it



=== TEST 3: a token at the server level is enough
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
--- config
    mixpanel_token tok;

    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
[emerg]
[alert]



=== TEST 4: an API URL with an unknown scheme
--- http_config
    mixpanel_api ftp://api.mixpanel.com;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid Mixpanel API URL "ftp://api.mixpanel.com"



=== TEST 5: an API URL without a host
--- http_config
    mixpanel_api https:///import;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid Mixpanel API URL "https:///import"



=== TEST 6: an API URL with credentials in it
--- http_config
    mixpanel_api https://user:pass@api.mixpanel.com;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid Mixpanel API URL



=== TEST 7: a batch larger than Mixpanel accepts
--- http_config
    mixpanel_batch_size 2001;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_batch_size" directive must be between 1 and 2000



=== TEST 7a: mixpanel_concurrency 0 (nothing would ever be sent) stops nginx -t
--- http_config
    mixpanel_concurrency 0;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_concurrency" directive must be between 1 and 64 requests in flight



=== TEST 7b: mixpanel_concurrency 65 stops nginx -t
--- http_config
    mixpanel_concurrency 65;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_concurrency" directive must be between 1 and 64 requests in flight



=== TEST 7c: mixpanel_concurrency 64 starts
--- http_config
    mixpanel_concurrency 64;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok



=== TEST 7d: a project id with a character after its digits (a slash copied from the project's URL) stops nginx -t
--- http_config
    mixpanel_service_account user secret 3141592/;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid Mixpanel project id "3141592/", expected digits



=== TEST 7e: a project id with a letter in it stops nginx -t
--- http_config
    mixpanel_service_account user secret 31a41592;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid Mixpanel project id "31a41592", expected digits



=== TEST 7e1: a project id with ':' (the byte after '9') in it stops nginx -t
--- http_config
    mixpanel_service_account user secret 31415:92;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid Mixpanel project id "31415:92", expected digits



=== TEST 7f: a service account user name with a colon (it would end Basic auth's user) stops nginx -t
--- http_config
    mixpanel_service_account us:er secret 3141592;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid service account user name "us:er", it cannot contain ":"



=== TEST 7g: an empty service account secret stops nginx -t
--- http_config
    mixpanel_service_account user "" 3141592;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_service_account" directive takes an empty value



=== TEST 7h: mixpanel_timeout 0 (libcurl's "no limit": an answer that never comes would hold a request slot for good) stops nginx -t
--- http_config
    mixpanel_timeout 0;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_timeout" directive must be at least 1ms: 0 would let an exchange with Mixpanel wait for ever



=== TEST 7i: mixpanel_timeout 1ms starts
--- http_config
    mixpanel_timeout 1ms;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok



=== TEST 8: mixpanel_api only in the http block
--- config
    mixpanel_api https://api-eu.mixpanel.com;

    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_api" directive is not allowed here



=== TEST 9: an unknown property type
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property plan $arg_plan type=money;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
unknown property type "money"



=== TEST 10: the same property twice at one level
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property plan a;
        mixpanel_property plan b;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
duplicate property "plan"



=== TEST 11: if= on "off" makes no sense
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel off if=$arg_x;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid parameter "if=$arg_x"



=== TEST 12: a bad time
--- http_config
    mixpanel_flush_interval soon;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_flush_interval" directive invalid value



=== TEST 13: every delivery directive with valid values
--- http_config
    mixpanel_api https://api-eu.mixpanel.com/;
    mixpanel_token tok;
    mixpanel_batch_size 500;
    mixpanel_queue_size 1000;
    mixpanel_flush_interval 250ms;
    mixpanel_timeout 3s;
    mixpanel_retry_max_time 1m;
    mixpanel_gzip off;
    mixpanel_ssl_verify on;
--- config
    location = /t {
        mixpanel track if=$arg_track;
        mixpanel_event "Page View";
        mixpanel_ip off;
        mixpanel_request_properties off;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
[emerg]
[alert]
