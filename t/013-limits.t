# Every limit SPEC and MIXPANEL.md name, at the limit and one past it, with
# the exact record sent: strings cut to 255 bytes on a character boundary,
# the properties of an event (Mixpanel takes fewer than 255: the module
# sends at most 254), the account id (255 bytes), the client device id
# (256 bytes), the profile id (255 bytes; 128 in the profile cookie), the
# banned ids and what is sent instead, mixpanel_batch_size (2000),
# mixpanel_queue_size (1), mixpanel_json_max_size (request, response and
# a response of unknown length), and the 2 MB body of a batch.  The
# sender writes to the file: sink; blocks wait for it by polling the
# status page (t/Settle.pm).
#
# Tested elsewhere at the limit and one past it: JSON and list values
# (nesting 3, 254 items or keys: t/020 TESTs 15-20), the JWT size and key
# file size, exp and nbf to the second (t/060), the queue bound
# (t/031-counters.t).

use Test::Nginx::Socket 'no_plan';
use t::Mixpanel;
use t::Settle;

use FindBin;

our $D3 = "33333333-3333-4333-a333-333333333333";

our @Base = (
    'mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;',
    'mixpanel_flush_interval 50ms;',
    'mixpanel_token tok;',
    'mixpanel_request_properties off;',
    'mixpanel_user_agent_properties off;',
);

our $Helpers = <<'_EOC_';
    location = /settle {
        mixpanel off;
        return 200 "settle $arg_n\n";
    }

    location = /status {
        mixpanel_status;
    }

    location = /sink {
        mixpanel off;
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    }
_EOC_

# the module's version, which every event carries (for exact lengths)
our $Version = do {
    my $h = "$FindBin::Bin/../ngx_mixpanel_module/ngx_http_mixpanel_module.h";
    open my $fh, '<', $h or die "$h: $!";
    my ($v) = join("", <$fh>) =~ /NGX_HTTP_MIXPANEL_VERSION\s+"([^"]+)"/
        or die "no NGX_HTTP_MIXPANEL_VERSION in $h";
    $v;
};

sub ev {
    my ($name, %o) = @_;
    my $dev = $o{dev} // $D1;
    my $dist = $o{dist} // $dev;

    return '\{"event":"' . ($o{raw_name} // quotemeta($name))
           . '","properties":\{"token":"tok","time":\d{13},"distinct_id":"'
           . $dist . '"'
           . ($o{foreign} ? '' : ',"\$device_id":"' . $dev . '"')
           . (defined $o{user} ? ',"\$user_id":"' . $o{user} . '"' : '')
           . ',"\$insert_id":"[0-9a-f]{32}","mp_lib":"nginx",'
           . '"\$lib_version":"[0-9.]+","ip":"127\.0\.0\.1"'
           . ($o{props} // '') . '\}\}';
}

# Simplified: identified, or anonymous on the device cookie D1.  The
# first account identified on D1 binds it; the events of another account
# do not claim a device that account's cluster holds: "foreign", no
# $device_id (SPEC section 4)
sub known {
    my ($account, $props, $foreign) = @_;
    my $q = quotemeta $account;
    return ev('API Request', dist => $q, user => $q, foreign => $foreign,
              props => ',"account_id":"' . $q . '"' . ($props // ''));
}

sub anon {
    my ($props) = @_;
    return ev('API Request', dist => '\$device:' . $D1, props => $props);
}

# Strings around 255 bytes: [header value, what is sent]
our @Strings = (
    [ 'a' x 255, 'a' x 255 ],
    [ 'a' x 256, 'a' x 255 ],
    [ 'a' x 253 . "\xc3\xa9", 'a' x 253 . "\xc3\xa9" ],
    [ 'a' x 254 . "\xc3\xa9", 'a' x 254 ],
    [ 'a' x 252 . "\xe2\x82\xac", 'a' x 252 . "\xe2\x82\xac" ],
    [ 'a' x 253 . "\xe2\x82\xac", 'a' x 253 ],
    [ 'a' x 254 . "\xe2\x82\xac", 'a' x 254 ],
    [ 'a' x 251 . "\xf0\x9f\x98\x80", 'a' x 251 . "\xf0\x9f\x98\x80" ],
    [ 'a' x 252 . "\xf0\x9f\x98\x80", 'a' x 252 ],
    [ 'a' x 254 . "\xf0\x9f\x98\x80", 'a' x 254 ],
    [ 'a' x 252 . "\xff", 'a' x 252 . "\xef\xbf\xbd" ],
    [ 'a' x 253 . "\xff", 'a' x 253 ],
    [ '"' x 255, '\\"' x 255 ],
    [ '"' x 256, '\\"' x 255 ],
    [ 'a' x 254 . "\x01", 'a' x 254 . '\\u0001' ],
    [ 'a' x 255 . "\x01", 'a' x 255 ],
);

our @Banned = ('00000000-0000-0000-0000-000000000000', 'anon', 'anonymous',
               'nil', 'none', 'null', 'n/a', 'na', 'undefined', 'unknown',
               '<nil>', '0', '-1', 'true', 'false', '[]', '{}');

# a profile id's characters at the edges of their ranges, and just past
our @ProfileEdges = ('A', 'Z', 'a', 'z', '0', '9', '-', '.', '_', '~');
our @ProfilePast = ('@', '[', '`', '{', '/', ':', '^', '}');

# the JSON of an event of the 2 MB blocks, "time" and "$insert_id" aside
our $Prefix = '{"event":"Big","properties":{"token":"tok","time":'
              . '1700000000000,"distinct_id":"' . $D1 . '","$device_id":"'
              . $D1 . '","$insert_id":"' . ('0' x 32) . '","mp_lib":"nginx",'
              . '"$lib_version":"' . $Version . '","ip":"127.0.0.1"';

# 200 properties of 255 bytes each
our $BigLen = length($Prefix) + 200 * length(',"p001":"' . 'a' x 255 . '"')
              + 2;

# 39 big events and one of /fill whose arguments make the batch's body
# (2 + the records + 39 commas) $body bytes: [f, z]
sub fill_args {
    my ($body) = @_;
    my $len = $body - 2 - 39 * ($BigLen + 1);
    my $x = $len - length($Prefix) - 2;
    my $f = int(($x - 8) / 200) - 10;
    my $z = $x - 200 * (10 + $f) - 7;
    die "fill_args: $f, $z" if $f < 1 || $f > 255 || $z < 1 || $z > 255;
    return ('f' x $f, 'z' x $z);
}

sub big_steps {
    my ($body) = @_;
    my ($f, $z) = fill_args($body);
    my $c = "Cookie: mp_device_id=$D1";
    return [ (map { { req => "GET /big", hdr => $c } } 1 .. 39),
             { req => "GET /fill?f=$f&z=$z", hdr => $c },
             { req => "GET /fill?f=f&z=z", hdr => $c, queued => 41 } ];
}

settle_hook();
check_accum_error_log();

use_steps(prepare => sub {
    my $block = shift;

    my $http = $block->http_config // "";
    my $base = join "", map { "    $_\n" }
                        grep { my ($d) = /^(\S+)/; $http !~ /\Q$d\E\s/ }
                        @Base;

    $block->set_value("http_config", $base . $http);
    return if defined $block->must_die;

    $block->set_value("config", ($block->config // "") . $Helpers);
    $block->set_value("no_error_log", "[error]\n[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: strings are cut to 255 bytes on a character boundary: 255 bytes ending in a 2, 3 or 4-byte character are whole; past 255, the character that would be split is left out; escapes and U+FFFD count as the bytes they stand for
--- config eval
"    location = /t {\n        mixpanel track;\n"
. CORE::join("", map { sprintf "        mixpanel_property s%02d \$http_x_s%02d;\n",
                         $_, $_ } 1 .. @::Strings)
. "        return 200 \"ok\\n\";\n    }\n"
--- steps eval
my $i = 0;
[ { req => "GET /t",
    hdr => "Cookie: mp_device_id=$::D1\n"
           . CORE::join("\n", map { sprintf "X-S%02d: %s", ++$i, $_->[0] }
                        @::Strings),
    queued => 1 } ]
--- sink eval
my $i = 0;
::sink_of([ ::ev('API Request',
                 props => CORE::join("", map { sprintf ',"s%02d":"%s"', ++$i,
                                                 quotemeta $_->[1] }
                                   @::Strings)) ])



=== TEST 2: the event name and a people update's value are cut the same way
--- http_config
    mixpanel_identity simplified;
    mixpanel_account_id $http_x_account;
--- config
    location = /n {
        mixpanel track;
        mixpanel_event $http_x_name;
        return 200 "ok\n";
    }

    location = /p {
        mixpanel track;
        mixpanel_people_set v $http_x_v;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[ { req => "GET /n", hdr => "$c\nX-Name: " . 'n' x 254 . "\xc3\xa9", queued => 1 },
  { req => "GET /n", hdr => "$c\nX-Name: " . 'n' x 253 . "\xc3\xa9", queued => 2 },
  { req => "GET /p", hdr => "$c\nX-Account: acc-1\nX-V: " . 'v' x 253 . "\xe2\x82\xac",
    queued => 4 },
  { req => "GET /p", hdr => "$c\nX-Account: acc-1\nX-V: " . 'v' x 252 . "\xe2\x82\xac",
    queued => 6 } ]
--- sink eval
::sink_of([ ::ev('', raw_name => 'n' x 254, dist => '\$device:' . $::D1),
            ::ev('', raw_name => 'n' x 253 . "\xc3\xa9",
                 dist => '\$device:' . $::D1),
            ::known('acc-1'), ::known('acc-1') ],
          [ engage_re('acc-1', '$set', '"v":"' . 'v' x 253 . '"', 1),
            engage_re('acc-1', '$set', '"v":"' . 'v' x 252 . "\xe2\x82\xac" . '"', 1) ])



=== TEST 3: 254 properties are sent, the 255th is left out; an empty value does not count
--- config eval
my $loc = sub {
    my ($name, $n, $first) = @_;
    return "    location = /$name {\n        mixpanel track;\n"
           . CORE::join("", map { sprintf "        mixpanel_property p%03d %s;\n",
                                    $_, ($_ == 1 ? $first : "v") } 1 .. $n)
           . "        return 200 \"ok\\n\";\n    }\n";
};
$loc->("p246", 246, "v") . $loc->("p247", 247, "v")
. $loc->("p247e", 247, '$arg_e')
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[ { req => "GET /p246", hdr => $c, queued => 1 },
  { req => "GET /p247", hdr => $c, queued => 2 },
  { req => "GET /p247e", hdr => $c, queued => 3 },
  { req => "GET /p247e?e=e", hdr => $c, queued => 4 } ]
--- sink eval
my $p = sub { CORE::join "", map { sprintf ',"p%03d":"%s"', $_, ($_ == 1 ? $_[2] : "v") }
                       $_[0] .. $_[1] };
::sink_of([ ::ev('API Request', props => $p->(1, 246, "v")),
            ::ev('API Request', props => $p->(1, 246, "v")),
            ::ev('API Request', props => $p->(2, 247, "v")),
            ::ev('API Request', props => $p->(1, 246, "e")) ])



=== TEST 4: 254 properties in one block pass nginx -t, and still 254 are sent in all
--- config eval
"    location = /t {\n        mixpanel track;\n"
. CORE::join("", map { sprintf "        mixpanel_property p%03d v;\n", $_ } 1 .. 254)
. "        return 200 \"ok\\n\";\n    }\n"
--- steps eval
[ { req => "GET /t", hdr => "Cookie: mp_device_id=$::D1", queued => 1 } ]
--- sink eval
::sink_of([ ::ev('API Request',
                 props => CORE::join "", map { sprintf ',"p%03d":"v"', $_ } 1 .. 246) ])



=== TEST 4a: a people update keeps the client's $browser, $browser_version and $os while they fit: 251 properties and the three are 254; with 252 the three are left out, the 252 sent
--- http_config
    mixpanel_identity simplified;
    mixpanel_account_id $http_x_account;
    mixpanel_user_agent_properties on;
--- config eval
my $loc = sub {
    my ($n) = @_;
    return "    location = /p$n {\n        mixpanel track;\n"
           . CORE::join("", map { sprintf "        mixpanel_people_set q%03d v;\n", $_ } 1 .. $n)
           . "        return 200 \"ok\\n\";\n    }\n";
};
$loc->(251) . $loc->(252)
--- steps eval
my $h = "Cookie: mp_device_id=$::D1\nX-Account: acc-1\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
[ { req => "GET /p251", hdr => $h, queued => 2 },
  { req => "GET /p252", hdr => $h, queued => 4 } ]
--- sink eval
my $q = sub { CORE::join ",", map { sprintf '"q%03d":"v"', $_ } 1 .. $_[0] };
my $ua = ',"\$browser":"Chrome","\$browser_version":124,"\$os":"Windows"';
::sink_of([ ::known('acc-1', $ua), ::known('acc-1', $ua) ],
          [ engage_re('acc-1', '$set', $q->(251) . $ua, 1),
            engage_re('acc-1', '$set', $q->(252), 1) ])



=== TEST 5: 255 properties in one block stop nginx -t
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
--- config eval
"    location = /t {\n        mixpanel track;\n"
. CORE::join("", map { sprintf "        mixpanel_property p%03d v;\n", $_ } 1 .. 255)
. "        return 200 \"ok\\n\";\n    }\n"
--- request
GET /t
--- must_die
--- error_log
too many properties, Mixpanel keeps at most 254



=== TEST 6: an account id of 255 bytes is the account; one of 256 bytes is unknown, never cut into another account's
--- http_config
    mixpanel_identity simplified;
    mixpanel_account_id $http_x_account;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[ { req => "GET /t", hdr => "$c\nX-Account: " . 'A' x 255 . 'z', queued => 1 },
  { req => "GET /t", hdr => "$c\nX-Account: " . 'A' x 254 . 'z', queued => 2 } ]
--- sink eval
::sink_of([ ::anon(), ::known('A' x 254 . 'z') ])
--- error_log
mixpanel: account id of 256 bytes ignored, Mixpanel keeps at most 255



=== TEST 7: a client device id of 256 bytes is used (mapped to a UUIDv4); one of 257 bytes is ignored for the cookie's
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $http_x_device;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[ { req => "GET /t", hdr => "$c\nX-Device: " . 'd' x 257, queued => 1 },
  { req => "GET /t", hdr => "$c\nX-Device: " . 'd' x 256, queued => 2 } ]
--- sink eval
::sink_of([ ::ev('API Request', dev => $::D1),
            ::ev('API Request', dev => mapped_device('d' x 256)) ])
--- error_log
mixpanel: client device id ignored, it is too long or a banned id



=== TEST 8: a profile id of 255 bytes is sent; one of 256 bytes is not, the profile cookie's is
--- http_config
    mixpanel_profile_id $http_x_profile;
    mixpanel_profile_cookie mp_profile;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[ { req => "GET /t", hdr => "$c\nX-Profile: " . 'p' x 255, queued => 1 },
  { req => "GET /t", hdr => "$c\nX-Profile: " . 'p' x 256, queued => 2 },
  { req => "GET /t", hdr => "$c; mp_profile=from-cookie\nX-Profile: " . 'p' x 256,
    queued => 3 } ]
--- sink eval
::sink_of([ ::ev('API Request', props => ',"active_profile_id":"' . 'p' x 255 . '"'),
            ::ev('API Request'),
            ::ev('API Request', props => ',"active_profile_id":"from-cookie"') ])



=== TEST 9: the profile cookie stores ids of up to 128 letters, digits and "-._~"; 129, or another character, is not stored, and such a cookie is not read
--- http_config
    mixpanel_profile_id $http_x_profile;
    mixpanel_profile_cookie mp_profile;
--- config
    location = /switch {
        mixpanel profile_switch;
        return 200 "ok\n";
    }

    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
my $p128 = 'Az09-._~' x 16;
my $p129 = $p128 . 'x';
[ { req => "GET /switch", hdr => "$c\nX-Profile: $p129",
    hdr_like => "Set-Cookie:", queued => 1 },
  { req => "GET /switch", hdr => "$c\nX-Profile: $p128",
    hdr_like => "Set-Cookie: mp_profile=\Q$p128\E; Path=/; .*", queued => 2 },
  { req => "GET /switch", hdr => "$c\nX-Profile: a+b",
    hdr_like => "Set-Cookie:", queued => 3 },
  { req => "GET /t", hdr => "$c; mp_profile=$p128", queued => 4 },
  { req => "GET /t", hdr => "$c; mp_profile=$p129", queued => 5 },
  { req => "GET /t", hdr => "$c; mp_profile=a+b", queued => 6 } ]
--- sink eval
my $p128 = 'Az09-._~' x 16;
::sink_of([ ::ev('Switch Profile', props => ',"active_profile_id":"' . quotemeta($p128) . 'x"'),
            ::ev('Switch Profile', props => ',"active_profile_id":"' . quotemeta($p128) . '"'),
            ::ev('Switch Profile', props => ',"active_profile_id":"a\+b"'),
            ::ev('API Request', props => ',"active_profile_id":"' . quotemeta($p128) . '"'),
            ::ev('API Request'),
            ::ev('API Request') ])
--- error_log
mixpanel: profile id not stored in a cookie, it is longer than 128 bytes or has characters other than letters, digits and "-._~"



=== TEST 9a: the profile cookie's characters at each edge of their ranges (A Z a z 0 9, and - . _ ~) are stored and read; the ones just past them (@ [ ` { / : ^ }) are not read
--- http_config
    mixpanel_profile_id $http_x_profile;
    mixpanel_profile_cookie mp_profile;
--- config
    location = /switch {
        mixpanel profile_switch;
        return 200 "ok\n";
    }

    location = /t {
        mixpanel track;
        mixpanel_profile_id "";
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
my $n = 0;
[ (map { ({ req => "GET /switch", hdr => "$c\nX-Profile: p$_",
            hdr_like => "Set-Cookie: mp_profile=p\Q$_\E; Path=/; .*",
            queued => ++$n },
          { req => "GET /t", hdr => "$c; mp_profile=p$_", queued => ++$n }) }
       @::ProfileEdges),
  (map { { req => "GET /t", hdr => "$c; mp_profile=p$_", queued => ++$n } }
       @::ProfilePast) ]
--- sink eval
::sink_of([ (map { (::ev('Switch Profile',
                         props => ',"active_profile_id":"p' . quotemeta($_) . '"'),
                    ::ev('API Request',
                         props => ',"active_profile_id":"p' . quotemeta($_) . '"')) }
             @::ProfileEdges),
            (map { ::ev('API Request') } @::ProfilePast) ])



=== TEST 10: every banned account id is unknown, in any case; with a character more or less it is an account
--- http_config
    mixpanel_identity simplified;
    mixpanel_account_id $http_x_account;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
my $n = 0;
[ map { ({ req => "GET /t", hdr => "$c\nX-Account: $_", queued => ++$n },
         { req => "GET /t", hdr => "$c\nX-Account: ${_}x", queued => ++$n }) }
      @::Banned, 'NULL', 'Undefined', 'N/A' ]
--- sink eval
my $first = $::Banned[0] . 'x';
::sink_of([ (map { (::anon(), ::known($_ . 'x', '', $_ . 'x' ne $first)) }
             @::Banned, 'NULL', 'Undefined', 'N/A') ])
--- error_log
mixpanel: account id "00000000-0000-0000-0000-000000000000" is one Mixpanel bans, treated as unknown



=== TEST 10a: ... and with a character less (a banned id's beginning: "anonymou", "nul", "n", "-"), or the beginning of another ("anon" is banned, "ano" is an account), it is an account too
--- http_config
    mixpanel_identity simplified;
    mixpanel_account_id $http_x_account;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
my $n = 0;
[ map { { req => "GET /t", hdr => "$c\nX-Account: " . substr($_, 0, -1),
          queued => ++$n } } grep { length > 1 } @::Banned ]
--- sink eval
my @less = map { substr($_, 0, -1) } grep { length > 1 } @::Banned;
::sink_of([ map { ::known($_, '', $_ ne $less[0]) } @less ])



=== TEST 11: a banned client device id or profile id is ignored for the cookie's; with a character more it is used
--- http_config
    mixpanel_profile_id $http_x_profile;
    mixpanel_profile_cookie mp_profile;
--- config
    location = /t {
        mixpanel track;
        mixpanel_device_id $http_x_device;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1; mp_profile=from-cookie";
[ { req => "GET /t", hdr => "$c\nX-Device: null", queued => 1 },
  { req => "GET /t", hdr => "$c\nX-Device: nullx", queued => 2 },
  { req => "GET /t", hdr => "$c\nX-Device: 00000000-0000-0000-0000-000000000000",
    queued => 3 },
  { req => "GET /t", hdr => "$c\nX-Device: 00000000-0000-0000-0000-0000000000000",
    queued => 4 },
  { req => "GET /t", hdr => "$c\nX-Profile: undefined", queued => 5 },
  { req => "GET /t", hdr => "$c\nX-Profile: undefinedx", queued => 6 } ]
--- sink eval
my $pc = ',"active_profile_id":"from-cookie"';
::sink_of([ ::ev('API Request', props => $pc),
            ::ev('API Request', dev => mapped_device('nullx'), props => $pc),
            ::ev('API Request', props => $pc),
            ::ev('API Request',
                 dev => mapped_device('00000000-0000-0000-0000-0000000000000'),
                 props => $pc),
            ::ev('API Request', props => $pc),
            ::ev('API Request', props => ',"active_profile_id":"undefinedx"') ])



=== TEST 12: mixpanel_batch_size 2000 and mixpanel_queue_size 1 start and send
--- http_config
    mixpanel_batch_size 2000;
    mixpanel_queue_size 1;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- steps eval
[ { req => "GET /t", hdr => "Cookie: mp_device_id=$::D1", queued => 1 } ]
--- sink eval
::sink_of([ ::ev('API Request') ])



=== TEST 13: mixpanel_batch_size 2001 stops nginx -t
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    mixpanel_token tok;
    mixpanel_batch_size 2001;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_batch_size" directive must be between 1 and 2000, the most Mixpanel accepts in one request



=== TEST 14: mixpanel_batch_size 1 starts and sends
--- http_config
    mixpanel_batch_size 1;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- steps eval
[ { req => "GET /t", hdr => "Cookie: mp_device_id=$::D1", queued => 1 } ]
--- sink eval
::sink_of([ ::ev('API Request') ])



=== TEST 15: mixpanel_batch_size 0 stops nginx -t
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    mixpanel_token tok;
    mixpanel_batch_size 0;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_batch_size" directive must be between 1 and 2000, the most Mixpanel accepts in one request



=== TEST 16: mixpanel_queue_size 0 stops nginx -t
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    mixpanel_token tok;
    mixpanel_queue_size 0;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_queue_size" directive must be at least 1



=== TEST 17: mixpanel_json_max_size: a body of exactly the size is read, the same body with a limit one byte under is not (request body, response, response of unknown length)
--- http_config
    mixpanel_identity simplified;
    mixpanel_json_set $req_account request /a;
    mixpanel_json_set $resp_account response /a;
    mixpanel_account_id $req_account$resp_account;
--- config
    location = /q30 {
        mixpanel track;
        mixpanel_json_max_size 30;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /q29 {
        mixpanel track;
        mixpanel_json_max_size 29;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        return 200 "ok\n";
    }

    location = /r30 {
        mixpanel track;
        mixpanel_json_max_size 30;
        default_type application/json;
        return 200 '{"a":"acc-resp-8901234567890"}';
    }

    location = /r29 {
        mixpanel track;
        mixpanel_json_max_size 29;
        default_type application/json;
        return 200 '{"a":"acc-resp-8901234567890"}';
    }

    location = /c30 {
        mixpanel track;
        mixpanel_json_max_size 30;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ssi;
    }

    location = /c29 {
        mixpanel track;
        mixpanel_json_max_size 29;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ssi;
    }

    location = /ssi {
        default_type application/json;
        ssi on;
        ssi_types application/json;
        root $TEST_NGINX_SERVER_ROOT/html;
        rewrite ^ /chunked.json break;
    }
--- user_files
>>> chunked.json
{"a":"acc-ssi-<!--# echo var="arg_id" default="" -->"}
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
my $j = "$c\nContent-Type: application/json";
[ { req => qq(POST /q30\n{"a":"acc-req-78901234567890"}), hdr => $j, queued => 1 },
  { req => qq(POST /q29\n{"a":"acc-req-78901234567890"}), hdr => $j, queued => 2 },
  { req => "GET /r30", hdr => $c, queued => 3 },
  { req => "GET /r29", hdr => $c, queued => 4 },
  { req => "GET /c30?id=4567890123456", hdr => $c,
    body => '^\{"a":"acc-ssi-4567890123456"\}\n\z', queued => 5 },
  { req => "GET /c29?id=4567890123456", hdr => $c,
    body => '^\{"a":"acc-ssi-4567890123456"\}\n\z', queued => 6 } ]
--- sink eval
::sink_of([ ::known('acc-req-78901234567890'), ::anon(),
            ::known('acc-resp-8901234567890', '', 1), ::anon(),
            ::known('acc-ssi-4567890123456', '', 1), ::anon() ])



=== TEST 17a: mixpanel_json_max_size is 64k by default: a request body of 65536 bytes is read, one of 65537 is not
--- http_config
    mixpanel_identity simplified;
    mixpanel_json_set $req_account request /a;
    mixpanel_account_id $req_account;
--- config
    location = /q {
        mixpanel track;
        client_body_buffer_size 128k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        return 200 "ok\n";
    }
--- steps eval
my $j = "Cookie: mp_device_id=$::D1\nContent-Type: application/json";
my $a = '{"a":"acc-req-78901234567890","pad":"';
my $pad = 65536 - length($a) - 2;
[ { req => "POST /q\n$a" . ("x" x $pad) . '"}', hdr => $j, queued => 1 },
  { req => "POST /q\n$a" . ("x" x ($pad + 1)) . '"}', hdr => $j,
    queued => 2 } ]
--- sink eval
::sink_of([ ::known('acc-req-78901234567890'), ::anon() ])



=== TEST 18: a batch whose body is 2 MB less one byte leaves as one request
--- http_config
    mixpanel_flush_interval 3s;
--- config eval
my $pad = 'a' x 255;
"    mixpanel_event Big;\n"
. "    location = /big {\n        mixpanel track;\n"
. CORE::join("", map { sprintf "        mixpanel_property p%03d %s;\n", $_, $pad } 1 .. 200)
. "        return 200 \"ok\\n\";\n    }\n"
. "    location = /fill {\n        mixpanel track;\n"
. CORE::join("", map { sprintf "        mixpanel_property p%03d \$arg_f;\n", $_ } 1 .. 200)
. "        mixpanel_property z \$arg_z;\n"
. "        return 200 \"ok\\n\";\n    }\n"
--- steps eval
::big_steps(2 * 1024 * 1024 - 1)
--- sink_sizes eval
'^# /import:40 /import:1\z'



=== TEST 18a: a batch whose body is exactly 2 MB leaves as one request
--- http_config
    mixpanel_flush_interval 3s;
--- config eval
my $pad = 'a' x 255;
"    mixpanel_event Big;\n"
. "    location = /big {\n        mixpanel track;\n"
. CORE::join("", map { sprintf "        mixpanel_property p%03d %s;\n", $_, $pad } 1 .. 200)
. "        return 200 \"ok\\n\";\n    }\n"
. "    location = /fill {\n        mixpanel track;\n"
. CORE::join("", map { sprintf "        mixpanel_property p%03d \$arg_f;\n", $_ } 1 .. 200)
. "        mixpanel_property z \$arg_z;\n"
. "        return 200 \"ok\\n\";\n    }\n"
--- steps eval
::big_steps(2 * 1024 * 1024)
--- sink_sizes eval
'^# /import:40 /import:1\z'



=== TEST 19: a batch whose body would be 2 MB and one byte is cut before its last event
--- http_config
    mixpanel_flush_interval 3s;
--- config eval
my $pad = 'a' x 255;
"    mixpanel_event Big;\n"
. "    location = /big {\n        mixpanel track;\n"
. CORE::join("", map { sprintf "        mixpanel_property p%03d %s;\n", $_, $pad } 1 .. 200)
. "        return 200 \"ok\\n\";\n    }\n"
. "    location = /fill {\n        mixpanel track;\n"
. CORE::join("", map { sprintf "        mixpanel_property p%03d \$arg_f;\n", $_ } 1 .. 200)
. "        mixpanel_property z \$arg_z;\n"
. "        return 200 \"ok\\n\";\n    }\n"
--- steps eval
::big_steps(2 * 1024 * 1024 + 1)
--- sink_sizes eval
'^# /import:39 /import:2\z'
