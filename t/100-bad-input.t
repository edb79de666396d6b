# Hostile input through real nginx: huge headers and cookies, invalid
# UTF-8 and control characters in every value that reaches a payload,
# NULs, banned ids, too many properties, deep and duplicate-key JSON,
# truncated gzip, pipelined requests, clients that abort.  Each block
# checks the response; at the end every line every block's sink received
# is checked to be valid JSON within Mixpanel's limits.

use Test::Nginx::Socket 'no_plan';
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP ();

our $Sinks = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_SINKS} = $Sinks;

# a gzip body cut in the middle
our $Truncated = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\x56\x4a\x4c";

our $Deep = ("[" x 3000) . ("]" x 3000);

our $ManyHttp = join "", map { "    mixpanel_property h$_ v$_;\n" } 1 .. 150;
our $ManyLoc = join "", map { "        mixpanel_property l$_ v$_;\n" } 1 .. 150;

our %Expect = (
    huge => 1, utf8 => 2, nul => 1, banned => 8, many => 1, json => 1,
    gzip => 1, pipelined => 2, abort_request => 1, abort_response => 1,
);

add_block_preprocessor(sub {
    my $block = shift;
    my $name = $block->can("sink") ? $block->sink : undef;
    return unless defined $name;
    chomp $name;

    $block->set_value("http_config", <<"_EOC_" . ($block->http_config // ""));
    mixpanel_api file:\$TEST_NGINX_SINKS/$name.jsonl;
    mixpanel_token tok-bad;
    mixpanel_flush_interval 50ms;
    mixpanel_account_id \$http_x_account;
    mixpanel_profile_id \$http_x_profile;
    mixpanel_device_id \$http_x_device_id;
    large_client_header_buffers 4 128k;
_EOC_
});

no_shuffle();
run_tests();

# every sink line: valid UTF-8 JSON, within Mixpanel's limits
my $json = JSON::PP->new->utf8;

sub check_strings {
    my ($v, $where) = @_;
    if (ref $v eq 'HASH') {
        for my $k (keys %$v) {
            check_strings($k, $where);
            check_strings($v->{$k}, $where);
        }
    } elsif (ref $v eq 'ARRAY') {
        check_strings($_, $where) for @$v;
    } elsif (defined $v && !ref $v) {
        my $bytes = $v;
        utf8::encode($bytes);
        if (length $bytes > 255) {
            fail("$where: a string of " . length($bytes) . " bytes");
        }
    }
}

for my $name (sort keys %Expect) {
    my $file = "$Sinks/$name.jsonl";
    my @events;

    if (open my $fh, '<', $file) {
        while (my $line = <$fh>) {
            my $req = eval { $json->decode($line) };
            ok($req, "$name: a sink line is valid UTF-8 JSON")
                or diag($@);
            next unless $req;
            next unless $req->{endpoint} eq '/import';
            for my $ev (@{ $req->{body} }) {
                push @events, $ev;
                my $n = scalar keys %{ $ev->{properties} };
                cmp_ok($n, '<=', 254, "$name: $n properties");
                check_strings($ev, $name);
                ok(defined $ev->{properties}{distinct_id}
                   && length $ev->{properties}{distinct_id},
                   "$name: a distinct_id");
            }
        }
    }

    is(scalar @events, $Expect{$name}, "$name: the events expected");

    if ($name eq 'many' && @events) {
        is(scalar keys %{ $events[0]{properties} }, 254,
           "many: cut to 254 properties");
    }
}

__DATA__

=== TEST 1: headers and cookies of 60 KB: answered as without the module, ids ignored
--- sink: huge
--- config
    location = /t {
        mixpanel track;
        mixpanel_property ua $http_user_agent;
        return 200 "ok\n";
    }
--- more_headers eval
"X-Account: " . ("a" x 65000) . "\n"
. "X-Profile: " . ("p" x 9000) . "\n"
. "X-Device-Id: " . ("d" x 30000) . "\n"
. "Cookie: mp_device_id=" . ("b" x 30000) . "; other=" . ("c" x 20000) . "\n"
. "User-Agent: " . ("Mozilla/5.0 (iPhone) " x 2500) . "\n"
. "Referer: http://" . ("x" x 30000) . "/"
--- request
GET /t
--- response_body
ok
--- error_log
account id of 65000 bytes ignored
--- no_error_log
[alert]
[crit]



=== TEST 2: invalid UTF-8 and control characters in every value that reaches a payload
--- sink: utf8
--- config
    location = /t {
        mixpanel signup;
        mixpanel_event $http_x_event;
        mixpanel_property p $http_x_p;
        mixpanel_property j $http_x_j type=json;
        mixpanel_property l $http_x_l type=list;
        mixpanel_people_set name $http_x_p;
        return 200 "ok\n";
    }
--- more_headers eval
"X-Account: acc\x01\x7f\xc3\xa9\n"     # invalid UTF-8 here: t/050 TEST 50
. "X-Profile: \xc3\x28solo\n"
. "X-Event: Sign\xe2\x82 Up\x1b\n"
. "X-P: \xed\xa0\x80 surrogate \xf4\x90\x80\x80 too big \xc0\xaf overlong\n"
. "X-J: {\"k\":\"\xff\"}\n"
. "X-L: a\xff,\x01b\n"
. "User-Agent: \xff\xfe Chrome/\xff\n"
. "Referer: http://\xff\x01/x\n"
. "X-Device-Id: dev\xff\x01ice\n"
. "Cookie: mp_device_id=\xff\xfe"
--- request
GET /t?utm_source=%FF%01&utm_medium=%C3
--- response_body
ok
--- no_error_log
[alert]
[crit]



=== TEST 3: NUL bytes, where they can reach a value, are escaped
--- sink: nul
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request
GET /t?utm_source=a%00b&utm_campaign=%00
--- response_body
ok



=== TEST 4: banned ids are unknown ids
--- sink: banned
--- config
    location = /t {
        mixpanel login;
        mixpanel_people_set x y;
        return 200 "ok\n";
    }
--- more_headers eval
[map { "X-Account: $_\nX-Device-Id: 00000000-0000-0000-0000-000000000000" }
 qw(null undefined 0 [] {} -1 anon N/A)]
--- request eval
[("GET /t") x 8]
--- response_body eval
[("ok\n") x 8]



=== TEST 5: 300 configured properties: 254 are sent
--- sink: many
--- http_config eval
$::ManyHttp
--- config eval
"    location = /t {\n        mixpanel track;\n        mixpanel_request_properties off;\n$::ManyLoc        return 200 \"ok\\n\";\n    }\n"
--- request
GET /t
--- response_body
ok



=== TEST 6: deeply nested and duplicate-key JSON is left out
--- sink: json
--- http_config
    mixpanel_json_set $body_profile request /profile_id;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property deep $http_x_deep type=json;
        mixpanel_property dup $http_x_dup type=json;
        mixpanel_property body_profile $body_profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }

    location = /echo {
        return 200 "ok\n";
    }
--- more_headers eval
"X-Deep: $::Deep\nX-Dup: {\"a\":1,\"a\":2}\nContent-Type: application/json"
--- request eval
"POST /t\n{\"profile_id\":\"p1\",\"profile_id\":\"p2\"," . ("[" x 3000)
--- response_body
ok



=== TEST 7: a truncated gzip response passes through untouched, and is not parsed
--- sink: gzip
--- http_config
    mixpanel_json_set $login_account response /account/id;
--- config
    location = /login {
        mixpanel track;
        mixpanel_property account $login_account;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/upstream;
    }

    location = /upstream {
        default_type application/json;
        add_header Content-Encoding gzip;
        alias $TEST_NGINX_SERVER_ROOT/html/truncated.gz;
    }
--- user_files eval
">>> truncated.gz\n$::Truncated"
--- request
GET /login
--- response_body eval
$::Truncated
--- no_error_log
[alert]
[crit]



=== TEST 8: pipelined requests are tracked one by one
--- sink: pipelined
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- raw_request eval
"GET /t?n=1 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /t?n=2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- ignore_response
--- no_error_log
[alert]
[crit]



=== TEST 9: a client that aborts in the middle of its request body
--- sink: abort_request
--- config
    location = /t {
        mixpanel track;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }

    location = /echo {
        return 200 "ok\n";
    }
--- raw_request eval
"POST /t HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\nabc"
--- timeout: 0.5
--- abort
--- ignore_response
--- wait: 0.5
--- no_error_log
[alert]
[crit]



=== TEST 10: a client that aborts in the middle of the response
--- sink: abort_response
--- config
    location = /t {
        mixpanel track;
        limit_rate 20k;
        alias $TEST_NGINX_SERVER_ROOT/html/big.txt;
    }
--- user_files eval
">>> big.txt\n" . ("x" x 300000)
--- request
GET /t
--- timeout: 0.3
--- abort
--- ignore_response
--- wait: 0.5
--- no_error_log
[alert]
[crit]



=== TEST 11: the last block, so that every sink above has been flushed
--- config
    location = /t {
        return 200 "done\n";
    }
--- request
GET /t
--- response_body
done
