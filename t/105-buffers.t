# Records larger than the worker's scratch buffer: every write that grows
# it (realloc) must leave no pointer into the old memory.  The buffer
# starts at 1 KB and doubles, so the requests of a block, smallest first,
# cross each boundary up to 64 KB in one worker.

use Test::Nginx::Socket 'no_plan';

our $HttpConfig = <<'_EOC_';
    large_client_header_buffers 4 64k;
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    mixpanel_token tok;
    mixpanel_account_id $http_x_account;
    mixpanel_flush_interval 300ms;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    limit_req_zone $server_name zone=wait:1m rate=1r/s;
_EOC_

our $Helpers = <<'_EOC_';
    location = /wait {
        mixpanel off;
        limit_req zone=wait burst=5;
        empty_gif;
    }

    location = /sink {
        mixpanel off;
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    }
_EOC_

our @Sizes = (10, 20, 40, 80, 120, 160, 200, 254);

sub items { my ($n, $c) = @_; CORE::join ",", map { sprintf("%s%03d", $c x 47, $_) } 1 .. $n }

# between two records of the sink: in one batch or in two
our $Next = '(?:,|\]\}\n\{"endpoint":"/engage","body":\[)';

sub list_re { my ($n, $c) = @_;
    '\[' . CORE::join(",", map { sprintf('"%s%03d"', $c x 47, $_) } 1 .. $n) . '\]' }

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config", $HttpConfig);
    $block->set_value("config", $block->config . $Helpers);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: $set with a list, growing past every boundary in one worker
--- config
    location = /api/profile/switch {
        mixpanel profile_switch;
        mixpanel_event off;
        mixpanel_people_set profile_type $http_x_profile_type;
        mixpanel_people_set interests $http_x_interests type=list;
        return 200 "ok\n";
    }
--- request eval
[(map { "GET /api/profile/switch" } @::Sizes), "GET /wait", "GET /wait",
 "GET /sink"]
--- more_headers eval
[(map { "X-Account: acc1\nX-Profile-Type: solo\nX-Interests: "
        . ::items($_, "a") } @::Sizes), "", "", ""]
--- response_body_like eval
[(map { "^ok\n\$" } @::Sizes), "^GIF", "^GIF",
 '^\{"endpoint":"/engage","body":\['
 . CORE::join($::Next, map { '\{"\$token":"tok","\$distinct_id":"acc1",'
                   . '"\$ip":"127\.0\.0\.1","\$time":\d{13},"\$set":\{"profile_type":"solo",'
                   . '"interests":' . ::list_re($_, "a") . '\}\}' } @::Sizes)
 . '\]\}\n$']
--- no_error_log
[alert]
exited on signal
--- timeout: 10



=== TEST 2: every operation, with events, growing in one worker
--- config
    location = /api/profile {
        mixpanel profile_update;
        mixpanel_event off;
        mixpanel_people_set_once first $http_x_interests type=list;
        mixpanel_people_set tags $http_x_interests type=list;
        mixpanel_people_add visits 1;
        mixpanel_people_unset nickname;
        return 200 "ok\n";
    }
--- request eval
[(map { "GET /api/profile" } @::Sizes), "GET /wait", "GET /wait",
 "GET /sink"]
--- more_headers eval
[(map { "X-Account: acc2\nX-Interests: " . ::items($_, "b") } @::Sizes),
 "", "", ""]
--- response_body_like eval
[(map { "^ok\n\$" } @::Sizes), "^GIF", "^GIF",
 '^\{"endpoint":"/engage","body":\['
 . CORE::join($::Next, map {
       my $l = ::list_re($_, "b");
       my $h = '\{"\$token":"tok","\$distinct_id":"acc2","\$ip":"127\.0\.0\.1","\$time":\d{13},';
       $h . '"\$set_once":\{"first":' . $l . '\}\}' . $::Next
       . $h . '"\$set":\{"tags":' . $l . '\}\}' . $::Next
       . $h . '"\$add":\{"visits":1\}\}' . $::Next
       . $h . '"\$unset":\["nickname"\]\}' } @::Sizes)
 . '\]\}\n$']
--- no_error_log
[alert]
exited on signal
--- timeout: 10
