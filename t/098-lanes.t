# Lanes and concurrency: each (token, kind) is a lane, so one token's
# 401 or a failing project never holds up another's delivery; the updates
# of a lane are applied in order; several batches are in flight at once
# on reused connections, fewer after a 429; Retry-After is honoured;
# what is logged names the real failure, escaped.

use Test::Nginx::Socket 'no_plan';
use Test::More;
use POSIX ();
use t::Mixpanel;

start_emulator("--identity", "original");

our $HttpConfig = <<'_EOC_';
    mixpanel_api http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT;
    mixpanel_token $arg_tok;
    mixpanel_batch_size 1;
    mixpanel_flush_interval 50ms;
    mixpanel_timeout 30s;
_EOC_

our $Config = <<'_EOC_';
    location = /t {
        mixpanel track;
        mixpanel_event "Event $arg_n";
        mixpanel_property scenario $arg_s;
        return 200 "ok\n";
    }

    location = /p {
        mixpanel profile_update;
        mixpanel_event off;
        mixpanel_account_id $arg_a;
        mixpanel_people_set plan $arg_plan;
        return 200 "ok\n";
    }

    location = /status {
        mixpanel_status;
    }

    location /emu/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT/_emulator/;
        proxy_read_timeout 60s;
    }

    location = /errlog {
        mixpanel off;
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/error.log;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    my $http = $HttpConfig;
    my $own = $block->http_config // "";

    # a block may set its own batch size and flush interval
    $http =~ s/^    (mixpanel_batch_size|mixpanel_flush_interval) .*\n//mg
        if $own =~ /mixpanel_(batch_size|flush_interval)/;
    $block->set_value("http_config", $http . $own);
    $block->set_value("config", $Config);
    $block->set_value("timeout", 90);

    # what is held at exit is given up after 750 ms, not 5 s
    $block->set_value("main_config", "    worker_shutdown_timeout 1s;\n");
});

# a 429 whose Retry-After is a date 10 s from now, when the block starts;
# padded with spaces after the comma to $len bytes (an HTTP date is 29)
sub post_date_fault {
    my ($len) = @_;
    my $date = POSIX::strftime("%a, %d %b %Y %H:%M:%S GMT",
                               gmtime(time + 10));
    $date =~ s/, /"," . (" " x ($len - length($date) + 1))/e if $len;
    emulator("faults/clear", "{}");
    emulator("faults", '{"status":429,"count":1,"retry_after":"' . $date
                       . '","path":"/import"}');
}

no_shuffle();
run_tests();

# Retry-After, from the request log: the retry came no earlier than the
# server asked, where the backoff alone would have been 3 to 7 s
my $log = emulator("requests?path=/import");
my %by;

my %tokens;

for my $req (@{ $log->{requests} }) {
    my $s = $req->{records}[0]{properties}{scenario} // next;
    push @{ $by{$s} }, $req->{received_ms};
    push @{ $tokens{$s} }, $req->{records}[0]{properties}{token};
}

for my $s ("ra-seconds", "ra-lower", "ra-date", "ra-date-63") {
    my @at = @{ $by{$s} // [] };
    is(scalar @at, 2, "$s: two attempts");
    cmp_ok($at[1] - $at[0], '>=', 8000,
           "$s: the retry waited for Retry-After") if @at == 2;
}

# a Retry-After of 20 s is waited for; the next 503, without one, on the
# same connection slot, waits the backoff alone (2 s and up to 5 s of
# jitter), not the last answer's Retry-After
{
    my @one = @{ $by{"ra-stale-1"} // [] };
    my @two = @{ $by{"ra-stale-2"} // [] };
    is(scalar @one, 2, "ra-stale-1: two attempts");
    cmp_ok($one[1] - $one[0], '>=', 18000,
           "ra-stale-1: the retry waited for Retry-After") if @one == 2;
    is(scalar @two, 2, "ra-stale-2: two attempts");
    cmp_ok($two[1] - $two[0], '<', 15000,
           "ra-stale-2: the retry did not wait for the earlier Retry-After")
        if @two == 2;
}

# a value longer than the module reads as a date (63 bytes) is ignored,
# and so is a Retry-After on a 500: the backoff alone, 3 to 7 s
for my $s ("ra-date-64", "ra-500") {
    my @at = @{ $by{$s} // [] };
    is(scalar @at, 2, "$s: two attempts");
    cmp_ok($at[1] - $at[0], '<', 8000,
           "$s: the retry did not wait for the Retry-After")
        if @at == 2;
}

# the lanes take turns: of two projects' batches waiting, one at a time,
# the second project's first goes before the first project's last
{
    my $order = join "", map { /tok-rr-(\w)/ ? $1 : "?" }
                         @{ $tokens{rr} // [] };
    is(length $order, 8, "rr: eight requests, one a batch");
    ok(index($order, "b") >= 0 && index($order, "b") < rindex($order, "a"),
       "rr: the lanes took turns ($order)");
}

__DATA__

=== TEST 1: one token refused (401): another token's events go on being delivered
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":401,\"count\":-1,\"token\":\"tok-a\"}",
 "GET /t?tok=tok-a&s=held",
 "GET /emu/requests?path=/import&status=401&wait_for=1&timeout=20",
 "GET /t?tok=tok-b&s=free",
 "GET /emu/events?prop.scenario=free&wait_for=1&timeout=20",
 "GET /emu/events?prop.scenario=held&wait_for=1&timeout=1",
 "GET /status"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', "^ok",
 '"count": 1,.*"token": "tok-b"',
 '"count": 0,',
 '"events_queued":2,"events_sent":1,.*"queue_depth":1,']
--- shutdown_error_log eval
qr/mixpanel: 1 events dropped on exit, last failure: "[^"]+" refused the credentials \(401\)/
--- no_shutdown_error_log
could not be reached
[alert]



=== TEST 1b: two projects whose tokens begin one another (tok-pq, then tok-p, then tok-pq again, at once): each event is sent with its own token, to its own project
--- request eval
["POST /emu/reset",
 "GET /t?tok=tok-pq&s=pq",
 "GET /t?tok=tok-p&s=p",
 "GET /t?tok=tok-pq&s=pq2",
 "GET /emu/events?wait_for=3&timeout=20",
 "GET /emu/events?token=tok-p",
 "GET /emu/events?token=tok-pq"]
--- response_body_like eval
[".*", "^ok", "^ok", "^ok", '"count": 3,',
 '^\{"count": 1,.*"token": "tok-p",.*"scenario": "p"',
 '^\{"count": 2,']
--- no_error_log
[alert]



=== TEST 2: one project failing (503): another's events go on being delivered
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":503,\"count\":-1,\"token\":\"tok-a\"}",
 "GET /t?tok=tok-a&s=failing",
 "GET /emu/requests?path=/import&status=503&wait_for=1&timeout=20",
 "GET /t?tok=tok-b&s=healthy",
 "GET /emu/events?prop.scenario=healthy&wait_for=1&timeout=20",
 "POST /emu/faults/clear",
 "GET /emu/events?prop.scenario=failing&wait_for=1&timeout=30"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', "^ok",
 '"count": 1,.*"token": "tok-b"', ".*", '"count": 1,.*"token": "tok-a"']
--- no_error_log
[alert]



=== TEST 3: the updates of a lane are applied in order, a retried one holding back the later ones
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":503,\"count\":1,\"path\":\"/engage\"}",
 "GET /p?tok=tok-order&a=acc-order&plan=1",
 "GET /emu/requests?path=/engage&status=503&wait_for=1&timeout=20",
 "GET /p?tok=tok-order&a=acc-order&plan=2",
 "GET /p?tok=tok-order&a=acc-order&plan=3",
 "GET /emu/requests?path=/engage&status=200&wait_for=3&timeout=30",
 "GET /emu/profiles?distinct_id=acc-order"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', "^ok", "^ok",
 '(?s)"count": 3,.*"plan": "1".*"plan": "2".*"plan": "3"',
 '"count": 1,.*"plan": "3"']
--- no_error_log
[alert]



=== TEST 3a: a batch of a lane's updates split by a 413 goes back in order: its first half first (the updates of one person applied as they were made)
--- http_config
    mixpanel_batch_size 4;
    mixpanel_flush_interval 1h;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":413,\"count\":1,\"path\":\"/engage\"}",
 "GET /p?tok=tok-split&a=acc-split&plan=1",
 "GET /p?tok=tok-split&a=acc-split&plan=2",
 "GET /p?tok=tok-split&a=acc-split&plan=3",
 "GET /p?tok=tok-split&a=acc-split&plan=4",
 "GET /emu/requests?path=/engage&status=200&wait_for=2&timeout=30",
 "GET /emu/profiles?distinct_id=acc-split"]
--- response_body_like eval
[".*", ".*", "^ok", "^ok", "^ok", "^ok",
 '(?s)"count": 2,.*"plan": "1".*"plan": "2".*"plan": "3".*"plan": "4"',
 '"count": 1,.*"plan": "4"']
--- no_error_log
[alert]



=== TEST 4: several batches in flight at once, on reused connections
--- http_config
    mixpanel_concurrency 4;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"delay_ms\":1000,\"count\":-1,\"path\":\"/import\"}",
 (map { "GET /t?tok=tok-c&s=concurrent&n=$_" } 1 .. 8),
 "GET /emu/events?prop.scenario=concurrent&wait_for=8&timeout=30",
 "GET /emu/concurrency",
 "POST /emu/faults/clear"]
--- response_body_like eval
[".*", ".*", (("^ok") x 8), '"count": 8,',
 '^\{"in_flight": 0, "max_in_flight": 4, "connections": 4\}$', ".*"]
--- no_error_log
[error]
[alert]



=== TEST 4b: by default, 8 batches in flight at once (12 waiting)
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"delay_ms\":1000,\"count\":-1,\"path\":\"/import\"}",
 (map { "GET /t?tok=tok-c&s=default-8&n=$_" } 1 .. 12),
 "GET /emu/events?prop.scenario=default-8&wait_for=12&timeout=30",
 "GET /emu/concurrency",
 "POST /emu/faults/clear"]
--- response_body_like eval
[".*", ".*", (("^ok") x 12), '"count": 12,',
 '^\{"in_flight": 0, "max_in_flight": 8, "connections": 8\}$', ".*"]
--- no_error_log
[error]
[alert]



=== TEST 5: mixpanel_concurrency 1: one batch at a time, one connection
--- http_config
    mixpanel_concurrency 1;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"delay_ms\":300,\"count\":-1,\"path\":\"/import\"}",
 (map { "GET /t?tok=tok-c&s=serial&n=$_" } 1 .. 4),
 "GET /emu/events?prop.scenario=serial&wait_for=4&timeout=30",
 "GET /emu/concurrency",
 "POST /emu/faults/clear"]
--- response_body_like eval
[".*", ".*", (("^ok") x 4), '"count": 4,',
 '^\{"in_flight": 0, "max_in_flight": 1, "connections": 1\}$', ".*"]
--- no_error_log
[error]
[alert]



=== TEST 6: a 429 halves the batches in flight
--- http_config
    mixpanel_concurrency 4;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n[{\"status\":429,\"count\":1,\"retry_after\":1,\"path\":\"/import\"},{\"hang\":true,\"count\":-1,\"path\":\"/import\"}]",
 "GET /t?tok=tok-aimd&s=aimd&n=1",
 "GET /emu/requests?path=/import&status=429&wait_for=1&timeout=20",
 (map { "GET /t?tok=tok-aimd&s=aimd&n=$_" } 2 .. 7),
 "POST /emu/concurrency/reset",
 "GET /emu/events?wait_for=1000&timeout=9",
 "GET /emu/concurrency",
 "POST /emu/faults/clear",
 "GET /emu/events?prop.scenario=aimd&wait_for=7&timeout=60"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', (("^ok") x 6), ".*", ".*",
 '^\{"in_flight": 2, "max_in_flight": 2, ',
 ".*", '"count": 7,']
--- no_error_log
[alert]



=== TEST 6a: mixpanel_concurrency 1 and a 429: the batches in flight halve to one, not none: the event is delivered after the Retry-After, and the next one too
--- http_config
    mixpanel_concurrency 1;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":429,\"count\":1,\"retry_after\":1,\"path\":\"/import\"}",
 "GET /t?tok=tok-one&s=one&n=1",
 "GET /emu/requests?path=/import&status=429&wait_for=1&timeout=20",
 "GET /emu/events?prop.scenario=one&wait_for=1&timeout=20",
 "GET /t?tok=tok-one&s=one&n=2",
 "GET /emu/events?prop.scenario=one&wait_for=2&timeout=20"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', '"count": 1,', "^ok", '"count": 2,']
--- no_error_log
[alert]



=== TEST 6b: three 429s in a row (4 to 2, to 1, and still 1, not none): the batch is delivered after them, and its success lets one more go (2 in flight)
--- http_config
    mixpanel_concurrency 4;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":429,\"count\":3,\"retry_after\":1,\"path\":\"/import\"}",
 "GET /t?tok=tok-floor&s=floor&n=1",
 "GET /emu/requests?path=/import&status=429&wait_for=3&timeout=30",
 "GET /emu/events?prop.scenario=floor&wait_for=1&timeout=20",
 "POST /emu/faults\n{\"hang\":true,\"count\":-1,\"path\":\"/import\"}",
 (map { "GET /t?tok=tok-floor&s=floor&n=$_" } 2 .. 7),
 "POST /emu/concurrency/reset",
 "GET /emu/events?wait_for=1000&timeout=5",
 "GET /emu/concurrency",
 "POST /emu/faults/clear",
 "GET /emu/events?prop.scenario=floor&wait_for=7&timeout=60"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 3,', '"count": 1,', ".*", (("^ok") x 6),
 ".*", ".*", '^\{"in_flight": 2, "max_in_flight": 2, ', ".*",
 '"count": 7,']
--- no_error_log
[alert]



=== TEST 6c: a 503 pauses the lane but does not halve the batches in flight: 4 still go at once after it
--- http_config
    mixpanel_concurrency 4;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":503,\"count\":1,\"retry_after\":1,\"path\":\"/import\"}",
 "GET /t?tok=tok-503&s=s503&n=1",
 "GET /emu/events?prop.scenario=s503&wait_for=1&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=1",
 "POST /emu/faults\n{\"hang\":true,\"count\":-1,\"path\":\"/import\"}",
 (map { "GET /t?tok=tok-503&s=s503&n=$_" } 2 .. 7),
 "POST /emu/concurrency/reset",
 "GET /emu/events?wait_for=1000&timeout=5",
 "GET /emu/concurrency",
 "POST /emu/faults/clear",
 "GET /emu/events?prop.scenario=s503&wait_for=7&timeout=60"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', ".*", ".*", (("^ok") x 6), ".*", ".*",
 '^\{"in_flight": 4, "max_in_flight": 4, ', ".*", '"count": 7,']
--- no_error_log
[alert]



=== TEST 7: retry time spent: the drop says how long and how many attempts, and the last failure
--- http_config
    mixpanel_retry_max_time 1s;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":503,\"count\":-1,\"path\":\"/import\"}",
 "GET /t?tok=tok-exp&s=expired",
 "GET /emu/requests?path=/import&status=503&wait_for=1&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=1",
 "GET /status",
 "POST /emu/faults/clear",
 "GET /errlog"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', ".*",
 '"events_dropped":\{"queue_full":0,"retry_expired":1,"shutdown":0,"worker_died":0,"memory":0\},.*"queue_depth":0,',
 ".*",
 qr/\[error\] [^\n]*mixpanel: 1 events dropped after 1 attempt in \d+ ms \(mixpanel_retry_max_time 1000 ms\), last failure: "[^"]+" answered 503/]
--- no_error_log
retried for
[alert]



=== TEST 8: Mixpanel's error text is logged escaped: no forged log line
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":400,\"count\":1,\"path\":\"/import\",\"body\":{\"error\":\"bad record\\nFORGED line \\u00e9\\u0001\"}}",
 "GET /t?tok=tok-esc&s=escaped",
 "GET /emu/requests?path=/import&status=400&wait_for=1&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status",
 "GET /errlog"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', ".*",
 qr/"events_rejected":1,.*"last_error":"HTTP 400 from \/import: bad record\\\\x0AFORGED line \\\\xC3\\\\xA9\\\\x01"/,
 qr/\[error\] [^\n]*rejected 1 of 1 events \(400\): "bad record\\x0AFORGED line \\xC3\\xA9\\x01"/]
--- no_error_log eval
[qr/^FORGED/, qr/\[alert\]/]



=== TEST 9: /engage status 1 with an error: counted as sent, the error logged
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":200,\"count\":1,\"path\":\"/engage\",\"body\":{\"status\":1,\"error\":\"some updates were invalid\"}}",
 "GET /p?tok=tok-e1&a=acc-e1&plan=1",
 "GET /emu/requests?path=/engage&wait_for=1&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status",
 "GET /errlog"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', ".*",
 '"events_queued":1,"events_sent":1,"events_rejected":0,',
 qr/\[warn\] [^\n]*mixpanel: "[^"]+" accepted 1 updates with an error: "some updates were invalid"/]
--- no_error_log
[alert]



=== TEST 9a: after a 429 has halved the batches in flight (4 to 2), as many successes as are allowed in flight (2) let one more go (3)
--- http_config
    mixpanel_concurrency 4;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":429,\"count\":1,\"retry_after\":1,\"path\":\"/import\"}",
 "GET /t?tok=tok-ai&s=ai&n=1",
 "GET /emu/events?prop.scenario=ai&wait_for=1&timeout=20",
 "GET /t?tok=tok-ai&s=ai&n=2",
 "GET /emu/events?prop.scenario=ai&wait_for=2&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=1",
 "POST /emu/faults\n{\"hang\":true,\"count\":-1,\"path\":\"/import\"}",
 (map { "GET /t?tok=tok-ai&s=ai&n=$_" } 3 .. 8),
 "POST /emu/concurrency/reset",
 "GET /emu/events?wait_for=1000&timeout=5",
 "GET /emu/concurrency",
 "POST /emu/faults/clear",
 "GET /emu/events?prop.scenario=ai&wait_for=8&timeout=60"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', "^ok", '"count": 2,', ".*", ".*",
 (("^ok") x 6), ".*", ".*",
 '^\{"in_flight": 3, "max_in_flight": 3, ',
 ".*", '"count": 8,']
--- no_error_log
[alert]




=== TEST 9c: once one more is let go (2 to 3), the count of successes starts again: after the 429 (4 to 2), three successes let 3 go, not 4
--- http_config
    mixpanel_concurrency 4;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":429,\"count\":1,\"retry_after\":1,\"path\":\"/import\"}",
 "GET /t?tok=tok-again&s=again&n=1",
 "GET /emu/events?prop.scenario=again&wait_for=1&timeout=20",
 "GET /t?tok=tok-again&s=again&n=2",
 "GET /emu/events?prop.scenario=again&wait_for=2&timeout=20",
 "GET /t?tok=tok-again&s=again&n=3",
 "GET /emu/events?prop.scenario=again&wait_for=3&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=1",
 "POST /emu/faults\n{\"hang\":true,\"count\":-1,\"path\":\"/import\"}",
 (map { "GET /t?tok=tok-again&s=again&n=$_" } 4 .. 9),
 "POST /emu/concurrency/reset",
 "GET /emu/events?wait_for=1000&timeout=5",
 "GET /emu/concurrency",
 "POST /emu/faults/clear",
 "GET /emu/events?prop.scenario=again&wait_for=9&timeout=60"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', "^ok", '"count": 2,', "^ok",
 '"count": 3,', ".*", ".*", (("^ok") x 6), ".*", ".*",
 '^\{"in_flight": 3, "max_in_flight": 3, ',
 ".*", '"count": 9,']
--- no_error_log
[alert]



=== TEST 9d: a 503 between does not start the count of successes again: after the 429 (4 to 2), one success, a 503, and its retry's success let 3 go
--- http_config
    mixpanel_concurrency 4;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":429,\"count\":1,\"retry_after\":1,\"path\":\"/import\"}",
 "GET /t?tok=tok-between&s=between&n=1",
 "GET /emu/events?prop.scenario=between&wait_for=1&timeout=20",
 "POST /emu/faults\n{\"status\":503,\"count\":1,\"retry_after\":1,\"path\":\"/import\"}",
 "GET /t?tok=tok-between&s=between&n=2",
 "GET /emu/events?prop.scenario=between&wait_for=2&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=1",
 "POST /emu/faults\n{\"hang\":true,\"count\":-1,\"path\":\"/import\"}",
 (map { "GET /t?tok=tok-between&s=between&n=$_" } 3 .. 8),
 "POST /emu/concurrency/reset",
 "GET /emu/events?wait_for=1000&timeout=5",
 "GET /emu/concurrency",
 "POST /emu/faults/clear",
 "GET /emu/events?prop.scenario=between&wait_for=8&timeout=60"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', ".*", "^ok", '"count": 2,', ".*", ".*",
 (("^ok") x 6), ".*", ".*",
 '^\{"in_flight": 3, "max_in_flight": 3, ',
 ".*", '"count": 8,']
--- no_error_log
[alert]



=== TEST 9b: successes before a 429 do not count after it: 3 sent (at 4 in flight), a 429 (4 to 2), one success since: still 2 in flight, not 3
--- http_config
    mixpanel_concurrency 4;
--- request eval
["POST /emu/reset",
 (map { "GET /t?tok=tok-pre&s=pre&n=$_" } 1 .. 3),
 "GET /emu/events?prop.scenario=pre&wait_for=3&timeout=20",
 "POST /emu/faults\n{\"status\":429,\"count\":1,\"retry_after\":1,\"path\":\"/import\"}",
 "GET /t?tok=tok-pre&s=mid&n=4",
 "GET /emu/events?prop.scenario=mid&wait_for=1&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=1",
 "POST /emu/faults\n{\"hang\":true,\"count\":-1,\"path\":\"/import\"}",
 (map { "GET /t?tok=tok-pre&s=post&n=$_" } 5 .. 10),
 "POST /emu/concurrency/reset",
 "GET /emu/events?wait_for=1000&timeout=5",
 "GET /emu/concurrency",
 "POST /emu/faults/clear",
 "GET /emu/events?prop.scenario=post&wait_for=6&timeout=60"]
--- response_body_like eval
[".*", (("^ok") x 3), '"count": 3,', ".*", "^ok", '"count": 1,', ".*", ".*",
 (("^ok") x 6), ".*", ".*",
 '^\{"in_flight": 2, "max_in_flight": 2, ',
 ".*", '"count": 6,']
--- no_error_log
[alert]




=== TEST 9e: two batches of one lane in flight: a 429 with Retry-After 12 s (answered after 0.5 s), then the other's 500 (after 1.5 s): the lane waits the longer pause, Retry-After's, not the 500's backoff of 3 to 7 s; both events are delivered after it
--- http_config
    mixpanel_concurrency 2;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n[{\"status\":429,\"count\":1,\"retry_after\":12,\"delay_ms\":500,\"path\":\"/import\"},{\"status\":500,\"count\":1,\"delay_ms\":1500,\"path\":\"/import\"}]",
 "GET /t?tok=tok-longer&s=longer&n=1",
 "GET /t?tok=tok-longer&s=longer&n=2",
 "GET /emu/requests?path=/import&status=500&wait_for=1&timeout=20",
 "GET /emu/requests?path=/import&wait_for=3&timeout=9",
 "GET /emu/events?prop.scenario=longer&wait_for=2&timeout=40",
 "GET /emu/requests?path=/import"]
--- response_body_like eval
[".*", ".*", "^ok", "^ok", '"count": 1,', '^\{"count": 2, "timed_out": true,',
 '"count": 2,', '^\{"count": 4, ']
--- no_error_log
[alert]



=== TEST 9f: /engage answers 200 with status 0: the line says updates, not events
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":200,\"count\":1,\"path\":\"/engage\",\"body\":{\"status\":0,\"error\":\"bad update\"}}",
 "GET /p?tok=tok-e0&a=acc-e0&plan=1",
 "GET /emu/requests?path=/engage&wait_for=1&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /errlog"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', ".*",
 qr/\[error\] [^\n]*mixpanel: "http:\/\/127\.0\.0\.1:\d+" rejected 1 of 1 updates \(200\): "bad update"\n/]
--- no_error_log
[alert]



=== TEST 9g: /engage's connection closed without an answer: the line says updates, not events; retried, then applied
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"close\":true,\"count\":1,\"path\":\"/engage\"}",
 "GET /p?tok=tok-closed&a=acc-closed&plan=1",
 "GET /emu/requests?path=/engage&status=200&wait_for=1&timeout=20",
 "GET /errlog"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,',
 qr/\[error\] [^\n]*mixpanel: sending 1 updates to "http:\/\/127\.0\.0\.1:\d+" failed: [^\n]+\n/]
--- no_error_log
[alert]



=== TEST 9h: six kinds of failure within a second, each in a project of its own: each kind's line is logged, none held back by another's once-a-minute slot (a 503, a connection closed, a 401, a 400, a 307, an /engage error)
--- http_config
    mixpanel_retry_max_time 0;
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n[{\"status\":503,\"count\":1,\"token\":\"tok-k1\",\"path\":\"/import\"},{\"close\":\"partial\",\"count\":1,\"token\":\"tok-k2\",\"path\":\"/import\"},{\"status\":401,\"count\":1,\"token\":\"tok-k3\",\"path\":\"/import\"},{\"status\":400,\"count\":1,\"token\":\"tok-k4\",\"path\":\"/import\"},{\"status\":307,\"count\":1,\"token\":\"tok-k5\",\"path\":\"/import\"},{\"status\":200,\"count\":1,\"token\":\"tok-k6\",\"path\":\"/engage\",\"body\":{\"status\":1,\"error\":\"some updates were invalid\"}}]",
 "GET /t?tok=tok-k1&s=kinds&n=1",
 "GET /t?tok=tok-k2&s=kinds&n=2",
 "GET /t?tok=tok-k3&s=kinds&n=3",
 "GET /t?tok=tok-k4&s=kinds&n=4",
 "GET /t?tok=tok-k5&s=kinds&n=5",
 "GET /p?tok=tok-k6&a=acc-k6&plan=1",
 "GET /emu/requests?wait_for=6&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=1",
 "GET /errlog"]
--- response_body_like eval
[".*", ".*", "^ok", "^ok", "^ok", "^ok", "^ok", "^ok", '"count": 6,', ".*",
 qr/\A(?=.*\[warn\] [^\n]*mixpanel: "[^"]+" answered 503, will retry\n)(?=.*\[error\] [^\n]*mixpanel: sending 1 events to "[^"]+" failed: [^\n]+\n)(?=.*\[error\] [^\n]*mixpanel: "[^"]+" refused the credentials \(401\))(?=.*\[error\] [^\n]*mixpanel: "[^"]+" rejected 1 of 1 events \(400\))(?=.*\[error\] [^\n]*mixpanel: "[^"]+" answered 307, a redirect)(?=.*\[warn\] [^\n]*mixpanel: "[^"]+" accepted 1 updates with an error)/s]
--- no_error_log
[alert]



=== TEST 10: Retry-After in seconds is honoured on 503
--- request eval
["POST /emu/reset",
 "POST /emu/faults\n{\"status\":503,\"count\":1,\"retry_after\":9,\"path\":\"/import\"}",
 "GET /t?tok=tok-ra&s=ra-seconds",
 "GET /emu/events?prop.scenario=ra-seconds&wait_for=1&timeout=40"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,']
--- no_error_log
[alert]



=== TEST 10a: Retry-After honoured when its name comes in lower case, as over HTTP/2 (libcurl speaks it to api.mixpanel.com when it can) and from some proxies
--- request eval
["POST /emu/faults\n{\"status\":503,\"count\":1,\"retry_after\":9,\"header_case\":\"lower\",\"path\":\"/import\"}",
 "GET /t?tok=tok-ra&s=ra-lower",
 "GET /emu/events?prop.scenario=ra-lower&wait_for=1&timeout=40"]
--- response_body_like eval
[".*", "^ok", '"count": 1,']
--- no_error_log
[alert]



=== TEST 10b: Retry-After on a 500 is not Mixpanel's "come back then": the backoff alone (docs/delivery.md: it replaces the backoff on 429 and 503)
--- request eval
["POST /emu/faults\n{\"status\":500,\"count\":1,\"retry_after\":20,\"path\":\"/import\"}",
 "GET /t?tok=tok-ra&s=ra-500",
 "GET /emu/events?prop.scenario=ra-500&wait_for=1&timeout=40"]
--- response_body_like eval
[".*", "^ok", '"count": 1,']
--- no_error_log
[alert]



=== TEST 11: Retry-After as an HTTP date is honoured on 429
--- init
main::post_date_fault();
--- request eval
["GET /t?tok=tok-ra&s=ra-date",
 "GET /emu/events?prop.scenario=ra-date&wait_for=1&timeout=40"]
--- response_body_like eval
["^ok", '"count": 1,']
--- no_error_log
[alert]



=== TEST 11a: Retry-After as an HTTP date of 63 bytes (spaces within), the most the module reads, is honoured
--- init
main::post_date_fault(63);
--- request eval
["GET /t?tok=tok-ra&s=ra-date-63",
 "GET /emu/events?prop.scenario=ra-date-63&wait_for=1&timeout=40"]
--- response_body_like eval
["^ok", '"count": 1,']
--- no_error_log
[alert]



=== TEST 11b: Retry-After of 64 bytes is not read as a date: the backoff alone (and no byte written past the module's buffer)
--- init
main::post_date_fault(64);
--- request eval
["GET /t?tok=tok-ra&s=ra-date-64",
 "GET /emu/events?prop.scenario=ra-date-64&wait_for=1&timeout=40"]
--- response_body_like eval
["^ok", '"count": 1,']
--- no_error_log
[alert]



=== TEST 11c: a Retry-After is its answer's own: the next 503, without one, waits the backoff alone, not the last Retry-After (one batch at a time: the same connection slot answers both)
--- http_config
    mixpanel_concurrency 1;
--- request eval
["POST /emu/faults/clear\n{}",
 "POST /emu/faults\n{\"status\":503,\"count\":1,\"retry_after\":20,\"path\":\"/import\"}",
 "GET /t?tok=tok-ra&s=ra-stale-1",
 "GET /emu/events?prop.scenario=ra-stale-1&wait_for=1&timeout=50",
 "POST /emu/faults\n{\"status\":503,\"count\":1,\"path\":\"/import\"}",
 "GET /t?tok=tok-ra&s=ra-stale-2",
 "GET /emu/events?prop.scenario=ra-stale-2&wait_for=1&timeout=50"]
--- response_body_like eval
[".*", ".*", "^ok", '"count": 1,', ".*", "^ok", '"count": 1,']
--- no_error_log
[alert]



=== TEST 12: one batch in flight at a time, two projects' batches waiting: the lanes take turns (round robin), one busy project does not hold back the other (the order is checked at the end)
--- http_config
    mixpanel_concurrency 1;
--- request eval
["POST /emu/faults\n{\"delay_ms\":1000,\"count\":1,\"path\":\"/import\"}",
 (map { "GET /t?tok=tok-rr-a&s=rr&n=$_" } 1 .. 4),
 (map { "GET /t?tok=tok-rr-b&s=rr&n=$_" } 1 .. 4),
 "GET /emu/events?prop.scenario=rr&wait_for=8&timeout=30"]
--- response_body_like eval
[".*", ("^ok") x 8, '"count": 8,']
--- no_error_log
[alert]
