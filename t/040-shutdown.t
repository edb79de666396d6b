# A graceful stop sends what is queued; a stop with Mixpanel unreachable
# gives up within the budget, counts the loss, and never hangs.

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);

$ENV{TEST_NGINX_SPOOL_DIR} = tempdir(CLEANUP => 1);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: events queued for an hour are sent when nginx quits
--- http_config
    mixpanel_api file:$TEST_NGINX_SPOOL_DIR/quit.jsonl;
    mixpanel_token tok-quit;
    mixpanel_flush_interval 1h;
--- config
    location = /t {
        mixpanel track;
        mixpanel_event "Event $arg_n";
        return 200 "ok\n";
    }
--- request eval
["GET /t?n=1", "GET /t?n=2", "GET /t?n=3"]
--- response_body eval
["ok\n", "ok\n", "ok\n"]
--- shutdown_error_log
mixpanel: sending 3 queued events before exit
--- no_shutdown_error_log
[alert]



=== TEST 2: what the previous nginx sent on its way out
--- config
    location = /sink {
        alias $TEST_NGINX_SPOOL_DIR/quit.jsonl;
    }
--- request
GET /sink
--- response_body_like
^\{"endpoint":"/import","body":\[\{"event":"Event 1",[^\n]*\},\{"event":"Event 2",[^\n]*\},\{"event":"Event 3",[^\n]*\}\]\}$



=== TEST 3: Mixpanel unreachable at exit: a bounded wait, a counted drop
--- main_config
    worker_shutdown_timeout 2s;
--- http_config
    mixpanel_api http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    mixpanel_token tok-down;
    mixpanel_flush_interval 1h;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log eval
[qr/\[notice\] [^\n]*mixpanel: sending 1 queued events before exit/,
 qr/\[error\] [^\n]*mixpanel: 1 events dropped on exit, last failure: could not connect to "http:\/\/127\.0\.0\.1:\d+"/,
 qr/\[notice\] [^\n]*mixpanel: on exit 0 events were sent, 0 spooled, 1 dropped/]
--- no_shutdown_error_log
[alert]



=== TEST 4: an HTTP/0.9 request is tracked (its event leaves on exit)
--- http_config
    mixpanel_api file:$TEST_NGINX_SPOOL_DIR/http09.jsonl;
    mixpanel_token tok-09;
    mixpanel_flush_interval 1h;
    mixpanel_request_properties on;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- raw_request eval
"GET /t\r\n"
--- ignore_response
--- no_error_log
[alert]
[error]



=== TEST 5: the HTTP/0.9 request's event
--- config
    location = /sink {
        alias $TEST_NGINX_SPOOL_DIR/http09.jsonl;
    }
--- request
GET /sink
--- response_body_like
^\{"endpoint":"/import","body":\[\{"event":"API Request","properties":\{"token":"tok-09",[^\n]*"http_method":"GET","http_status":200,"http_route":"/t","http_path":"/t",[^\n]*\}\]\}$
