# mixpanel_status: the queue's capacity and the age of its oldest event,
# last_error_time in Prometheus too, and an unknown ?format= refused.

use Test::Nginx::Socket 'no_plan';

our $HttpConfig = <<'_EOC_';
    mixpanel_api http://127.0.0.1:1;
    mixpanel_token tok-status;
    mixpanel_queue_size 7;
    mixpanel_timeout 1s;
    limit_req_zone $server_name zone=wait:1m rate=1r/s;
_EOC_

our $Config = <<'_EOC_';
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /status {
        mixpanel_status;
    }

    location = /wait {
        mixpanel off;
        limit_req zone=wait burst=5;
        empty_gif;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config",
                      $HttpConfig . ($block->http_config // ""));
    $block->set_value("config", $Config);

    # what is held at exit is given up after 750 ms, not 5 s
    $block->set_value("main_config", "    worker_shutdown_timeout 1s;\n");
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an empty queue: its capacity, an oldest age of 0, no success yet
--- request
GET /status
--- response_body_like
^\{"events_queued":0,.*"queue_depth":0,"queue_capacity":7,"queue_oldest_age":0,"last_success_time":0,"last_error_time":0,"last_error":""\}$
--- no_error_log
[error]



=== TEST 2: the oldest queued event's age, in seconds
--- http_config
    mixpanel_flush_interval 1h;
--- request eval
["GET /t", "GET /status", "GET /wait", "GET /wait", "GET /wait", "GET /t",
 "GET /status"]
--- response_body_like eval
["^ok", '"queue_depth":1,"queue_capacity":7,"queue_oldest_age":[01],',
 "^GIF", "^GIF", "^GIF",
 "^ok", '"queue_depth":2,"queue_capacity":7,"queue_oldest_age":[23],']



=== TEST 3: Prometheus: capacity, oldest age, last success and last error times
--- http_config
    mixpanel_flush_interval 10ms;
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /status?format=prometheus"]
--- response_body_like eval
["^ok", "^GIF", "^GIF",
 qr/nginx_mixpanel_queue_depth 1\n.*# TYPE nginx_mixpanel_queue_capacity gauge\nnginx_mixpanel_queue_capacity 7\n.*# TYPE nginx_mixpanel_queue_oldest_age_seconds gauge\nnginx_mixpanel_queue_oldest_age_seconds [12]\n.*nginx_mixpanel_last_success_time_seconds 0\n.*# TYPE nginx_mixpanel_last_error_time_seconds gauge\nnginx_mixpanel_last_error_time_seconds 1\d{9}\n/s]



=== TEST 3a: Prometheus: the whole page as the text format wants it: each family's HELP and TYPE once, before its samples, the samples of a family together, every family in its order
--- request eval
["GET /t", "GET /wait", "GET /status?format=prometheus"]
--- response_body_like eval
my @families = (
    [ "events_queued_total", "counter" ],
    [ "events_sent_total", "counter" ],
    [ "events_rejected_total", "counter" ],
    [ "events_dropped_total", "counter",
      map { "reason=\"$_\"" }
          qw(queue_full retry_expired shutdown worker_died memory) ],
    [ "events_spooled_total", "counter" ],
    [ "events_replayed_total", "counter" ],
    [ "events_replay_rejected_total", "counter" ],
    [ "batches_sent_total", "counter" ],
    [ "retries_total", "counter" ],
    [ "identify_sent_total", "counter" ],
    [ "queue_depth", "gauge" ],
    [ "queue_capacity", "gauge" ],
    [ "queue_oldest_age_seconds", "gauge" ],
    [ "last_success_time_seconds", "gauge" ],
    [ "last_error_time_seconds", "gauge" ],
);
my $re = '\A';
for my $f (@families) {
    my ($name, $type, @labels) = @$f;
    $re .= "# HELP nginx_mixpanel_$name [^\\n#]+\\n"
           . "# TYPE nginx_mixpanel_$name $type\\n";
    $re .= "nginx_mixpanel_$name" . quotemeta("{$_}") . " \\d+\\n" for @labels;
    $re .= "nginx_mixpanel_$name \\d+\\n" unless @labels;
}
["^ok", "^GIF", qr/$re\z/]



=== TEST 3b: Prometheus' page is the text format's media type, version 0.0.4 (Prometheus 3 refuses a scrape without a valid Content-Type)
--- request
GET /status?format=prometheus
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body_like: ^# HELP nginx_mixpanel_events_queued_total 



=== TEST 3c: without ?format=, the page is JSON, and says so
--- request
GET /status
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"events_queued":\d+,



=== TEST 3d: HEAD, as uptime monitors and curl -I probe, is answered as GET is, without the body
--- request
HEAD /status?format=prometheus
--- error_code: 200
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body



=== TEST 3e: HEAD of the JSON page
--- request
HEAD /status
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body



=== TEST 3f: other methods are refused
--- request
POST /status
x
--- error_code: 405



=== TEST 4: ?format=json is the JSON
--- request
GET /status?format=json
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"events_queued":\d+,



=== TEST 5: an unknown format is refused
--- request
GET /status?format=xml
--- error_code: 400
--- response_headers
Content-Type: text/plain
--- response_body
unknown format "xml": use "json" or "prometheus"



=== TEST 5a: a format with more after it, or only its beginning, is refused too: prometheusx, prometheu, jsonx, jso
--- request eval
[ map { "GET /status?format=$_" } qw(prometheusx prometheu jsonx jso) ]
--- error_code eval
[ (400) x 4 ]
--- response_body eval
[ map { qq{unknown format "$_": use "json" or "prometheus"\n} }
      qw(prometheusx prometheu jsonx jso) ]



=== TEST 6: a format that differs only in case is refused too
--- request
GET /status?format=Prometheus
--- error_code: 400
--- response_body
unknown format "Prometheus": use "json" or "prometheus"
