# What one tracked request becomes, read back from the file: dry-run sink.
#
# The sender writes asynchronously, so each block waits for it with a
# request that limit_req delays by a second before reading the sink.

use Test::Nginx::Socket 'no_plan';

our $HttpConfig = <<'_EOC_';
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_flush_interval 500ms;
    limit_req_zone $server_name zone=wait:1m rate=1r/s;
_EOC_

our $Helpers = <<'_EOC_';
    location = /wait {
        limit_req zone=wait burst=5;
        empty_gif;
    }

    location = /sink {
        default_type application/json;
        alias $TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    }
_EOC_

# between two events of the sink: in one batch or in two
our $Next = qr{(?:,|\]\}\n\{"endpoint":"/import","body":\[)\{[^\n]*?};

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", $HttpConfig);
    }

    $block->set_value("config", $block->config . $Helpers);
});

# TEST 5b: [name, in nginx.conf, in the JSON] of each byte put in runs
our @Kinds = (
    ["none", "", ""],
    ["quote", "\\\"", "\\\""],
    ["backslash", "\\\\", "\\\\"],
    ["control", "\x01", "\\u0001"],
    ["delete", "\x7f", "\\u007f"],
    ["newline", "\\n", "\\n"],
    ["return", "\\r", "\\r"],
    ["tab", "\\t", "\\t"],
    ["backspace", "\x08", "\\u0008"],
    ["formfeed", "\x0c", "\\u000c"],
    ["unit", "\x1f", "\\u001f"],
    ["utf8", "\xc3\xa9", "\xc3\xa9"],
    ["invalid", "\xff", "\xef\xbf\xbd"],
);

# TEST 5c: [name, bytes, sent]: a character at each edge of each UTF-8
# lead byte's range (and of E0, ED, F0, F4's second byte) is sent as it
# is; a sequence just past an edge is not UTF-8, each of its bytes U+FFFD
my $R = "\xef\xbf\xbd";
our @Utf8Edges = (
    ["c2", "\xc2\x80", "\xc2\x80"], ["df", "\xdf\xbf", "\xdf\xbf"],
    ["e0", "\xe0\xa0\x80", "\xe0\xa0\x80"],
    ["e1", "\xe1\x80\x80", "\xe1\x80\x80"],
    ["ec", "\xec\xbf\xbf", "\xec\xbf\xbf"],
    ["ed", "\xed\x80\x80", "\xed\x80\x80"],
    ["ed9f", "\xed\x9f\xbf", "\xed\x9f\xbf"],
    ["ee", "\xee\x80\x80", "\xee\x80\x80"],
    ["ef", "\xef\xbc\xb4", "\xef\xbc\xb4"],
    ["efbf", "\xef\xbf\xbf", "\xef\xbf\xbf"],
    ["f0", "\xf0\x90\x80\x80", "\xf0\x90\x80\x80"],
    ["f3", "\xf3\xbf\xbf\xbf", "\xf3\xbf\xbf\xbf"],
    ["f4", "\xf4\x80\x80\x80", "\xf4\x80\x80\x80"],
    ["f48f", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"],
    ["x_c0", "\xc0\x80", $R x 2], ["x_c1", "\xc1\xbf", $R x 2],
    ["x_e09f", "\xe0\x9f\xbf", $R x 3],
    ["x_eda0", "\xed\xa0\x80", $R x 3], ["x_edbf", "\xed\xbf\xbf", $R x 3],
    ["x_f08f", "\xf0\x8f\xbf\xbf", $R x 4],
    ["x_f490", "\xf4\x90\x80\x80", $R x 4],
    ["x_f5", "\xf5\x80\x80\x80", $R x 4],
    ["x_f8", "\xf8\x80\x80\x80", $R x 4],
    ["x_80", "a\x80", "a$R"], ["x_bf", "a\xbf", "a$R"],
    ["x_c0cont", "\xe2\x82\xc0", $R x 3],
    ["x_short", "a\xef\xbf", "a$R$R"],
);

# runs of 'a' of 1 to 34 bytes with the byte first, in the middle, last
sub run_strings {
    my ($k) = @_;
    my @s;

    for my $len (1 .. 34) {
        if ($k->[0] eq "none") {
            push @s, ["n$len", "a" x $len, "a" x $len];
            next;
        }

        my %at = map { $_ => 1 } (0, int(($len - 1) / 2), $len - 1);

        for my $i (sort { $a <=> $b } keys %at) {
            my ($x, $y) = ("a" x $i, "a" x ($len - 1 - $i));
            push @s, ["p${len}_$i", "$x$k->[1]$y", "$x$k->[2]$y"];
        }
    }

    return @s;
}

# TEST 3a: [value, sent]: a number is sent only when it is a JSON number
# (RFC 8259) of at most 64 characters, within a double; otherwise
# Mixpanel would refuse the whole batch's JSON
# a search's result page that a campaign's link led to
our $SearchRef = "https://www.google.com/search?q=red+shoes&utm_source=news"
                 . "&utm_medium=email";

our @Numbers = (
    ["0", 1], ["-0", 1], ["7", 1], ["-12", 1], ["10", 1], ["0.5", 1],
    ["-0.25", 1], ["1.25e3", 1], ["1E3", 1], ["1e+3", 1], ["1e-3", 1],
    ["0e0", 1], ["2E-0", 1], ["1" x 64, 1], ["1.7976931348623157e308", 1],
    ["01", 0], ["-01", 0], ["00", 0], ["1.", 0], [".5", 0], ["-", 0],
    ["+1", 0], ["1e", 0], ["1e+", 0], ["1.e3", 0], ["0x10", 0],
    ["Infinity", 0], ["NaN", 0], ["1.5.5", 0], ["1e3e3", 0], ["--1", 0],
    ["1" x 65, 0], ["1,000", 0], ["1%20", 0], ["-.5", 0], ["1e1.5", 0],
    ["2e308", 0], ["true", 0],
    # each edge of the digits where a number has digits, and a character
    # just past them
    ["9", 1], ["-9", 1], ["1090", 1], ["0.0", 1], ["0.9", 1], ["0.90", 1],
    ["1e0", 1], ["1e9", 1], ["1e09", 1], ["1e90", 1],
    [":", 0], ["/", 0], ["-:", 0], ["1:", 0], ["1/", 0], ["0.:", 0],
    ["0./", 0], ["0.0:", 0], ["0.9/", 0], ["1e:", 0], ["1e/", 0],
    ["1e0:", 0], ["1e9/", 0],
);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an event's exact JSON, fields and types
--- config
    location = /t {
        mixpanel track;
        mixpanel_token tok-event;
        mixpanel_property plan pro;
        mixpanel_property seats $arg_n type=number;
        return 200 "ok\n";
    }
--- request eval
["GET /t?n=12&x=1", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{^\{"endpoint":"/import","body":\[\{"event":"API Request","properties":\{"token":"tok-event","time":\d{13},"distinct_id":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}","\$device_id":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}","\$insert_id":"[0-9a-f]{32}","mp_lib":"nginx","\$lib_version":"\d+\.\d+\.\d+","ip":"127\.0\.0\.1","http_method":"GET","http_status":200,"http_route":"/t","http_path":"/t","duration_ms":\d+,"plan":"pro","seats":12\}\}\]\}\n$}]
--- no_error_log
[error]
[alert]



=== TEST 2: properties add up across http, server and location
--- http_config eval
$::HttpConfig . <<'_EOC_';
    mixpanel_token tok-levels;
    mixpanel_property a http-a;
    mixpanel_property b http-b;
_EOC_
--- config
    mixpanel_property b server-b;
    mixpanel_property c server-c;
    mixpanel_request_properties off;

    location = /t {
        mixpanel track;
        mixpanel_property c loc-c;
        mixpanel_property d loc-d;
        return 200 "ok\n";
    }

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /s", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","a":"http-a","b":"server-b","c":"loc-c","d":"loc-d"\}\}$::Next"ip":"127\.0\.0\.1","a":"http-a","b":"server-b","c":"server-c"\}\}\]\}\n$}]
--- no_error_log
[error]



=== TEST 2a: at one level, names that begin one another are two properties, in either order ("plan_tier" before "plan", "plan" before "plan_tier", "p" after both): none is a duplicate
--- http_config eval
$::HttpConfig . <<'_EOC_';
    mixpanel_token tok-names;
_EOC_
--- config
    mixpanel_request_properties off;

    location = /t {
        mixpanel track;
        mixpanel_property plan_tier gold;
        mixpanel_property plan pro;
        mixpanel_property p x;
        return 200 "ok\n";
    }

    location = /s {
        mixpanel track;
        mixpanel_property plan pro;
        mixpanel_property plan_tier gold;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /s", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","plan_tier":"gold","plan":"pro","p":"x"\}\}$::Next"ip":"127\.0\.0\.1","plan":"pro","plan_tier":"gold"\}\}\]\}\n$}]
--- no_error_log
[error]



=== TEST 3: typed values, and values not of their type left out; type=string written out sends a number's text as a string; a list of empty items alone is an empty list; JSON of one character is JSON
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-types;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_property n1 $arg_n1 type=number;
        mixpanel_property n2 $arg_n2 type=number;
        mixpanel_property b1 $arg_b1 type=boolean;
        mixpanel_property b2 $arg_b2 type=boolean;
        mixpanel_property l1 $arg_l1 type=list;
        mixpanel_property l2 $arg_l2 type=list;
        mixpanel_property j1 $http_x_j1 type=json;
        mixpanel_property j2 $http_x_j2 type=json;
        mixpanel_property j3 $arg_j3 type=json;
        mixpanel_property empty $arg_nothing;
        mixpanel_property s "say \"hi\"";
        mixpanel_property s2 $arg_n1 type=string;
        return 200 "ok\n";
    }
--- more_headers
X-J1: {"k": [1, 2]}
X-J2: {"k": 1, "k": 2}
--- request eval
["GET /t?n1=-1.5e3&n2=12abc&b1=yes&b2=maybe&l1=a,%20b,,c&l2=,,,&j3=7", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","n1":-1\.5e3,"b1":true,"l1":\["a","%20b","c"\],"l2":\[\],"j1":\{"k":\[1,2\]\},"j3":7,"s":"say \\"hi\\"","s2":"-1\.5e3"\}\}\]\}\n$}]
--- no_error_log
[error]



=== TEST 3b: type=list: each item without the spaces and tabs around it, empty items left out ("pro, beta" is ["pro","beta"], not " beta"); spaces inside an item stay
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-lists;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_property l1 $http_x_l1 type=list;
        mixpanel_property l2 $http_x_l2 type=list;
        mixpanel_property l3 $http_x_l3 type=list;
        return 200 "ok\n";
    }
--- more_headers eval
"X-L1: pro, beta,  trial\n"
. "X-L2: a \t,\t b ,, \t ,c d\t\n"
. "X-L3: solo\n"
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","l1":\["pro","beta","trial"\],"l2":\["a","b","c d"\],"l3":\["solo"\]\}\}\]\}\n$}]
--- no_error_log
[error]



=== TEST 3a: type=number: JSON numbers of up to 64 characters within a double are sent as they are, anything else left out
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-numbers;\n"
--- config eval
"    location = /t {\n"
. "        mixpanel track;\n"
. "        mixpanel_request_properties off;\n"
. "        mixpanel_user_agent_properties off;\n"
. join("", map { "        mixpanel_property n$_ \$arg_n$_ type=number;\n" }
               0 .. $#::Numbers)
. "        return 200 \"ok\\n\";\n    }\n"
--- request eval
["GET /t?" . join("&", map { "n$_=$::Numbers[$_][0]" } 0 .. $#::Numbers),
 "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
my $sent = join(",", map { "\"n$_\":" . quotemeta($::Numbers[$_][0]) }
                     grep { $::Numbers[$_][1] } 0 .. $#::Numbers);
["^ok\n\$", "^GIF", "^GIF", qr{"ip":"127\.0\.0\.1",$sent\}\}\]\}\n\z}]
--- no_error_log
[error]



=== TEST 4: if= decides, and an event name may use variables
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-if;\n"
--- config
    location = /t {
        mixpanel track if=$arg_track;
        mixpanel_event "Viewed $arg_page";
        mixpanel_request_properties off;
        return 200 "ok\n";
    }
--- request eval
["GET /t?track=0&page=a", "GET /t?page=b", "GET /t?track=1&page=c", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{^\{"endpoint":"/import","body":\[\{"event":"Viewed c","properties":\{[^\n]*\}\}\]\}\n$}]



=== TEST 4a: an event name that comes out empty sends no event (Mixpanel refuses "event":""), and nothing else is counted for it; the same location with a name sends one, for comparison
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-empty;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_event $arg_e;
        mixpanel_request_properties off;
        return 200 "ok\n";
    }

    location = /status {
        mixpanel_status;
    }
--- request eval
["GET /t", "GET /t?e=", "GET /t?e=Signup%20View", "GET /wait", "GET /wait", "GET /status", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
 qr{^\{"events_queued":1,"events_sent":1,"events_rejected":0,},
 qr{^\{"endpoint":"/import","body":\[\{"event":"Signup%20View","properties":\{[^\n]*\}\}\]\}\n$}]



=== TEST 4b: if= is false only for "0" and the empty string, as nginx's own if= (access_log): "00", "01", "0.5" and "false" are true
--- config
    location = /t {
        mixpanel track if=$arg_c;
        mixpanel_token tok-if;
        mixpanel_event "E $arg_c";
        return 200 "ok\n";
    }
--- request eval
["GET /t?c=0", "GET /t?c=", "GET /t?c=00", "GET /t?c=01", "GET /t?c=0.5",
 "GET /t?c=false", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
[("^ok\n\$") x 6, "^GIF", "^GIF",
 qr{^\{"endpoint":"/import","body":\[\{"event":"E 00",[^\n]*?\}\}$::Next"event":"E 01",[^\n]*?\}\}$::Next"event":"E 0\.5",[^\n]*?\}\}$::Next"event":"E false",[^\n]*?\}\}\]\}\n\z}]
--- no_error_log
[error]



=== TEST 5: strings are valid UTF-8, escaped, and cut to 255 bytes
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-utf8;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_property bad $http_x_bad;
        mixpanel_property long $http_x_long;
        mixpanel_property ctl $http_x_ctl;
        return 200 "ok\n";
    }
--- more_headers eval
"X-Bad: a\xffb\xc3\xa9\nX-Ctl: \x01\"\\z\nX-Long: " . ("\xc3\xa9" x 200)
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{"bad":"a\x{ef}\x{bf}\x{bd}b\x{c3}\x{a9}","long":"(?:\x{c3}\x{a9}){127}","ctl":"\\u0001\\"\\\\z"\}\}\]\}\n$}]



=== TEST 5c: UTF-8 at each edge: a character whose lead byte is the first or the last of its range (C2 DF, E0 E1 EC ED EE EF, F0 F3 F4), and E0's, ED's, F0's, F4's second byte at its edge, is sent as it is; an overlong form, a surrogate, a code point past U+10FFFF, a lead byte past F4, a lone continuation byte, a continuation byte missing, or a sequence cut short, is not UTF-8: each of its bytes is sent as U+FFFD
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-utf8;\n"
--- config eval
"    location = /t {\n        mixpanel track;\n"
. "        mixpanel_request_properties off;\n"
. "        mixpanel_user_agent_properties off;\n"
. join("", map { "        mixpanel_property u_$_->[0] \"$_->[1]\";\n" }
               @::Utf8Edges)
. "        return 200 \"ok\\n\";\n    }\n"
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
my $props = join ",", map { "\"u_$_->[0]\":\"" . quotemeta($_->[2]) . "\"" }
                         @::Utf8Edges;
["^ok\n\$", "^GIF", "^GIF", qr{"ip":"127\.0\.0\.1",$props\}\}\]\}\n\z}]
--- no_error_log
[error]



=== TEST 5b: a byte to escape (a newline, a return, a tab by their short escapes, the other controls as u00XX) or to check as UTF-8 at the start, the middle or the end of strings of 1 to 34 bytes (the writer reads 8 and 16 bytes at a time)
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-runs;\n"
--- config eval
my $c = "    mixpanel_request_properties off;\n"
      . "    mixpanel_user_agent_properties off;\n";
for my $k (@::Kinds) {
    $c .= "    location = /$k->[0] {\n        mixpanel track;\n";
    for my $s (::run_strings($k)) {
        $c .= "        mixpanel_property $s->[0] \"$s->[1]\";\n";
    }
    $c .= "        return 200 \"ok\\n\";\n    }\n";
}
$c;
--- request eval
[(map { "GET /$_->[0]" } @::Kinds), "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
[(map { "^ok\n\$" } @::Kinds), "^GIF", "^GIF",
 do {
     my @events = map {
         join ",", map { "\"$_->[0]\":\"" . quotemeta($_->[2]) . "\"" }
                   ::run_strings($_)
     } @::Kinds;
     my $re = join "\\}\\}$::Next", @events;
     qr{$re\}\}\]\}\n$};
 }]
--- no_error_log
[error]
[alert]



=== TEST 6: the client IP comes from mixpanel_ip, or is turned off
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-ip;\n"
--- config
    mixpanel_request_properties off;

    location = /t {
        mixpanel track;
        mixpanel_ip $http_x_client_ip;
        return 200 "ok\n";
    }

    location = /off {
        mixpanel track;
        mixpanel_ip off;
        return 200 "ok\n";
    }
--- more_headers
X-Client-IP: 203.0.113.7
--- request eval
["GET /t", "GET /off", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{"ip":"203\.0\.113\.7"\}\}$::Next"ip":"0"\}\}\]\}\n$}]



=== TEST 7: the event is left out with mixpanel_event off, untracked locations send nothing
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-off;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_event off;
        return 200 "ok\n";
    }

    location = /plain {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /plain", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^GIF", "^GIF", "^\$"]



=== TEST 8: what a client SDK would add: browser, OS, device, campaign keys and referrer
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-ua;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        return 200 "ok\n";
    }
--- more_headers
User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1
Referer: https://user@www.example.com:8443/promo?x=1
--- request eval
["GET /t?utm_source=news%20letter&utm_campaign=spring+sale&gclid=Cj0&x=1", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","\$browser":"Mobile Safari","\$browser_version":17\.2,"\$os":"iOS","\$device":"iPhone","utm_source":"news letter","utm_campaign":"spring sale","gclid":"Cj0","\$referrer":"https://user\@www\.example\.com:8443/promo\?x=1","\$referring_domain":"user\@www\.example\.com:8443"\}\}\]\}\n$}]



=== TEST 9: campaign keys and click ids as mixpanel-browser reads them: the first of a name, names with case, decodeURIComponent() then '+' a space, a malformed value as it is, empty ones left out
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-utm;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_user_agent_properties on;
        mixpanel_ip off;
        return 200 "ok\n";
    }
--- request eval
["GET /t?xutm_source=no&UTM_Medium=Mail&utm_source=first&utm_source=second&utm_term&utm_content=&utm_content=late&utm_campaign=a=b&utm_id=%E2%82%AC%2B1&utm_source_platform=%E0%A4%A+x&FBCLID=no&fbclid=f+1&wbraid=%2b&utm_marketing_tactic=%C0%AF", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{lib_version":"[^"]+","ip":"0","utm_source":"first","utm_campaign":"a=b","utm_id":"\x{e2}\x{82}\x{ac} 1","utm_source_platform":"%E0%A4%A x","utm_marketing_tactic":"%C0%AF","fbclid":"f 1","wbraid":" "\}\}\]\}\n$}]



=== TEST 10: names after any '?' or '&' of the URI, as the SDK's [?&]name= finds them; a value ends at '&' or '#'
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-utm2;\n"
--- config
    location /p {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_ip off;
        return 200 "ok\n";
    }
--- request eval
["GET /p&gclid=path?next=/x?utm_source=nested&utm_source=outer&msclkid=a%23b&dclid=c#d", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
qr{"ip":"0","utm_source":"nested","dclid":"c","gclid":"path\?next=/x\?utm_source=nested","msclkid":"a#b"\}\}\]\}\n$}]



=== TEST 11: the Referer of a call a page makes (Sec-Fetch-Mode other than navigate) is the page, $current_url; of a navigation, or without the header, $referrer; a navigation the browser names (Sec-Fetch-Mode: navigate) loads its own URL, $current_url
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-ref;\n"
--- config
    mixpanel_request_properties off;
    mixpanel_ip off;

    location = /api {
        mixpanel track;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
        proxy_set_header Sec-Fetch-Mode cors;
    }

    location = /nav {
        mixpanel track;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
        proxy_set_header Sec-Fetch-Mode navigate;
    }

    location = /t {
        mixpanel track;
        mixpanel_event Upstream;
        return 200 "ok\n";
    }
--- more_headers
Referer: android-app://com.google.android.gm/
--- request eval
["GET /api", "GET /nav", "GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{^(?=(?:.*?"event":){5})(?!(?:.*?"event":){6})(?=.*"event":"Upstream","properties":\{[^{}]*"ip":"0","\$current_url":"android-app://com\.google\.android\.gm/"\}\})(?=(?:.*?"\$referrer":"android-app://com\.google\.android\.gm/","\$referring_domain":"com\.google\.android\.gm"\}\}){4})(?=.*"\$current_url":"http://127\.0\.0\.1:\d+/t","\$referrer":"android-app://)(?!(?:.*?"\$current_url"){3})}s]



=== TEST 11a: a call a page makes without campaign keys of its own carries the page's, from its Referer (the SDK reads them from document.URL on every event); one with its own, and a navigation, carry the request's
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-ref2;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_ip off;
        return 200 "ok\n";
    }
--- more_headers eval
["Sec-Fetch-Mode: cors\nReferer: https://shop.example.com/landing?utm_source=google&utm_campaign=brand+x&gclid=Cj0K",
 "Sec-Fetch-Mode: cors\nReferer: https://shop.example.com/landing?utm_source=google&utm_campaign=brand+x&gclid=Cj0K",
 "Sec-Fetch-Mode: navigate\nReferer: https://shop.example.com/landing?utm_source=google&utm_campaign=brand+x&gclid=Cj0K",
 "", "", ""]
--- request eval
["GET /t?x=1", "GET /t?utm_source=api", "GET /t?utm_source=api", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{"ip":"0","utm_source":"google","utm_campaign":"brand x","gclid":"Cj0K","\$current_url":"https://shop\.example\.com/landing\?utm_source=google&utm_campaign=brand\+x&gclid=Cj0K"\}\},\{[^{}]*"properties":\{[^{}]*"ip":"0","utm_source":"api","\$current_url":"https://shop\.example\.com/landing\?utm_source=google&utm_campaign=brand\+x&gclid=Cj0K"\}\},\{[^{}]*"properties":\{[^{}]*"ip":"0","utm_source":"api","\$current_url":"http://localhost/t\?utm_source=api","\$referrer":"https://shop\.example\.com/landing\?utm_source=google&utm_campaign=brand\+x&gclid=Cj0K","\$search_engine":"google","\$referring_domain":"shop\.example\.com"\}\}\]\}\n$}]



=== TEST 11c: each Sec-Fetch-Mode against a Referer with campaign keys and a search: a call (cors, same-origin, no-cors, websocket) takes the page's keys and URL from it; a navigation (navigate) and a request without the header (taken for one) never take its keys, and name it $referrer with its domain and search; only a named navigation has its own $current_url
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-ref4;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_ip off;
        return 200 "ok\n";
    }
--- more_headers eval
[ (map { "Sec-Fetch-Mode: $_\nReferer: $::SearchRef" }
       qw(cors same-origin no-cors websocket navigate)),
  "Referer: $::SearchRef", "", "", "" ]
--- request eval
[ ("GET /t?x=1") x 6, "GET /wait", "GET /wait", "GET /sink" ]
--- response_body_like eval
my $ref = quotemeta($::SearchRef);
my $call = '"ip":"0","utm_source":"news","utm_medium":"email",'
           . '"\$current_url":"' . $ref . '"';
my $seen = '"\$referrer":"' . $ref . '","\$search_engine":"google",'
           . '"mp_keyword":"red shoes","\$referring_domain":"www\.google\.com"';
my $nav = '"ip":"0","\$current_url":"http://localhost/t\?x=1",' . $seen;
my $none = '"ip":"0",' . $seen;
my $ev = '\{"event":"API Request","properties":\{[^{}]*?';
[ ("^ok\n\$") x 6, "^GIF", "^GIF",
  qr{^\{"endpoint":"/import","body":\[$ev$call\}\},$ev$call\}\},$ev$call\}\},$ev$call\}\},$ev$nav\}\},$ev$none\}\}\]\}\n\z} ]



=== TEST 11b: Sec-Fetch-Mode after 24 other headers, and as the 21st (Host and Connection come first; nginx keeps a request's headers in parts of 20): still found, a call's Referer is $current_url and a navigation's $referrer
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-ref3;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_ip off;
        return 200 "ok\n";
    }
--- more_headers eval
["Referer: https://www.example.com/page?utm_source=p\nX-Pad-1: 1\nX-Pad-2: 2\nX-Pad-3: 3\nX-Pad-4: 4\nX-Pad-5: 5\nX-Pad-6: 6\nX-Pad-7: 7\nX-Pad-8: 8\nX-Pad-9: 9\nX-Pad-10: 10\nX-Pad-11: 11\nX-Pad-12: 12\nX-Pad-13: 13\nX-Pad-14: 14\nX-Pad-15: 15\nX-Pad-16: 16\nX-Pad-17: 17\nX-Pad-18: 18\nX-Pad-19: 19\nX-Pad-20: 20\nX-Pad-21: 21\nX-Pad-22: 22\nSec-Fetch-Mode: cors",
 "Referer: https://www.example.com/page?utm_source=p\nX-Pad-1: 1\nX-Pad-2: 2\nX-Pad-3: 3\nX-Pad-4: 4\nX-Pad-5: 5\nX-Pad-6: 6\nX-Pad-7: 7\nX-Pad-8: 8\nX-Pad-9: 9\nX-Pad-10: 10\nX-Pad-11: 11\nX-Pad-12: 12\nX-Pad-13: 13\nX-Pad-14: 14\nX-Pad-15: 15\nX-Pad-16: 16\nX-Pad-17: 17\nSec-Fetch-Mode: navigate",
 "", "", ""]
--- request eval
["GET /t", "GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{"ip":"0","utm_source":"p","\$current_url":"https://www\.example\.com/page\?utm_source=p"\}\},\{[^{}]*"properties":\{[^{}]*"ip":"0","\$current_url":"http://localhost/t","\$referrer":"https://www\.example\.com/page\?utm_source=p","\$referring_domain":"www\.example\.com"\}\}\]\}\n$}]



=== TEST 12: User-Agents that alternate are each read right (the worker remembers them)
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-ua3;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_ip off;
        return 200 "ok\n";
    }

    location = /chrome {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
        proxy_set_header User-Agent "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    }

    location = /firefox {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
        proxy_set_header User-Agent "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    }
--- request eval
["GET /chrome", "GET /firefox", "GET /chrome", "GET /firefox", "GET /wait",
 "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{"\$browser":"Chrome","\$browser_version":120,"\$os":"Windows"\}\}$::Next"\$browser":"Firefox","\$browser_version":121,"\$os":"Linux"\}\}$::Next"\$browser":"Chrome","\$browser_version":120,"\$os":"Windows"\}\}$::Next"\$browser":"Firefox","\$browser_version":121,"\$os":"Linux"\}\}\]\}\n$}]



=== TEST 12a: two User-Agents of one length that differ only in the middle (the cache hashes the first and last 32 bytes) are each read right
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-ua4;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_ip off;
        return 200 "ok\n";
    }

    location = /windows {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
        proxy_set_header User-Agent "Mozilla/5.0 (compatible; xxxxxx; Windows NT 10.0; Win64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    }

    location = /linux {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
        proxy_set_header User-Agent "Mozilla/5.0 (compatible; xxxxxx; Linux x86_64; Xxxxxxxx) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    }
--- request eval
["GET /windows", "GET /linux", "GET /windows", "GET /linux", "GET /wait",
 "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{"\$os":"Windows"\}\}$::Next"\$os":"Linux"\}\}$::Next"\$os":"Windows"\}\}$::Next"\$os":"Linux"\}\}\]\}\n$}]



=== TEST 13: an app's HTTP stack gets what the mobile SDKs send (no $browser, $os as they name it), and mixpanel_user_agent_properties off
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-ua2;\n"
--- config
    mixpanel_request_properties off;

    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /off {
        mixpanel track;
        mixpanel_user_agent_properties off;
        return 200 "ok\n";
    }
--- more_headers
User-Agent: Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230805.001)
--- request eval
["GET /t", "GET /off", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{"ip":"127\.0\.0\.1","\$os":"Android"\}\}$::Next"ip":"127\.0\.0\.1"\}\}\]\}\n$}]



=== TEST 14: CFNetwork: macOS when the User-Agent says so, left out when iOS and macOS send the same; okhttp and curl get nothing
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-ua4;\n"
--- config
    mixpanel_request_properties off;
    mixpanel_ip off;

    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /mac {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
        proxy_set_header User-Agent "MyApp/1.0 CFNetwork/1410.0.3 Darwin/22.6.0 (arm64)";
    }

    location = /apple {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
        proxy_set_header User-Agent "MyApp/1.0 CFNetwork/1410.0.3 Darwin/22.6.0";
    }

    location = /ios {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
        proxy_set_header User-Agent "MyApp/1.0 (com.example.app; build:3; iOS 17.2.0) Alamofire/5.8.1";
    }

    location = /okhttp {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
        proxy_set_header User-Agent "okhttp/4.12.0";
    }
--- request eval
["GET /mac", "GET /apple", "GET /ios", "GET /okhttp", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{"ip":"0","\$os":"macOS"\}\}$::Next"ip":"0"\}\}$::Next"ip":"0","\$os":"iOS"\}\}$::Next"ip":"0"\}\}\]\}\n$}]



=== TEST 15: Mixpanel's limits on a value: nesting 3 deep and fewer than 255 keys or items are sent, one past is left out, the event kept
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limits;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_user_agent_properties off;
        mixpanel_ip off;
        mixpanel_property d4 $http_x_d4 type=json;
        mixpanel_property d3 $http_x_d3 type=json;
        mixpanel_property a4 $http_x_a4 type=json;
        mixpanel_property a3 $http_x_a3 type=json;
        mixpanel_property k255 $http_x_k255 type=json;
        mixpanel_property k254 $http_x_k254 type=json;
        mixpanel_property n255 $http_x_n255 type=json;
        mixpanel_property n254 $http_x_n254 type=json;
        mixpanel_property in255 $http_x_in255 type=json;
        mixpanel_property l255 $http_x_l255 type=list;
        mixpanel_property l254 $http_x_l254 type=list;
        mixpanel_property after kept;
        return 200 "ok\n";
    }
--- more_headers eval
my $keys = sub { "{" . join(",", map { qq{"k$_":0} } 1 .. $_[0]) . "}" };
my $items = sub { "[" . join(",", (7) x $_[0]) . "]" };
my $list = sub { join(",", map { "i$_" } 1 .. $_[0]) };
"X-D4: {\"a\":{\"b\":{\"c\":{\"d\":1}}}}\n"
. "X-D3: {\"a\":{\"b\":{\"c\":1}}}\n"
. "X-A4: [[[[1]]]]\n"
. "X-A3: [[[1]],{\"x\":[2]}]\n"
. "X-K255: " . $keys->(255) . "\n"
. "X-K254: " . $keys->(254) . "\n"
. "X-N255: " . $items->(255) . "\n"
. "X-N254: " . $items->(254) . "\n"
. "X-In255: {\"x\":" . $items->(255) . "}\n"
. "X-L255: " . $list->(255) . "\n"
. "X-L254: " . $list->(254) . ",,\n"
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
'"ip":"0","d3":\{"a":\{"b":\{"c":1\}\}\},"a3":\[\[\[1\]\],\{"x":\[2\]\}\],"k254":\{"k1":0,(?:"k\d+":0,){252}"k254":0\},"n254":\[(?:7,){253}7\],"l254":\["i1",(?:"i\d+",){252}"i254"\],"after":"kept"\}\}\]\}\n$']
--- no_error_log
[error]



=== TEST 16: a JSON value nested 4 deep, logged at info
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit16;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_property v $http_x_v type=json;
        return 200 "ok\n";
    }
--- more_headers eval
"X-V: " . "[{\"a\":[[1]]}]" . "\n"
--- request
GET /t
--- error_log
mixpanel: property v left out: objects and lists nested more than 3 deep, Mixpanel would reject the event
--- no_error_log
[error]



=== TEST 17: a JSON object of 255 keys, logged at info
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit17;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_property v $http_x_v type=json;
        return 200 "ok\n";
    }
--- more_headers eval
"X-V: " . "{" . join(",", map { qq{"k$_":0} } 1 .. 255) . "}" . "\n"
--- request
GET /t
--- error_log
mixpanel: property v left out: an object of more than 254 keys, Mixpanel would reject the event
--- no_error_log
[error]



=== TEST 18: a JSON list of 255 items, logged at info
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit18;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_property v $http_x_v type=json;
        return 200 "ok\n";
    }
--- more_headers eval
"X-V: " . "[" . join(",", (1) x 255) . "]" . "\n"
--- request
GET /t
--- error_log
mixpanel: property v left out: a list of more than 254 items, Mixpanel would reject the event
--- no_error_log
[error]



=== TEST 18a: three values past Mixpanel's limits in one event: one line, not three (at most one a second per worker: clients may send such values)
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit18a;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_property v1 $http_x_v1 type=json;
        mixpanel_property v2 $http_x_v2 type=json;
        mixpanel_property v3 $http_x_v3 type=list;
        mixpanel_property after kept;
        return 200 "ok\n";
    }
--- more_headers eval
"X-V1: [[[[1]]]]\n"
. "X-V2: " . "[" . join(",", (1) x 255) . "]" . "\n"
. "X-V3: " . join(",", map { "i$_" } 1 .. 255) . "\n"
--- request
GET /t
--- grep_error_log eval
qr/property \w+ left out/
--- grep_error_log_out
property v1 left out
--- no_error_log
[error]



=== TEST 19: a list of 255 items, logged at info
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit19;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_property v $http_x_v type=list;
        return 200 "ok\n";
    }
--- more_headers eval
"X-V: " . join(",", 1 .. 255) . "\n"
--- request
GET /t
--- error_log
mixpanel: property v left out: a list of more than 254 items, Mixpanel would reject the event
--- no_error_log
[error]



=== TEST 19a: after a people update in the same worker, an event's list of 255 items is still left out (the profile's no-limit lists are the profile's only), a list of 254 sent
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit19a;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        mixpanel_user_agent_properties off;
        mixpanel_ip off;
        mixpanel_property v $http_x_v type=list;
        mixpanel_property n $arg_n;
        return 200 "ok\n";
    }

    location = /p {
        mixpanel track;
        mixpanel_event off;
        mixpanel_account_id acct-19a;
        mixpanel_ip off;
        mixpanel_people_set tags $http_x_v type=list;
        return 200 "ok\n";
    }
--- more_headers eval
["X-V: " . join(",", 1 .. 255), "X-V: " . join(",", 1 .. 300),
 "X-V: " . join(",", 1 .. 255), "X-V: " . join(",", 1 .. 254), "", "", ""]
--- request eval
["GET /t?n=1", "GET /p", "GET /t?n=2", "GET /t?n=3", "GET /wait", "GET /wait",
 "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{"ip":"0","n":"1"\}\},\{[^{}]*"properties":\{[^{}]*"ip":"0","n":"2"\}\},\{[^{}]*"properties":\{[^{}]*"ip":"0","v":\["1",[^\]]*"254"\],"n":"3"\}\}\]\}\n\{"endpoint":"/engage","body":\[\{[^\n]*"tags":\["1",[^\]]*"300"\]\}\}\]\}\n$}s]
--- no_error_log
[error]



=== TEST 20: a profile's objects have the event limits (depth, keys: 255 left out, 254 sent); its lists have no limit of items (Mixpanel's profile lists may be longer)
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit20;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_event off;
        mixpanel_account_id acct-20;
        mixpanel_ip off;
        mixpanel_people_set deep $http_x_d4 type=json;
        mixpanel_people_set ok $http_x_d3 type=json;
        mixpanel_people_set many $http_x_l300 type=list;
        mixpanel_people_set tags $http_x_l254 type=list;
        mixpanel_people_set jlist $http_x_j300 type=json;
        mixpanel_people_set k255 $http_x_k255 type=json;
        mixpanel_people_set k254 $http_x_k254 type=json;
        return 200 "ok\n";
    }
--- more_headers eval
"X-D4: {\"a\":[{\"c\":[1]}]}\n"
. "X-D3: {\"a\":[{\"c\":1}]}\n"
. "X-L300: " . join(",", 1 .. 300) . "\n"
. "X-L254: " . join(",", 1 .. 254) . "\n"
. "X-J300: [" . join(",", 1 .. 300) . "]\n"
. "X-K255: {" . join(",", map { qq{"k$_":0} } 1 .. 255) . "}\n"
. "X-K254: {" . join(",", map { qq{"k$_":0} } 1 .. 254) . "}\n"
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
'^\{"endpoint":"/engage","body":\[\{"\$token":"tok-limit20","\$distinct_id":"acct-20",[^\n]*"\$set":\{"ok":\{"a":\[\{"c":1\}\]\},"many":\["1",(?:"\d+",){298}"300"\],"tags":\["1",(?:"\d+",){252}"254"\],"jlist":\[1,(?:\d+,){298}300\],"k254":\{"k1":0,(?:"k\d+":0,){252}"k254":0\}\}[^\n]*\]\}\n$']
--- no_error_log
[error]



=== TEST 20b: a profile's list of more than 256 KB is left out, logged at info; one just under is sent
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit20b;\n    large_client_header_buffers 4 600k;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_event off;
        mixpanel_account_id acct-20b;
        mixpanel_ip off;
        mixpanel_people_set big $http_x_big type=list;
        mixpanel_people_set fits $http_x_fits type=list;
        return 200 "ok\n";
    }
--- more_headers eval
# 1100 items of 250 bytes: 276,100 bytes of JSON; 1000: 251,001
"X-Big: " . join(",", map { sprintf("%0250d", $_) } 1 .. 1100) . "\n"
. "X-Fits: " . join(",", map { sprintf("%0250d", $_) } 1 .. 1000) . "\n"
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
'^\{"endpoint":"/engage","body":\[\{"\$token":"tok-limit20b","\$distinct_id":"acct-20b",[^\n]*"\$set":\{"fits":\["0{249}1",(?:"\d{250}",){998}"0{246}1000"\]\}\}\]\}\n$']



=== TEST 20b1: a profile's list at 256 KB exactly (262,144 bytes of JSON, brackets included) is sent, one byte more is left out, as a list or as JSON
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit20b1;\n    large_client_header_buffers 8 600k;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_event off;
        mixpanel_account_id acct-20b1;
        mixpanel_ip off;
        mixpanel_people_set list_over $http_x_lover type=list;
        mixpanel_people_set list_at $http_x_lat type=list;
        mixpanel_people_set json_over $http_x_jover type=json;
        mixpanel_people_set json_at $http_x_jat type=json;
        return 200 "ok\n";
    }
--- more_headers eval
# 1036 items of 250 digits and one of 32: 1 + 1036 * 253 + 35 = 262,144
my @at = ((map { sprintf("%0250d", $_) } 1 .. 1036), "7" x 32);
my @over = ((map { sprintf("%0250d", $_) } 1 .. 1036), "7" x 33);
"X-LOver: " . join(",", @over) . "\n"
. "X-LAt: " . join(",", @at) . "\n"
. "X-JOver: [" . join(",", map { "\"$_\"" } @over) . "]\n"
. "X-JAt: [" . join(",", map { "\"$_\"" } @at) . "]\n"
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
'^\{"endpoint":"/engage","body":\[\{"\$token":"tok-limit20b1","\$distinct_id":"acct-20b1",[^\n]*"\$set":\{"list_at":\["0{249}1",(?:"\d{250}",){1035}"7{32}"\],"json_at":\["0{249}1",(?:"\d{250}",){1035}"7{32}"\]\}\}\]\}\n$']
--- no_error_log
[error]



=== TEST 20b2: a profile's object at 256 KB exactly (262,144 bytes of JSON, a list inside) is sent, one byte more is left out (data-type.mdx: an object property of a profile, 256 KB)
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit20b2;\n    large_client_header_buffers 8 600k;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_event off;
        mixpanel_account_id acct-20b2;
        mixpanel_ip off;
        mixpanel_people_set before $http_x_before;
        mixpanel_people_set obj_over $http_x_over type=json;
        mixpanel_people_set obj_at $http_x_at type=json;
        mixpanel_people_set after $http_x_after;
        return 200 "ok\n";
    }
--- more_headers eval
# {"a":[...]}: 6 bytes, 1036 items of 250 digits and one of 26: 262,144
my @at = ((map { sprintf("%0250d", $_) } 1 .. 1036), "7" x 26);
my @over = ((map { sprintf("%0250d", $_) } 1 .. 1036), "7" x 27);
"X-Before: B\n"
. "X-Over: {\"a\":[" . join(",", map { "\"$_\"" } @over) . "]}\n"
. "X-At: {\"a\":[" . join(",", map { "\"$_\"" } @at) . "]}\n"
. "X-After: A\n"
--- request eval
["GET /t", "GET /wait", "GET /wait", "GET /sink"]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
'^\{"endpoint":"/engage","body":\[\{"\$token":"tok-limit20b2","\$distinct_id":"acct-20b2",[^\n]*"\$set":\{"before":"B","obj_at":\{"a":\["0{249}1",(?:"\d{250}",){1035}"7{26}"\]\},"after":"A"\}\}\]\}\n$']
--- no_error_log
[error]



=== TEST 20c: what the block above logs, at info
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit20c;\n    large_client_header_buffers 4 600k;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_event off;
        mixpanel_account_id acct-20c;
        mixpanel_people_set big $http_x_big type=list;
        return 200 "ok\n";
    }
--- more_headers eval
"X-Big: " . join(",", map { sprintf("%0250d", $_) } 1 .. 1100) . "\n"
--- request
GET /t
--- error_log
mixpanel: property big left out: a list of more than 256 KB, Mixpanel would reject the update



=== TEST 20c1: what an object past 256 KB logs, at info
--- http_config eval
$::HttpConfig . "    mixpanel_token tok-limit20c1;\n    large_client_header_buffers 4 600k;\n"
--- config
    location = /t {
        mixpanel track;
        mixpanel_event off;
        mixpanel_account_id acct-20c1;
        mixpanel_people_set big $http_x_big type=json;
        return 200 "ok\n";
    }
--- more_headers eval
"X-Big: {\"a\":[" . join(",", map { sprintf("\"%0250d\"", $_) } 1 .. 1100)
. "]}\n"
--- request
GET /t
--- error_log
mixpanel: property big left out: an object of more than 256 KB, Mixpanel would reject the update
