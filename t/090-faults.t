# Delivery against the emulator's faults: 5xx and recovery, a Retry-After
# past an hour taken as an hour, 413 split, strict-mode partial
# rejection, a server that never answers, a full queue, and the status
# endpoint's counters.  Spacing of retries is checked at the end from the
# emulator's request log.

use Test::Nginx::Socket 'no_plan';
use Test::More;
use POSIX ();
use t::Mixpanel;

start_emulator("--identity", "original");

our $HttpConfig = <<'_EOC_';
    mixpanel_api http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT;
    mixpanel_token tok-faults;
    mixpanel_timeout 1s;
_EOC_

our $Config = <<'_EOC_';
    location = /t {
        mixpanel track;
        mixpanel_event "Event $arg_n";
        mixpanel_property scenario $arg_s;
        return 200 "ok\n";
    }

    location = /signup {
        mixpanel signup;
        mixpanel_account_id $arg_account;
        mixpanel_event off;
        return 200 "ok\n";
    }

    location = /status {
        mixpanel_status;
    }

    location /emu/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT/_emulator/;
        proxy_read_timeout 60s;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    my $http = $block->http_config // "";
    $http .= "    mixpanel_flush_interval 200ms;\n"
        unless $http =~ /mixpanel_flush_interval/;
    $block->set_value("http_config", $HttpConfig . $http);
    $block->set_value("config", $Config . ($block->config // ""));
    $block->set_value("timeout", 60);
});

no_shuffle();
run_tests();

# the retries' spacing, from the request log: backoff from 2 s (or
# Retry-After) plus 1 to 5 s of jitter
my $log = emulator("requests?path=/import");
my %by_scenario;

for my $req (@{ $log->{requests} }) {
    my $records = $req->{records} // [];
    next unless @$records;
    my $s = $records->[0]{properties}{scenario} // next;
    push @{ $by_scenario{$s} }, $req;
}

my @r503 = @{ $by_scenario{"s503"} // [] };
is(scalar @r503, 3, "503 twice: three attempts");
if (@r503 == 3) {
    my $gap1 = $r503[1]{received_ms} - $r503[0]{received_ms};
    my $gap2 = $r503[2]{received_ms} - $r503[1]{received_ms};
    cmp_ok($gap1, '>=', 2900, "first retry after 2 s + jitter ($gap1 ms)");
    cmp_ok($gap2, '>=', 4900, "second retry after 4 s + jitter ($gap2 ms)");
    cmp_ok($gap1, '<=', 7500, "first retry within 2 + 5 s ($gap1 ms)");
    is($r503[0]{body_json}[0]{properties}{'$insert_id'},
       $r503[2]{body_json}[0]{properties}{'$insert_id'},
       "a retry resends the same \$insert_id");
}

my @r429 = @{ $by_scenario{"s429"} // [] };
is(scalar @r429, 2, "429 once: two attempts");
if (@r429 == 2) {
    my $gap = $r429[1]{received_ms} - $r429[0]{received_ms};
    cmp_ok($gap, '>=', 1900, "Retry-After: 1 plus jitter ($gap ms)");
    cmp_ok($gap, '<=', 6500, "Retry-After honoured, not the 2 s backoff ($gap ms)");
}

# the 100-event batch of TEST 12, about 120 KB of JSON: compressed in
# slices of 64 KB, one request all the same
my @big = @{ $by_scenario{"big"} // [] };
is(scalar @big, 1, "a batch of more than 64 KB went as one request");
is(scalar @{ $big[0]{records} // [] }, 100, "with its 100 events") if @big;

__DATA__

=== TEST 1: 503 twice, then success: delivered once, two retries counted
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":503,\"count\":2,\"path\":\"/import\"}",
 "GET /t?n=1&s=s503",
 "GET /emu/events?wait_for=1&timeout=30",
 "GET /emu/stats",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", ".*", "^ok",
 '"count": 1,.*"event": "Event 1"',
 '"stored": 1,', ".*",
 '^\{"events_queued":1,"events_sent":1,"events_rejected":0,"events_dropped":\{"queue_full":0,"retry_expired":0,"shutdown":0,"worker_died":0,"memory":0\},.*"retries":2,.*"queue_depth":0,.*"last_error":"HTTP 503 from /import']
--- no_error_log
[alert]



=== TEST 2: 429 with Retry-After
--- request eval
["POST /emu/faults\n{\"status\":429,\"count\":1,\"retry_after\":1,\"path\":\"/import\"}",
 "GET /t?n=2&s=s429",
 "GET /emu/events?wait_for=2&timeout=30",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", '"count": 2,', ".*", '"events_sent":1,.*"retries":1,']



=== TEST 2a: 503 with a Retry-After of a day: taken as an hour, so a batch with 2 h to live is kept, waiting, not dropped
--- http_config
    mixpanel_retry_max_time 2h;
--- request eval
["POST /emu/faults\n{\"status\":503,\"count\":-1,\"retry_after\":86400,\"path\":\"/import\"}",
 "GET /t?n=1&s=ra-day",
 "GET /emu/requests?path=/import&status=503&wait_for=1&timeout=30",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status",
 "POST /emu/faults/clear"]
--- response_body_like eval
[".*", "^ok", '"count": 1,', ".*",
 '^\{"events_queued":1,"events_sent":0,"events_rejected":0,"events_dropped":\{"queue_full":0,"retry_expired":0,"shutdown":0,"worker_died":0,"memory":0\},.*"retries":0,.*"queue_depth":1,.*"last_error":"HTTP 503 from /import',
 ".*"]



=== TEST 2b: ... the same as an HTTP date two days ahead: an hour too
--- http_config
    mixpanel_retry_max_time 2h;
--- request eval
["POST /emu/faults\n{\"status\":503,\"count\":-1,\"retry_after\":\"" . POSIX::strftime("%a, %d %b %Y %H:%M:%S GMT", gmtime(time + 2 * 86400)) . "\",\"path\":\"/import\"}",
 "GET /t?n=1&s=ra-date",
 "GET /emu/requests?path=/import&status=503&wait_for=1&timeout=30",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status",
 "POST /emu/faults/clear"]
--- response_body_like eval
[".*", "^ok", '"count": 1,', ".*",
 '^\{"events_queued":1,"events_sent":0,"events_rejected":0,"events_dropped":\{"queue_full":0,"retry_expired":0,"shutdown":0,"worker_died":0,"memory":0\},.*"retries":0,.*"queue_depth":1,',
 ".*"]



=== TEST 2c: ... and with 30 min to live, the hour is too long: dropped at once, counted (the positive control of the two above)
--- http_config
    mixpanel_retry_max_time 30m;
--- request eval
["POST /emu/faults\n{\"status\":503,\"count\":-1,\"retry_after\":86400,\"path\":\"/import\"}",
 "GET /t?n=1&s=ra-short",
 "GET /emu/requests?path=/import&status=503&wait_for=1&timeout=30",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status",
 "POST /emu/faults/clear"]
--- response_body_like eval
[".*", "^ok", '"count": 1,', ".*",
 '^\{"events_queued":1,"events_sent":0,"events_rejected":0,"events_dropped":\{"queue_full":0,"retry_expired":1,"shutdown":0,"worker_died":0,"memory":0\},.*"queue_depth":0,',
 ".*"]



=== TEST 2d: ... and a Retry-After of a day with a tab before it (white space around a header's value, RFC 9110 5.5) is a day too: dropped at once, as in TEST 2c
--- http_config
    mixpanel_retry_max_time 30m;
--- request eval
["POST /emu/faults\n{\"status\":503,\"count\":-1,\"retry_after\":\"\\t86400\",\"path\":\"/import\"}",
 "GET /t?n=1&s=ra-tab-before",
 "GET /emu/requests?path=/import&status=503&wait_for=1&timeout=30",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status",
 "POST /emu/faults/clear"]
--- response_body_like eval
[".*", "^ok", '"count": 1,', ".*",
 '^\{"events_queued":1,"events_sent":0,"events_rejected":0,"events_dropped":\{"queue_full":0,"retry_expired":1,"shutdown":0,"worker_died":0,"memory":0\},.*"queue_depth":0,',
 ".*"]



=== TEST 2e: ... and with a tab after it: a day too, dropped at once
--- http_config
    mixpanel_retry_max_time 30m;
--- request eval
["POST /emu/faults\n{\"status\":503,\"count\":-1,\"retry_after\":\"86400\\t\",\"path\":\"/import\"}",
 "GET /t?n=1&s=ra-tab-after",
 "GET /emu/requests?path=/import&status=503&wait_for=1&timeout=30",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status",
 "POST /emu/faults/clear"]
--- response_body_like eval
[".*", "^ok", '"count": 1,', ".*",
 '^\{"events_queued":1,"events_sent":0,"events_rejected":0,"events_dropped":\{"queue_full":0,"retry_expired":1,"shutdown":0,"worker_died":0,"memory":0\},.*"queue_depth":0,',
 ".*"]



=== TEST 2f: ... and a Retry-After of twenty digits, too many for a 64-bit number: past an hour all the same, dropped at once, not retried on the 2 s backoff
--- http_config
    mixpanel_retry_max_time 30m;
--- request eval
["POST /emu/faults\n{\"status\":429,\"count\":-1,\"retry_after\":\"99999999999999999999\",\"path\":\"/import\"}",
 "GET /t?n=1&s=ra-digits",
 "GET /emu/requests?path=/import&status=429&wait_for=1&timeout=30",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status",
 "POST /emu/faults/clear"]
--- response_body_like eval
[".*", "^ok", '"count": 1,', ".*",
 '^\{"events_queued":1,"events_sent":0,"events_rejected":0,"events_dropped":\{"queue_full":0,"retry_expired":1,"shutdown":0,"worker_died":0,"memory":0\},.*"queue_depth":0,',
 ".*"]



=== TEST 3: 413 splits the batch, every event arrives
--- http_config
    mixpanel_batch_size 4;
--- request eval
["POST /emu/faults\n{\"status\":413,\"count\":1,\"path\":\"/import\"}",
 "GET /t?n=1&s=s413", "GET /t?n=2&s=s413", "GET /t?n=3&s=s413",
 "GET /t?n=4&s=s413",
 "GET /emu/events?prop.scenario=s413&wait_for=4&timeout=30",
 "GET /emu/requests?path=/import&status=413",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", "^ok", "^ok", "^ok",
 '"count": 4,',
 '"count": 1,.*"status": 413,', ".*",
 '"events_sent":4,"events_rejected":0,.*"batches_sent":2,']



=== TEST 4: strict mode, one bad record: only it is lost, and counted
--- http_config
    mixpanel_batch_size 3;
--- request eval
["POST /emu/faults\n{\"status\":400,\"count\":1,\"path\":\"/import\",\"body\":{\"code\":400,\"error\":\"some data points in the request failed validation\",\"num_records_imported\":2,\"failed_records\":[{\"index\":1,\"\$insert_id\":\"x\",\"field\":\"properties.time\",\"message\":\"bad\"}]}}",
 "GET /t?n=1&s=s400", "GET /t?n=2&s=s400", "GET /t?n=3&s=s400",
 "GET /emu/requests?path=/import&status=400&wait_for=1&timeout=30",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", "^ok", "^ok", '"count": 1,', ".*",
 '"events_sent":2,"events_rejected":1,.*"retries":0,']



=== TEST 5: a server that accepts and never answers: timeout, retry, delivered; requests unaffected
--- request eval
["POST /emu/faults\n{\"hang\":true,\"count\":1,\"path\":\"/import\"}",
 "GET /t?n=1&s=hang",
 "GET /emu/events?prop.scenario=hang&wait_for=1&timeout=30",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", '"count": 1,', ".*",
 '"events_sent":1,.*"retries":1,.*"last_error":"Operation timed out']



=== TEST 6: a full queue drops the newest events and counts them exactly
--- http_config
    mixpanel_queue_size 2;
    mixpanel_flush_interval 1h;
--- request eval
["GET /t?n=1", "GET /t?n=2", "GET /t?n=3", "GET /t?n=4", "GET /t?n=5",
 "GET /status", "GET /status?format=prometheus"]
--- response_body_like eval
["^ok", "^ok", "^ok", "^ok", "^ok",
 '^\{"events_queued":2,"events_sent":0,"events_rejected":0,"events_dropped":\{"queue_full":3,"retry_expired":0,"shutdown":0,"worker_died":0,"memory":0\},.*"queue_depth":2,',
 'nginx_mixpanel_events_queued_total 2\n.*nginx_mixpanel_events_dropped_total\{reason="queue_full"\} 3\n.*nginx_mixpanel_queue_depth 2\n']



=== TEST 7: events queued for an hour leave over HTTP when nginx quits
--- http_config
    mixpanel_flush_interval 1h;
--- request eval
["GET /t?n=1&s=quit", "GET /t?n=2&s=quit", "GET /t?n=3&s=quit"]
--- response_body_like eval
["^ok", "^ok", "^ok"]
--- shutdown_error_log
mixpanel: sending 3 queued events before exit



=== TEST 8: what the emulator got from the nginx that quit
--- request
GET /emu/events?prop.scenario=quit&wait_for=3&timeout=20
--- response_body_like eval
'"count": 3,'



=== TEST 9: 401: an error naming the directives, kept for a slow retry, never lost silently
--- main_config
    worker_shutdown_timeout 1s;
--- request eval
["POST /emu/faults\n{\"status\":401,\"count\":1,\"path\":\"/import\"}",
 "GET /t?n=1&s=auth",
 "GET /emu/requests?path=/import&status=401&wait_for=1&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", '"count": 1,', ".*",
 '"events_sent":0,.*"retries":0,.*"queue_depth":1,.*"last_error":"HTTP 401 from /import']



=== TEST 10: the 401'd event was retried when that nginx quit, and delivered
--- request
GET /emu/events?prop.scenario=auth&wait_for=1&timeout=20
--- response_body_like eval
'"count": 1,'



=== TEST 10a: 403, as a 401: kept for a slow retry, not rejected
--- main_config
    worker_shutdown_timeout 1s;
--- request eval
["POST /emu/faults\n{\"status\":403,\"count\":1,\"path\":\"/import\"}",
 "GET /t?n=1&s=forbidden",
 "GET /emu/requests?path=/import&status=403&wait_for=1&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", '"count": 1,', ".*",
 '^(?=.*"events_sent":0,"events_rejected":0,)(?=.*"retries":0,)(?=.*"queue_depth":1,)(?=.*"last_error":"HTTP 403 from /import)']



=== TEST 10b: the 403'd event was retried when that nginx quit, and delivered
--- request
GET /emu/events?prop.scenario=forbidden&wait_for=1&timeout=20
--- response_body_like eval
'"count": 1,'



=== TEST 11: /engage answers 200 with an error body: read, and the updates counted as rejected
--- more_headers eval
["", "Cookie: mp_device_id=$::D1", "", "", ""]
--- request eval
["POST /emu/faults\n{\"status\":200,\"count\":1,\"path\":\"/engage\",\"body\":{\"status\":0,\"error\":\"bad update\"}}",
 "GET /signup?account=acc-engage",
 "GET /emu/requests?path=/engage&wait_for=1&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", '"count": 1,', ".*",
 '"events_sent":1,"events_rejected":2,.*"last_error":"HTTP 200 from /engage: bad update"']



=== TEST 12: a batch of more than 64 KB, gzipped in slices, arrives whole
--- http_config
    mixpanel_batch_size 100;
    mixpanel_flush_interval 1h;
--- config
    location = /big {
        mixpanel track;
        mixpanel_event "Big $arg_n";
        mixpanel_property scenario big;
        mixpanel_property pad $arg_pad;
        mixpanel_property pad2 $arg_pad;
        mixpanel_property pad3 $arg_pad;
        return 200 "ok\n";
    }
--- request eval
[ (map { my $n = $_;
         "GET /big?n=$n&pad="
         . join("", map { sprintf "%08x", ($n * 40503 + $_ * 2654435761)
                                          % 4294967296 } 1 .. 28) }
       1 .. 100),
  "GET /emu/events?prop.scenario=big&wait_for=100&timeout=30" ]
--- response_body_like eval
[ (map { "^ok" } 1 .. 100), '"count": 100,' ]



=== TEST 13: identify_sent counts exactly the $identify records Mixpanel accepted: the event refused
--- config
    location = /signup2 {
        mixpanel signup;
        mixpanel_account_id $arg_account;
        return 200 "ok\n";
    }
--- more_headers eval
["", "Cookie: mp_device_id=33333333-3333-4333-8333-333333333333", "", ""]
--- request eval
["POST /emu/faults\n{\"status\":400,\"count\":1,\"path\":\"/import\",\"body\":{\"code\":400,\"error\":\"some data points in the request failed validation\",\"num_records_imported\":1,\"failed_records\":[{\"index\":1,\"\$insert_id\":\"x\",\"field\":\"properties.time\",\"message\":\"bad\"}]}}",
 "GET /signup2?account=acc-ids-1",
 "GET /emu/events?wait_for=1000&timeout=2",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", ".*",
 '^\{"events_queued":4,"events_sent":3,"events_rejected":1,.*"identify_sent":1,"queue_depth":0,']



=== TEST 14: ... and the $identify refused
--- config
    location = /signup2 {
        mixpanel signup;
        mixpanel_account_id $arg_account;
        return 200 "ok\n";
    }
--- more_headers eval
["", "Cookie: mp_device_id=33333333-3333-4333-8333-333333333334", "", ""]
--- request eval
["POST /emu/faults\n{\"status\":400,\"count\":1,\"path\":\"/import\",\"body\":{\"code\":400,\"error\":\"some data points in the request failed validation\",\"num_records_imported\":1,\"failed_records\":[{\"index\":0,\"\$insert_id\":\"x\",\"field\":\"properties.time\",\"message\":\"bad\"}]}}",
 "GET /signup2?account=acc-ids-2",
 "GET /emu/events?wait_for=1000&timeout=2",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", ".*",
 '^\{"events_queued":4,"events_sent":3,"events_rejected":1,.*"identify_sent":0,"queue_depth":0,']



=== TEST 15: 500, 502 and 504 are retried as 503 is, never rejected (a load balancer in front of Mixpanel answers 502 and 504)
--- config
    location = /tok {
        mixpanel track;
        mixpanel_token $arg_tok;
        mixpanel_property scenario $arg_s;
        return 200 "ok\n";
    }
--- request eval
["POST /emu/faults\n[{\"status\":500,\"count\":1,\"token\":\"tok-500\"},{\"status\":502,\"count\":1,\"token\":\"tok-502\"},{\"status\":504,\"count\":1,\"token\":\"tok-504\"}]",
 "GET /tok?tok=tok-500&s=s5xx", "GET /tok?tok=tok-502&s=s5xx",
 "GET /tok?tok=tok-504&s=s5xx",
 "GET /emu/events?prop.scenario=s5xx&wait_for=3&timeout=30",
 "GET /emu/requests?path=/import&status=502",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", "^ok", "^ok",
 '"count": 3,',
 '"count": 1,.*"status": 502,',
 ".*",
 '^\{"events_queued":3,"events_sent":3,"events_rejected":0,"events_dropped":\{"queue_full":0,"retry_expired":0,"shutdown":0,"worker_died":0,"memory":0\},.*"retries":3,.*"queue_depth":0,']
--- no_error_log
[alert]



=== TEST 16: /engage answers 202 (a relay) with Mixpanel's error body: read as for a 200, the updates counted as rejected
--- more_headers eval
["", "Cookie: mp_device_id=$::D1", "", "", ""]
--- request eval
["POST /emu/faults\n{\"status\":202,\"count\":1,\"path\":\"/engage\",\"body\":{\"status\":0,\"error\":\"bad update\"}}",
 "GET /signup?account=acc-engage-202",
 "GET /emu/requests?path=/engage&status=202&wait_for=1&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", '"count": 1,', ".*",
 '"events_sent":1,"events_rejected":2,.*"last_error":"HTTP 202 from /engage: bad update"']



=== TEST 17: /import answers 202 with a strict body naming one failed record of three: only it is rejected, and counted
--- http_config
    mixpanel_batch_size 3;
--- request eval
["POST /emu/faults\n{\"status\":202,\"count\":1,\"path\":\"/import\",\"body\":{\"code\":400,\"error\":\"some data points in the request failed validation\",\"num_records_imported\":2,\"failed_records\":[{\"index\":1,\"\$insert_id\":\"x\",\"field\":\"properties.time\",\"message\":\"bad\"}]}}",
 "GET /t?n=1&s=s202", "GET /t?n=2&s=s202", "GET /t?n=3&s=s202",
 "GET /emu/requests?path=/import&status=202&wait_for=1&timeout=30",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", "^ok", "^ok", '"count": 1,', ".*",
 '"events_sent":2,"events_rejected":1,.*"retries":0,']



=== TEST 18: strict mode, one record failing on two fields: Mixpanel lists it twice, it is one record rejected, the other two sent
--- http_config
    mixpanel_batch_size 3;
--- request eval
["POST /emu/faults\n{\"status\":400,\"count\":1,\"path\":\"/import\",\"body\":{\"code\":400,\"error\":\"some data points in the request failed validation\",\"num_records_imported\":2,\"failed_records\":[{\"index\":1,\"\$insert_id\":\"x\",\"field\":\"properties.time\",\"message\":\"bad\"},{\"index\":1,\"\$insert_id\":\"x\",\"field\":\"properties.\$insert_id\",\"message\":\"bad too\"}]}}",
 "GET /t?n=1&s=s400x2", "GET /t?n=2&s=s400x2", "GET /t?n=3&s=s400x2",
 "GET /emu/requests?path=/import&status=400&wait_for=4&timeout=30",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", "^ok", "^ok", "^ok", '"count": 4,', ".*",
 '^\{"events_queued":3,"events_sent":2,"events_rejected":1,.*"retries":0,.*"queue_depth":0,']
