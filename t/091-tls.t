# TLS to the API: certificate and host name verified by default, a
# self-signed certificate accepted only when trusted explicitly; a
# certificate of another name refused even when trusted; with
# mixpanel_ssl_verify off, an untrusted certificate of another name is
# accepted (neither the chain nor the name is checked).

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);
use t::Mixpanel;

our $Dir = tempdir(CLEANUP => 1);

system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
       . " -addext subjectAltName=IP:127.0.0.1,DNS:localhost"
       . " -keyout $Dir/key.pem -out $Dir/cert.pem >/dev/null 2>&1") == 0
    or die "openssl failed";

$ENV{TEST_NGINX_TLS_CERT} = "$Dir/cert.pem";

# a certificate for another host only
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2"
       . " -subj /CN=other.example -addext subjectAltName=DNS:other.example"
       . " -keyout $Dir/key2.pem -out $Dir/cert2.pem >/dev/null 2>&1") == 0
    or die "openssl failed";

$ENV{TEST_NGINX_TLS_CERT2} = "$Dir/cert2.pem";

start_emulator("TEST_NGINX_TLS_PORT", "--tls-cert", "$Dir/cert.pem",
               "--tls-key", "$Dir/key.pem");
start_emulator("TEST_NGINX_TLS2_PORT", "--tls-cert", "$Dir/cert2.pem",
               "--tls-key", "$Dir/key2.pem");

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("main_config", "    worker_shutdown_timeout 1s;\n");
    $block->set_value("config", $block->config . <<'_EOC_');

    location /emu/ {
        proxy_pass https://127.0.0.1:$TEST_NGINX_TLS_PORT/_emulator/;
        proxy_ssl_trusted_certificate $TEST_NGINX_TLS_CERT;
        proxy_ssl_verify on;
        proxy_ssl_name localhost;
    }

    location /emu2/ {
        proxy_pass https://127.0.0.1:$TEST_NGINX_TLS2_PORT/_emulator/;
        proxy_ssl_trusted_certificate $TEST_NGINX_TLS_CERT2;
        proxy_ssl_verify on;
        proxy_ssl_name other.example;
    }
_EOC_
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a self-signed certificate is refused by default: nothing sent, a clear error
--- http_config
    mixpanel_api https://127.0.0.1:$TEST_NGINX_TLS_PORT;
    mixpanel_token tok-tls;
    mixpanel_flush_interval 50ms;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request
GET /t
--- wait: 3
--- error_log eval
qr/mixpanel: sending 1 events to "https:\/\/127\.0\.0\.1:\d+" failed: SSL certificate problem: self[- ]signed certificate/
--- no_error_log
[alert]



=== TEST 2: trusted with mixpanel_ssl_trusted_certificate: delivered (and only this event)
--- http_config
    mixpanel_api https://127.0.0.1:$TEST_NGINX_TLS_PORT;
    mixpanel_ssl_trusted_certificate $TEST_NGINX_TLS_CERT;
    mixpanel_token tok-tls;
    mixpanel_flush_interval 50ms;
--- config
    location = /t {
        mixpanel track;
        mixpanel_event "Over TLS";
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /emu/events?wait_for=1&timeout=20"]
--- response_body_like eval
["^ok", '"count": 1,.*"event": "Over TLS"']



=== TEST 3: a trusted certificate of another host name is refused: nothing sent, a clear error
--- http_config
    mixpanel_api https://127.0.0.1:$TEST_NGINX_TLS2_PORT;
    mixpanel_ssl_trusted_certificate $TEST_NGINX_TLS_CERT2;
    mixpanel_token tok-tls;
    mixpanel_flush_interval 50ms;
--- config
    location = /t {
        mixpanel track;
        mixpanel_event "Wrong Name";
        return 200 "ok\n";
    }
--- request
GET /t
--- wait: 3
--- error_log eval
qr/mixpanel: sending 1 events to "https:\/\/127\.0\.0\.1:\d+" failed: SSL: no alternative certificate subject name matches target host name/
--- no_error_log
[alert]



=== TEST 4: mixpanel_ssl_verify off: an untrusted certificate of another host name is accepted, the event delivered (and only this one: TEST 3 sent nothing)
--- http_config
    mixpanel_api https://127.0.0.1:$TEST_NGINX_TLS2_PORT;
    mixpanel_ssl_verify off;
    mixpanel_token tok-tls;
    mixpanel_flush_interval 50ms;
--- config
    location = /t {
        mixpanel track;
        mixpanel_event "Unverified";
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /emu2/events?wait_for=1&timeout=20"]
--- response_body_like eval
["^ok", '"count": 1,.*"event": "Unverified"']
--- no_error_log
[error]
[alert]
