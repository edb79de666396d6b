# mixpanel_spool: batches an exiting worker could not deliver are written
# to files and sent by the next nginx once Mixpanel answers again; a
# corrupt file is moved aside.

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);
use t::Mixpanel;

$ENV{TEST_NGINX_SPOOL} = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_SPOOL_BAD} = tempdir(CLEANUP => 1);

open my $fh, '>', "$ENV{TEST_NGINX_SPOOL_BAD}/mp-1-1-1.json" or die $!;
print $fh "{\"kind\":\"import\",\"token\":\"t\",\"count\":2}\n[{\"event\":";
close $fh;

start_emulator("--identity", "original");

our $HttpConfig = <<'_EOC_';
    mixpanel_api http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT;
    mixpanel_token tok-spool;
    mixpanel_flush_interval 50ms;
    mixpanel_timeout 1s;
_EOC_

our $Config = <<'_EOC_';
    location = /t {
        mixpanel track;
        mixpanel_property scenario $arg_s;
        return 200 "ok\n";
    }

    location = /status {
        mixpanel_status;
    }

    location /emu/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT/_emulator/;
        proxy_read_timeout 60s;
    }

    location /spooldir/ {
        alias $TEST_NGINX_SPOOL/;
        autoindex on;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("main_config", "    worker_shutdown_timeout 2s;\n");
    $block->set_value("http_config", $HttpConfig . $block->http_config);
    $block->set_value("config", $Config);
    $block->set_value("timeout", 30);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: Mixpanel answers 503 while nginx quits: the batch goes to the spool
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL max_size=1m;
--- request eval
["POST /emu/faults\n{\"status\":503,\"count\":-1,\"path\":\"/import\"}",
 "GET /t?s=spool", "GET /t?s=spool", "GET /t?s=spool"]
--- response_body_like eval
[".*", "^ok", "^ok", "^ok"]
--- shutdown_error_log eval
qr/mixpanel: [123] events spooled to "[^"]+" on exit/
--- no_shutdown_error_log
[alert]



=== TEST 2: the next nginx sends the spooled events once Mixpanel recovers, once each
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL;
--- request eval
["POST /emu/faults/clear",
 "GET /t?s=live",
 "GET /emu/events?prop.scenario=spool&wait_for=3&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status",
 "GET /spooldir/"]
--- response_body_like eval
[".*", "^ok",
 '"count": 3,',
 ".*",
 '"events_sent":1,.*"events_spooled":0,"events_replayed":3,',
 '^(?!.*mp-)']
--- no_error_log
[alert]



=== TEST 3: a corrupt spool file is moved aside with an error, nginx carries on
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL_BAD;
--- request
GET /t?s=after-corrupt
--- response_body
ok
--- wait: 0.5
--- error_log eval
qr/mixpanel: spool file "[^"]+\/mp-1-1-1\.json\.claimed" is corrupt, moved aside as "[^"]+\.corrupt"/
--- no_error_log
[alert]



=== TEST 4: past max_size nothing more is spooled: dropped, counted, logged
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL max_size=100;
--- request eval
["POST /emu/faults\n{\"status\":503,\"count\":-1,\"path\":\"/import\"}",
 "GET /t?s=full"]
--- response_body_like eval
[".*", "^ok"]
--- shutdown_error_log eval
[qr/mixpanel: spool "[^"]+" is full \(max_size=100\), 1 events not spooled/,
 qr/mixpanel: 1 events dropped on exit/]



=== TEST 5: clean up the faults
--- request
POST /emu/faults/clear
--- response_body_like: .
