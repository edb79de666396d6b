# The module loads into nginx, a configuration using it passes, and a
# request through a tracked location is served as without the module.

use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the module loads and an untracked server works
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
GET /t
--- response_body
hello
--- no_error_log
[alert]
[emerg]



=== TEST 2: a tracked location answers as it would without the module
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_token tok-build;
--- config
    location = /t {
        mixpanel track;
        return 200 "hello\n";
    }
--- request
GET /t
--- response_body
hello
--- no_error_log
[alert]
[error]
[crit]
