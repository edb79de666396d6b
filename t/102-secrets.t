# Secrets never reach the error log: the project token, a service
# account's secret, and JWTs, valid or not, through every path that logs
# (refused credentials, rejected events, bad tokens, start-up, exit).

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib "$FindBin::Bin/data";
use TestJWT qw(jwt tamper data_dir);
use t::Mixpanel;

$ENV{TEST_NGINX_DATA} = data_dir();

our $Token = "tok-SECRET-0123456789abcdef";
our $Secret = "sa-SECRET-fedcba9876543210";
our $Good = jwt('HS256', 'hs', { sub => "acc-secret" }, kid => 'hs',
                exp_in => 3600);
our $Bad = tamper($Good, { sub => "admin" });

$ENV{TEST_NGINX_TOKEN} = $Token;
$ENV{TEST_NGINX_SECRET} = $Secret;

start_emulator("--identity", "original");

our @Forbidden = ($Token, $Secret, $Good, $Bad,
                  (split /\./, $Good)[2], (split /\./, $Bad)[1]);

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("no_error_log", join "\n", @::Forbidden);
    $block->set_value("no_shutdown_error_log", join "\n", @::Forbidden);
});

log_level('info');
no_shuffle();
run_tests();

__DATA__

=== TEST 1: refused credentials, a bad token and a good one: nothing secret logged
--- main_config
    worker_shutdown_timeout 1s;
--- http_config
    mixpanel_api http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT;
    mixpanel_token $TEST_NGINX_TOKEN;
    mixpanel_service_account svc $TEST_NGINX_SECRET 12345;
    mixpanel_flush_interval 50ms;
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
    mixpanel_jwt_claim_set $jwt_sub sub;
--- config
    location = /t {
        mixpanel track;
        mixpanel_account_id $jwt_sub;
        return 200 "ok\n";
    }

    location /emu/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT/_emulator/;
    }
--- more_headers eval
["", "", "Authorization: Bearer $::Bad", "Authorization: Bearer $::Good", ""]
--- request eval
["POST /emu/faults\n{\"status\":401,\"count\":1,\"path\":\"/import\"}",
 "POST /emu/faults\n{\"status\":400,\"count\":1,\"path\":\"/import\",\"body\":{\"code\":400,\"error\":\"some data points in the request failed validation\",\"num_records_imported\":0,\"failed_records\":[{\"index\":0,\"\$insert_id\":\"x\",\"field\":\"properties.time\",\"message\":\"bad\"}]}}",
 "GET /t", "GET /t",
 "GET /emu/requests?path=/import&wait_for=1&timeout=5"]
--- response_body_like eval
[".*", ".*", "^ok", "^ok", '"count": 1,']
