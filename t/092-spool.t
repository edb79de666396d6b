# mixpanel_spool: batches an exiting worker could not deliver are written
# to files and sent by the next nginx once Mixpanel answers again; a
# corrupt file is moved aside.  Any token survives the file's header; a
# file set aside does not count against max_size; temporary files left by
# a worker that died are removed (not one written less than a minute ago,
# nor one a writer holds); a 413 on replay splits the batch; a
# claim left by an earlier version (".claimed") is taken back; a replayed
# $identify counts in identify_sent.

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);
use t::Mixpanel;
use HTTP::Tiny;
use Fcntl qw(:flock);

$ENV{TEST_NGINX_SPOOL} = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_SPOOL_BAD} = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_SPOOL_CORRUPT} = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_SPOOL_TMP} = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_SPOOL_SPLIT} = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_SPOOL_OLD} = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_SPOOL_PEOPLE} = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_SPOOL_REJECT} = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_SPOOL_IDENTIFY} = tempdir(CLEANUP => 1);

# the workers run as nobody
chmod 0777, map { $ENV{"TEST_NGINX_SPOOL$_"} }
                "", qw(_BAD _CORRUPT _TMP _SPLIT _OLD _PEOPLE _REJECT
                       _IDENTIFY);

sub put {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}

put("$ENV{TEST_NGINX_SPOOL_BAD}/mp-1-1-1.json",
    "{\"kind\":\"import\",\"token\":\"t\",\"count\":2}\n[{\"event\":");

# 4 KB set aside earlier, against a max_size of 1k
put("$ENV{TEST_NGINX_SPOOL_CORRUPT}/mp-9-9-9.json.corrupt", "x" x 4096);

# a worker died while it wrote this, two minutes ago: older than the
# minute docs/delivery.md gives a writer (not ten)
put("$ENV{TEST_NGINX_SPOOL_TMP}/.mp-1-1-1.tmp", "{\"kind\":");
utime time - 120, time - 120, "$ENV{TEST_NGINX_SPOOL_TMP}/.mp-1-1-1.tmp";

# ... and two it must leave: one written less than a minute ago (its date
# a day ahead, however long the blocks before take), and one as old that
# a writer still holds (its lock held by this test until the end)
put("$ENV{TEST_NGINX_SPOOL_TMP}/.mp-1-1-2.tmp", "{\"kind\":");
utime time + 86400, time + 86400, "$ENV{TEST_NGINX_SPOOL_TMP}/.mp-1-1-2.tmp";
put("$ENV{TEST_NGINX_SPOOL_TMP}/.mp-1-1-3.tmp", "{\"kind\":");
utime time - 3600, time - 3600, "$ENV{TEST_NGINX_SPOOL_TMP}/.mp-1-1-3.tmp";
open our $Held, '<', "$ENV{TEST_NGINX_SPOOL_TMP}/.mp-1-1-3.tmp" or die $!;
flock $Held, LOCK_EX | LOCK_NB or die "flock: $!";

# a claim an earlier version left when its worker died
my $t = int(time * 1000) - 60000;
put("$ENV{TEST_NGINX_SPOOL_OLD}/mp-1-2-3.json.claimed",
    "{\"kind\":\"import\",\"token\":\"tok-spool\",\"count\":2}\n["
    . join(",", map {
          "{\"event\":\"Old\",\"properties\":{\"token\":\"tok-spool\","
          . "\"time\":" . ($t + $_) . ",\"distinct_id\":\"d$_\","
          . "\"\$insert_id\":\"" . sprintf("%032x", 4242 + $_) . "\","
          . "\"scenario\":\"claimed\"}}"
      } 1, 2) . "]");

# three spooled events, the second two hours ahead: Mixpanel refuses it
put("$ENV{TEST_NGINX_SPOOL_REJECT}/mp-1-2-4.json",
    "{\"kind\":\"import\",\"token\":\"tok-spool\",\"count\":3}\n["
    . join(",", map {
          "{\"event\":\"Spooled\",\"properties\":{\"token\":\"tok-spool\","
          . "\"time\":" . ($t + ($_ == 2 ? 7260000 : $_)) . ","
          . "\"distinct_id\":\"r$_\",\"\$insert_id\":\""
          . sprintf("%032x", 4342 + $_) . "\",\"scenario\":\"reject\"}}"
      } 1, 2, 3) . "]");

# a $identify spooled as the module writes it, and a Log In of the device
{
    my $d = "44444444-4444-4444-8444-444444444444";
    my $head = sub {
        my ($event, $n) = @_;
        return "{\"event\":\"$event\",\"properties\":{\"token\":"
               . "\"tok-spool\",\"time\":" . ($t + $n) . ",\"distinct_id\":"
               . "\"acc-sp\",\"\$device_id\":\"$d\",\"\$insert_id\":\""
               . sprintf("%032x", 4442 + $n) . "\",\"mp_lib\":\"nginx\","
               . "\"\$lib_version\":\"1.0.0\",\"ip\":\"127.0.0.1\"";
    };
    put("$ENV{TEST_NGINX_SPOOL_IDENTIFY}/mp-1-2-5.json",
        "{\"kind\":\"import\",\"token\":\"tok-spool\",\"count\":2}\n["
        . $head->('$identify', 1) . ",\"\$identified_id\":\"acc-sp\","
        . "\"\$anon_id\":\"$d\"}},"
        . $head->('Log In', 2) . ",\"scenario\":\"identify\"}}]");
}

start_emulator("--identity", "original");

# a people update spooled long ago, and a newer one Mixpanel applied since
put("$ENV{TEST_NGINX_SPOOL_PEOPLE}/mp-1-1-1.json",
    "{\"kind\":\"engage\",\"token\":\"tok-spool\",\"count\":2,"
    . "\"time\":1}\n{\"\$token\":\"tok-spool\",\"\$distinct_id\":"
    . "\"acc-people\",\"\$set\":{\"plan\":\"old\",\"seats\":3}}\n"
    # a $set_once of that version: as it was ("$set" only begins it)
    . "{\"\$token\":\"tok-spool\",\"\$distinct_id\":\"acc-once\","
    . "\"\$set_once\":{\"first\":\"yes\"}}\n");

{
    my $r = HTTP::Tiny->new->post(
        "http://127.0.0.1:$ENV{TEST_NGINX_EMULATOR_PORT}/engage?verbose=1",
        { content => '[{"$token":"tok-spool","$distinct_id":"acc-people",'
                     . '"$set":{"plan":"new"}}]',
          headers => { "Content-Type" => "application/json" } });
    die "engage: $r->{status}" unless $r->{success};
}

our $HttpConfig = <<'_EOC_';
    mixpanel_api http://127.0.0.1:$TEST_NGINX_EMULATOR_PORT;
    mixpanel_token tok-spool;
    mixpanel_timeout 1s;
_EOC_

our $Config = <<'_EOC_';
    location = /t {
        mixpanel track;
        mixpanel_property scenario $arg_s;
        return 200 "ok\n";
    }

    location = /q {
        mixpanel track;
        mixpanel_token $http_x_tok;
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
    my $http = $block->http_config // "";
    $http .= "    mixpanel_flush_interval 50ms;\n"
        unless $http =~ /mixpanel_flush_interval/;
    $block->set_value("http_config", $HttpConfig . $http);
    $block->set_value("config", $Config);
    $block->set_value("timeout", 60);
});

no_shuffle();
run_tests();

ok(!-e "$ENV{TEST_NGINX_SPOOL_TMP}/.mp-1-1-1.tmp",
   "a temporary file no one writes any more was removed");
ok(-e "$ENV{TEST_NGINX_SPOOL_TMP}/.mp-1-1-2.tmp",
   "one written less than a minute ago was left");
ok(-e "$ENV{TEST_NGINX_SPOOL_TMP}/.mp-1-1-3.tmp",
   "one a writer holds was left");
close $Held;

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
qr/mixpanel: spool file "[^"]+\/mp-1-1-1\.json" is corrupt, moved aside as "[^"]+\/mp-1-1-1\.json\.corrupt"/
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



=== TEST 6: a token with a quote and a backslash is spooled at exit
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL;
--- request eval
["POST /emu/faults\n{\"status\":503,\"count\":-1,\"path\":\"/import\"}",
 "GET /q?s=quote"]
--- more_headers eval
["", "X-Tok: tok\"q\\x"]
--- response_body_like eval
[".*", "^ok"]
--- shutdown_error_log eval
qr/mixpanel: 1 events spooled to "[^"]+" on exit/



=== TEST 7: ... and sent with its token by the next nginx
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL;
--- request eval
["POST /emu/faults/clear",
 "GET /q?s=live-quote",
 "GET /emu/events?prop.scenario=quote&wait_for=1&timeout=40",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /spooldir/"]
--- more_headers eval
["", "X-Tok: tok-live", "", "", ""]
--- response_body_like eval
[".*", "^ok", '"count": 1,.*"token": "tok\\\\"q\\\\\\\\x"', ".*",
 '^(?!.*mp-)']
--- no_error_log
is corrupt
[alert]



=== TEST 8: a file set aside does not count against max_size
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL_CORRUPT max_size=1k;
--- request eval
["POST /emu/faults\n{\"status\":503,\"count\":-1,\"path\":\"/import\"}",
 "GET /t?s=aside"]
--- response_body_like eval
[".*", "^ok"]
--- shutdown_error_log eval
qr/mixpanel: 1 events spooled to "[^"]+" on exit/
--- no_shutdown_error_log
is full



=== TEST 9: a temporary file left by a worker that died is removed at start
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL_TMP;
--- request eval
["POST /emu/faults/clear", "GET /t?s=tmp",
 "GET /emu/events?prop.scenario=tmp&wait_for=1&timeout=20"]
--- response_body_like eval
[".*", "^ok", '"count": 1,']
--- no_error_log
[alert]



=== TEST 10: a 413 on replay splits the spooled batch: every event arrives
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL_SPLIT;
    mixpanel_batch_size 4;
    mixpanel_flush_interval 2s;
    mixpanel_retry_max_time 1s;
--- request eval
["POST /emu/faults/clear",
 "POST /emu/faults\n[{\"status\":503,\"count\":1,\"token\":\"tok-split\"},{\"status\":413,\"count\":1,\"token\":\"tok-split\"}]",
 "GET /q?s=split", "GET /q?s=split", "GET /q?s=split", "GET /q?s=split",
 "GET /emu/events?wait_for=1000&timeout=4",
 "GET /q?s=live-split",
 "GET /emu/events?prop.scenario=split&wait_for=4&timeout=40",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- more_headers eval
["", "", ("X-Tok: tok-split") x 4, "", "X-Tok: tok-live", "", "", ""]
--- response_body_like eval
[".*", ".*", "^ok", "^ok", "^ok", "^ok", ".*", "^ok", '"count": 4,', ".*",
 '"events_rejected":0,.*"events_spooled":4,"events_replayed":4,']
--- no_error_log
[alert]



=== TEST 11: a claim an earlier version left is taken back and sent
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL_OLD;
--- request eval
["POST /emu/faults/clear",
 "GET /emu/events?prop.scenario=claimed&wait_for=2&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
[".*", '"count": 2,', ".*", '"events_replayed":2,']
--- no_error_log
[alert]



=== TEST 11a: a replayed event Mixpanel refuses is counted as refused on replay, the others as replayed
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL_REJECT;
--- request eval
["GET /emu/events?prop.scenario=reject&wait_for=2&timeout=20",
 "GET /emu/rejected?endpoint=/import&wait_for=1&timeout=5",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status"]
--- response_body_like eval
['"count": 2,.*"distinct_id": "r1".*"distinct_id": "r3"',
 '"count": 1,.*"distinct_id": "r2"', ".*",
 '^(?=.*"events_rejected":0,)(?=.*"events_replayed":2,)(?=.*"events_replay_rejected":1,)']
--- no_error_log
[alert]



=== TEST 11b: a replayed $identify Mixpanel accepted counts in identify_sent, the Log In beside it does not
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL_IDENTIFY;
--- request eval
["GET /emu/events?prop.scenario=identify&wait_for=1&timeout=20",
 "GET /emu/events?wait_for=1000&timeout=0.5",
 "GET /status",
 "GET /emu/users?token=tok-spool&id=44444444-4444-4444-8444-444444444444"]
--- response_body_like eval
['"count": 1,', ".*",
 '^(?=.*"events_replayed":2,)(?=.*"events_replay_rejected":0,)(?=.*"identify_sent":1,)',
 '"acc-sp"']
--- no_error_log
[alert]



=== TEST 12: a replayed people update never overwrites what a newer one set; a $set_once of the same file stays one
--- http_config
    mixpanel_spool $TEST_NGINX_SPOOL_PEOPLE;
--- request eval
["GET /emu/requests?path=/engage&wait_for=2&timeout=20",
 "GET /emu/profiles?distinct_id=acc-people",
 "GET /emu/profiles?distinct_id=acc-once"]
--- response_body_like eval
['"count": 2,.*"\$set_once": \{"plan": "old", "seats": 3\}',
 '"count": 1,.*"plan": "new",.*"seats": 3',
 '"count": 1,.*"first": "yes"']
--- no_error_log
[alert]
