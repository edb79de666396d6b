# Every counter of mixpanel_status by exact value, per reason, in JSON and
# in Prometheus' format alike (each block states all twelve, so two
# counters swapped in either output fail it): events_sent, batches_sent
# and identify_sent; events_rejected from strict-mode 400s, counted from
# their failed_records, and from other 4xx; 413 splitting a batch in
# halves (2+2, 1+1) and rejecting a single event still too large;
# queue_full with a slow Mixpanel; retries and retry_expired with
# Mixpanel down.  Mixpanel is the emulator with faults, or nothing at
# all; blocks wait for the sender by polling the status page
# (t/Settle.pm), and read what reached the emulator as "status:records"
# per request, sorted (two halves of a split may arrive in either order).
#
# Not here, left to the sender's rewrite: events_dropped.shutdown and
# events_spooled by exact non-zero value (no test has them yet), and
# events_replayed (t/092-spool.t has it exactly); all three are 0 in
# every block here, so a swap among them would pass this file.

use Test::Nginx::Socket 'no_plan';
use t::Mixpanel;
use t::Settle;

use JSON::PP ();

start_emulator("--identity", "original");

our $HttpConfig = <<'_EOC_';
    mixpanel_token tok-counters;
    mixpanel_timeout 5s;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
_EOC_

our $Config = <<'_EOC_';
    location = /t {
        mixpanel track;
        mixpanel_event "Event $arg_n";
        return 200 "ok\n";
    }

    location = /p {
        mixpanel track;
        mixpanel_event "Event $arg_n";
        mixpanel_account_id $http_x_account;
        mixpanel_device_id $http_x_device;
        mixpanel_people_set plan pro;
        return 200 "ok\n";
    }

    location = /id {
        mixpanel track;
        mixpanel_event "Event $arg_n";
        mixpanel_account_id $http_x_account;
        mixpanel_device_id $http_x_device;
        return 200 "ok\n";
    }

    location = /settle {
        return 200 "settle $arg_n\n";
    }

    location = /status {
        mixpanel_status;
    }

    location = /errlog {
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/error.log;
    }

    location /emu/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT/_emulator/;
        proxy_read_timeout 60s;
    }
_EOC_

# the emulator's request log as "status:records ..." (sorted); anything
# else as it is
sub requests_filter {
    my ($text) = @_;

    return $text unless defined $text && $text =~ /^\{"count": \d+/
                        && $text =~ /"requests": \[/;

    my $log = eval { JSON::PP::decode_json($text) } or return $text;

    return "requests: " . join(" ", sort map {
        ($_->{status} // "none") . ":" . scalar @{ $_->{records} // [] }
    } @{ $log->{requests} }) . "\n";
}

# the error log as its module lines at info level and above, without
# time and pid
sub errlog_filter {
    my ($text) = @_;

    return $text unless defined $text
                        && $text =~ m{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[};

    my @lines = grep { /\[(?:info|notice|warn|error|crit|alert|emerg)\]/
                       && /mixpanel/ } split /\n/, $text;

    s/^\S+ \S+ (\[\w+\]) \S+ /$1 / for @lines;

    return join("", map { "$_\n" } @lines);
}

# the step that reads the counters, JSON and Prometheus
sub status_steps {
    my (%want) = @_;
    my $more = delete $want{json} // '';
    return ({ req => "GET /status", body => counters_re(%want) . $more },
            { req => "GET /status?format=prometheus",
              body => prometheus_re(%want) });
}

sub fault {
    my ($spec) = @_;
    return { req => "POST /emu/faults\n" . JSON::PP->new->canonical
                                                   ->encode($spec),
             body => '"id"' };
}

settle_hook();
check_accum_error_log();

use_steps(prepare => sub {
    my $block = shift;

    my $http = $block->http_config // "";
    $http = "    mixpanel_api http://127.0.0.1:\$TEST_NGINX_EMULATOR_PORT;\n"
            . $http unless $http =~ /mixpanel_api/;

    $block->set_value("http_config", $HttpConfig . $http);
    $block->set_value("config", $Config . ($block->config // ""));
    $block->set_value("timeout", 60);
    $block->set_value("no_error_log", "[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("response_body_filters",
                      [\&requests_filter, \&errlog_filter]);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: events and people updates sent, batches, and identify_sent: $identify once per device and account
--- http_config
    mixpanel_flush_interval 100ms;
--- steps eval
[ { req => "POST /emu/reset", body => '"ok": true' },
  { req => "GET /p?n=1", hdr => "X-Device: $::D1\nX-Account: acc-1",
    queued => 3 },
  { req => "GET /id?n=2", hdr => "X-Device: $::D1\nX-Account: acc-1",
    queued => 4 },
  { req => "GET /id?n=3", hdr => "X-Device: $::D2\nX-Account: acc-1",
    queued => 6 },
  { req => "GET /id?n=4", hdr => "X-Device: $::D2", queued => 7 },
  { req => "GET /emu/requests", body => '^requests: 200:1 200:1 200:1 200:2 200:2\n\z' },
  { req => "GET /emu/identity?outcome=merged", body => '"count": 2,' },
  ::status_steps(events_queued => 7, events_sent => 7, events_rejected => 0,
                 queue_full => 0, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 5, retries => 0, identify_sent => 2,
                 queue_depth => 0,
                 json => '(?=.*"last_success_time":1\d{9},"last_error_time":0,"last_error":""\})') ]
--- no_error_log
[error]
[warn]



=== TEST 2: strict-mode 400s: the records listed in failed_records are rejected, the rest of the batch is sent
--- http_config
    mixpanel_batch_size 5;
    mixpanel_flush_interval 1h;
--- steps eval
my $fail = sub {
    my ($imported, @index) = @_;
    return ::fault({ status => 400, count => 1, path => "/import",
                     body => { code => 400, status => "Bad Request",
                               error => "some data points in the request failed validation",
                               num_records_imported => $imported,
                               failed_records => [ map { { index => $_,
                                   '$insert_id' => "x$_",
                                   field => "properties.time",
                                   message => "bad" } } @index ] } });
};
my $batch = sub {
    my ($from, $queued) = @_;
    return ((map { { req => "GET /t?n=$_" } } $from .. $from + 3),
            { req => "GET /t?n=" . ($from + 4), queued => $queued });
};
[ { req => "POST /emu/reset", body => '"ok": true' },
  $fail->(3, 1, 3), $batch->(1, 5),
  $fail->(1, 0, 1, 2, 4), $batch->(6, 10),
  $fail->(0, 2, 3), $batch->(11, 15),
  { req => "GET /emu/requests", body => '^requests: 400:5 400:5 400:5\n\z' },
  { req => "GET /errlog",
    body => '^\[error\] [^\n]*mixpanel: "http://127\.0\.0\.1:\d+" rejected 2 of 5 events \(400\): "some data points in the request failed validation"\n\z' },
  ::status_steps(events_queued => 15, events_sent => 7, events_rejected => 8,
                 queue_full => 0, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 3, retries => 0, identify_sent => 0,
                 queue_depth => 0) ]



=== TEST 2a: a strict 400 that lists failed_records without num_records_imported: the listed records are rejected, the rest sent
--- http_config
    mixpanel_batch_size 5;
    mixpanel_flush_interval 1h;
--- steps eval
[ { req => "POST /emu/reset", body => '"ok": true' },
  ::fault({ status => 400, count => 1, path => "/import",
            body => { code => 400, status => "Bad Request",
                      error => "some data points in the request failed validation",
                      failed_records => [ map { { index => $_,
                          '$insert_id' => "x$_", field => "properties.time",
                          message => "bad" } } (1, 3) ] } }),
  (map { { req => "GET /t?n=$_" } } 1 .. 4),
  { req => "GET /t?n=5", queued => 5 },
  { req => "GET /emu/requests", body => '^requests: 400:5\n\z' },
  ::status_steps(events_queued => 5, events_sent => 3, events_rejected => 2,
                 queue_full => 0, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 1, retries => 0, identify_sent => 0,
                 queue_depth => 0) ]



=== TEST 3: a 400 without failed_records and a 404 reject their whole batch, with nothing retried
--- http_config
    mixpanel_batch_size 2;
    mixpanel_flush_interval 1h;
--- steps eval
[ { req => "POST /emu/reset", body => '"ok": true' },
  ::fault({ status => 400, count => 1, path => "/import",
            body => { code => 400, status => "Bad Request",
                      error => "invalid JSON on line 1" } }),
  { req => "GET /t?n=1" }, { req => "GET /t?n=2", queued => 2 },
  ::fault({ status => 404, count => 1, path => "/import" }),
  { req => "GET /t?n=3" }, { req => "GET /t?n=4", queued => 4 },
  { req => "GET /t?n=5" }, { req => "GET /t?n=6", queued => 6 },
  { req => "GET /emu/requests", body => '^requests: 200:2 400:2 404:2\n\z' },
  { req => "GET /errlog",
    body => '^\[error\] [^\n]*mixpanel: "http://127\.0\.0\.1:\d+" rejected 2 of 2 events \(400\): "invalid JSON on line 1"\n\z' },
  ::status_steps(events_queued => 6, events_sent => 2, events_rejected => 4,
                 queue_full => 0, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 1, retries => 0, identify_sent => 0,
                 queue_depth => 0) ]



=== TEST 3a: a batch rejected whole is no success: last_success_time stays 0, last_error_time is set; the next batch accepted sets it
--- http_config
    mixpanel_batch_size 2;
    mixpanel_flush_interval 1h;
--- steps eval
[ { req => "POST /emu/reset", body => '"ok": true' },
  ::fault({ status => 404, count => 1, path => "/import" }),
  { req => "GET /t?n=1" }, { req => "GET /t?n=2", queued => 2 },
  ::status_steps(events_queued => 2, events_sent => 0, events_rejected => 2,
                 queue_full => 0, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 0, retries => 0, identify_sent => 0,
                 queue_depth => 0,
                 json => '(?=.*"last_success_time":0,"last_error_time":1\d{9},"last_error":"HTTP 404 from /import)'),
  { req => "GET /t?n=3" }, { req => "GET /t?n=4", queued => 4 },
  { req => "GET /emu/requests", body => '^requests: 200:2 404:2\n\z' },
  ::status_steps(events_queued => 4, events_sent => 2, events_rejected => 2,
                 queue_full => 0, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 1, retries => 0, identify_sent => 0,
                 queue_depth => 0,
                 json => '(?=.*"last_success_time":1\d{9},"last_error_time":1\d{9},)') ]



=== TEST 4: 413 on a batch of 4 splits it 2+2, and every event is sent
--- http_config
    mixpanel_batch_size 4;
    mixpanel_flush_interval 1h;
--- steps eval
[ { req => "POST /emu/reset", body => '"ok": true' },
  ::fault({ status => 413, count => 1, path => "/import" }),
  (map { { req => "GET /t?n=$_" } } 1 .. 3),
  { req => "GET /t?n=4", queued => 4 },
  { req => "GET /emu/requests", body => '^requests: 200:2 200:2 413:4\n\z' },
  { req => "GET /emu/events", body => '^\{"count": 4,' },
  ::status_steps(events_queued => 4, events_sent => 4, events_rejected => 0,
                 queue_full => 0, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 2, retries => 0, identify_sent => 0,
                 queue_depth => 0) ]
--- no_error_log
[error]



=== TEST 4a: 413 on a batch of 5, odd, splits it 2+3: each half counts what it holds, and every event is sent once
--- http_config
    mixpanel_batch_size 5;
    mixpanel_flush_interval 1h;
--- steps eval
[ { req => "POST /emu/reset", body => '"ok": true' },
  ::fault({ status => 413, count => 1, path => "/import" }),
  (map { { req => "GET /t?n=$_" } } 1 .. 4),
  { req => "GET /t?n=5", queued => 5 },
  { req => "GET /emu/requests", body => '^requests: 200:2 200:3 413:5\n\z' },
  { req => "GET /emu/events", body => '^\{"count": 5,' },
  ::status_steps(events_queued => 5, events_sent => 5, events_rejected => 0,
                 queue_full => 0, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 2, retries => 0, identify_sent => 0,
                 queue_depth => 0) ]
--- no_error_log
[error]



=== TEST 5: 413 on a batch of 2 splits it 1+1; a single event still too large is rejected, and logged with its size (the split itself is not)
--- http_config
    mixpanel_batch_size 2;
    mixpanel_flush_interval 1h;
--- steps eval
[ { req => "POST /emu/reset", body => '"ok": true' },
  ::fault({ status => 413, count => 1, path => "/import" }),
  { req => "GET /t?n=1" }, { req => "GET /t?n=2", queued => 2 },
  { req => "GET /emu/requests", body => '^requests: 200:1 200:1 413:2\n\z' },
  ::fault({ status => 413, count => 2, path => "/import" }),
  { req => "GET /t?n=3" }, { req => "GET /t?n=4", queued => 4 },
  { req => "GET /emu/requests", body => '^requests: 200:1 200:1 200:1 413:1 413:2 413:2\n\z' },
  { req => "GET /emu/events", body => '^\{"count": 3,' },
  { req => "GET /errlog",
    body => '^\[error\] [^\n]*mixpanel: "http://127\.0\.0\.1:\d+" refused a record of [1-9]\d\d bytes as too large \(413\)\n\z' },
  ::status_steps(events_queued => 4, events_sent => 3, events_rejected => 1,
                 queue_full => 0, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 3, retries => 0, identify_sent => 0,
                 queue_depth => 0) ]



=== TEST 6: a full queue while Mixpanel is slow: the newest events are dropped and counted; once it drains, events are queued again
--- http_config
    mixpanel_queue_size 2;
    mixpanel_batch_size 2;
    mixpanel_flush_interval 1h;
--- steps eval
[ { req => "POST /emu/reset", body => '"ok": true' },
  ::fault({ delay_ms => 3000, count => 1, path => "/import" }),
  (map { { req => "GET /t?n=$_" } } 1 .. 4),
  { req => "GET /t?n=5", queued => 2 },
  { req => "GET /t?n=6" }, { req => "GET /t?n=7", queued => 4 },
  { req => "GET /emu/requests", body => '^requests: 200:2 200:2\n\z' },
  { req => "GET /errlog",
    body => '^\[warn\] [^\n]*mixpanel: queue of 2 events is full, new events are dropped\n\z' },
  { req => "GET /emu/events", body => '^\{"count": 4,.*"event": "Event 1".*"event": "Event 2".*"event": "Event 6".*"event": "Event 7"' },
  ::status_steps(events_queued => 4, events_sent => 4, events_rejected => 0,
                 queue_full => 3, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 2, retries => 0, identify_sent => 0,
                 queue_depth => 0) ]



=== TEST 7: Mixpanel down: one retry, then the batch is dropped when mixpanel_retry_max_time is spent; the drop line's time is from the first attempt to the second's failure (the retry 3 to 7 s after the first: 2 s and 1 to 5 s of jitter; the next would be past 7.5 s)
--- http_config
    mixpanel_api http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    mixpanel_batch_size 2;
    mixpanel_flush_interval 1h;
    mixpanel_retry_max_time 7500ms;
--- steps eval
[ { req => "GET /t?n=1" }, { req => "GET /t?n=2", queued => 2 },
  { req => "GET /errlog",
    body => '^(?:\[error\] [^\n]*mixpanel: sending 2 events to "http://127\.0\.0\.1:\d+" failed: [^\n]+\n)?\[error\] [^\n]*mixpanel: 2 events dropped after 2 attempts in [3-7]\d{3} ms \(mixpanel_retry_max_time 7500 ms\), last failure: could not connect to "http://127\.0\.0\.1:\d+"\n\z' },
  ::status_steps(events_queued => 2, events_sent => 0, events_rejected => 0,
                 queue_full => 0, retry_expired => 2, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 0, retries => 1, identify_sent => 0,
                 queue_depth => 0,
                 json => '(?=.*"last_success_time":0,"last_error_time":1\d{9},"last_error":"Failed to connect to 127\.0\.0\.1 port \d+)') ]



=== TEST 7a: mixpanel_retry_max_time 0: a batch that Mixpanel accepts is sent; the next, which fails once, is not retried: it is dropped at once and counted (1 attempt, no retry, in less than a second)
--- http_config
    mixpanel_batch_size 2;
    mixpanel_flush_interval 1h;
    mixpanel_retry_max_time 0;
--- steps eval
[ { req => "POST /emu/reset", body => '"ok": true' },
  { req => "GET /t?n=1" }, { req => "GET /t?n=2", queued => 2 },
  { req => "GET /emu/requests", body => '^requests: 200:2\n\z' },
  ::fault({ status => 503, count => 1, path => "/import" }),
  { req => "GET /t?n=3" }, { req => "GET /t?n=4", queued => 4 },
  { req => "GET /emu/requests", body => '^requests: 200:2 503:2\n\z' },
  { req => "GET /errlog",
    body => '^\[warn\] [^\n]*mixpanel: "[^"]+" answered 503, will retry\n\[error\] [^\n]*mixpanel: 2 events dropped after 1 attempt in \d{1,3} ms \(mixpanel_retry_max_time 0 ms\), last failure: "[^"]+" answered 503\n\z' },
  ::status_steps(events_queued => 4, events_sent => 2, events_rejected => 0,
                 queue_full => 0, retry_expired => 2, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 1, retries => 0, identify_sent => 0,
                 queue_depth => 0) ]



=== TEST 8: 503 twice, then accepted: two retries, sent once
--- http_config
    mixpanel_batch_size 3;
    mixpanel_flush_interval 1h;
--- steps eval
[ { req => "POST /emu/reset", body => '"ok": true' },
  ::fault({ status => 503, count => 2, path => "/import" }),
  { req => "GET /t?n=1" }, { req => "GET /t?n=2" },
  { req => "GET /t?n=3", queued => 3 },
  { req => "GET /emu/requests", body => '^requests: 200:3 503:3 503:3\n\z' },
  ::status_steps(events_queued => 3, events_sent => 3, events_rejected => 0,
                 queue_full => 0, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 1, retries => 2, identify_sent => 0,
                 queue_depth => 0) ]



=== TEST 9: queue_depth is what the workers hold: events waiting for their batch, beside those the full queue refused
--- http_config
    mixpanel_queue_size 3;
    mixpanel_batch_size 10;
    mixpanel_flush_interval 1h;
--- steps eval
[ { req => "POST /emu/reset", body => '"ok": true' },
  (map { { req => "GET /t?n=$_" } } 1 .. 5),
  ::status_steps(events_queued => 3, events_sent => 0, events_rejected => 0,
                 queue_full => 2, retry_expired => 0, shutdown => 0,
                 events_spooled => 0, events_replayed => 0,
                 batches_sent => 0, retries => 0, identify_sent => 0,
                 queue_depth => 3,
                 json => '(?=.*"last_success_time":0,"last_error_time":0,"last_error":""\})') ]
--- shutdown_error_log
mixpanel: sending 3 queued events before exit



=== TEST 10: what the emulator got from the nginx that quit: the three events it held
--- config
--- steps eval
[ { req => "GET /emu/events?wait_for=3&timeout=20",
    body => '^\{"count": 3,.*"event": "Event 1".*"event": "Event 2".*"event": "Event 3"' } ]
