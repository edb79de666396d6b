# Self-test of our Test::Nginx::Socket (t/lib) using only modules that
# nginx builds by default (no mixpanel module needed).
# It must pass unchanged under the real Test::Nginx as well:
#     tools/run-real-test-nginx t/000-harness.t

use Test::Nginx::Socket;

repeat_each(2);
no_shuffle();
no_root_location();
no_long_string();
log_level('info');
workers(1);
master_off();
env_to_nginx('HARNESS_ENV_VAR=from-harness');

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->request) {
        $block->set_value('request', "GET /t\n");
    }
});

# 55 tests in each repetition of the blocks, the 2 shutdown_error_log
# patterns of TEST 11 once, and the 3 checks below
plan tests => repeat_each() * 55 + 2 + 3;

is(server_root(), $ENV{TEST_NGINX_SERVER_ROOT},
   'server_root() is $TEST_NGINX_SERVER_ROOT');
is(html_dir(), server_root() . '/html', 'html_dir() is under server_root()');
if ($ENV{TEST_NGINX_RANDOMIZE}) {
    like(server_port(), qr/^\d+$/, 'server_port() is a random port');

} else {
    is(server_port(),
       $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984,
       'server_port() is $TEST_NGINX_SERVER_PORT or 1984');
}

run_tests();

__DATA__

=== TEST 1: return, response_headers, log_level, no_error_log strings
--- log_level: warn
--- config
    location = /t {
        add_header X-Test hello;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
X-Test: hello
Content-Type: text/plain
!X-Missing
--- response_body
ok
--- no_error_log
[error]
[alert]
[notice]



=== TEST 2: request eval array, main_config, http_config, random port
--- main_config
    worker_rlimit_nofile 1024;
--- http_config
    upstream harness_backend {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location / {
            return 200 "backend $server_port $uri\n";
        }
    }
--- config
    location /proxy/ {
        proxy_pass http://harness_backend/;
    }

    location = /env {
        return 200 "$TEST_NGINX_SERVER_ROOT $TEST_NGINX_SERVER_PORT\n";
    }

    location = /upload {
        client_max_body_size 4;
        return 200 "len=$content_length\n";
    }
--- request eval
["GET /proxy/a", "GET /env", "POST /upload\nabc", "GET /nope"]
--- error_code eval
[200, 200, 200, 404]
--- response_body eval
['backend $TEST_NGINX_RAND_PORT_1 /a' . "\n",
 '$TEST_NGINX_SERVER_ROOT $TEST_NGINX_SERVER_PORT' . "\n",
 "len=3\n",
 qr/404 Not Found/]
--- no_error_log eval
[qr/\[(?:alert|crit)\]/, "[emerg]"]



=== TEST 3: user_files, more_headers, response_headers_like
--- user_files
>>> sub/dir/page.html
<p>page</p>
>>> other.txt
other
--- config
    location / {
        root $TEST_NGINX_SERVER_ROOT/html;
        add_header X-Echo-Foo "$http_x_foo";
    }
--- more_headers
X-Foo: bar baz
--- request
GET /sub/dir/page.html
--- response_headers_like
X-Echo-Foo: bar \w+
Content-Length: \d+
--- response_body
<p>page</p>



=== TEST 4: user_files eval with a modification time and an absolute path
--- user_files eval
[
    ["dated.txt", "dated\n", 201801171935.33],
    ["$ENV{TEST_NGINX_SERVER_ROOT}/html/abs/file.txt", "absolute\n"],
]
--- config
    location / {
        root $TEST_NGINX_SERVER_ROOT/html;
    }
--- request eval
["GET /dated.txt", "GET /abs/file.txt"]
--- response_headers eval
["Last-Modified: Wed, 17 Jan 2018 19:35:33 GMT", "Content-Length: 9"]
--- response_body eval
["dated\n", "absolute\n"]



=== TEST 5: error_code, response_body_like, error_log eval, grep_error_log
--- config
--- request
GET /missing.txt
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log eval
[qr/open\(\) "[^"]+\/missing\.txt" failed/, "No such file or directory"]
--- grep_error_log eval: qr/open\(\) "[^"]+" failed/
--- grep_error_log_out
open() "$TEST_NGINX_SERVER_ROOT/html/missing.txt" failed



=== TEST 6: must_die with an unknown directive
--- config
    location = /t {
        harness_no_such_directive on;
    }
--- must_die
--- error_log
[emerg]
unknown directive "harness_no_such_directive"
--- no_error_log
[alert]



=== TEST 7: must_die with an exit code, bad main_config
--- main_config
    harness_no_such_main_directive on;
--- config
--- must_die: 1
--- error_log
[emerg]
unknown directive "harness_no_such_main_directive"



=== TEST 8: request body over client_max_body_size
--- config
    location = /upload {
        client_max_body_size 4;
        return 200 "len=$content_length\n";
    }
--- request
POST /upload
abcdefgh
--- error_code: 413
--- response_body_like: 413 Request Entity Too Large
--- error_log
client intended to send too large body: 8 bytes



=== TEST 9: chunked response
--- user_files
>>> chunk.txt
<!--# set var="v" value="bbb" --><!--# echo var="v" -->
--- config
    location = /chunk.txt {
        root $TEST_NGINX_SERVER_ROOT/html;
        ssi on;
        ssi_types *;
    }
--- request
GET /chunk.txt
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
bbb



=== TEST 10: timeout with abort and ignore_response
--- user_files eval
[["slow.txt", "x" x 4096]]
--- config
    location = /slow {
        limit_rate 1;
        alias $TEST_NGINX_SERVER_ROOT/html/slow.txt;
    }
--- request
GET /slow
--- timeout: 0.3
--- abort
--- ignore_response
--- no_error_log
[crit]



=== TEST 11: default request, ignore_response, wait, shutdown_error_log
--- config
    location = /t {
        return 204;
    }
--- ignore_response
--- wait: 0.1
--- no_error_log
[error]
--- shutdown_error_log eval
["signal 3 (SIGQUIT) received", qr/\[notice\] \d+#\d+: exit$/]
