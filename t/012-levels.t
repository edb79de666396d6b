# Every directive allowed at several levels (http, server, location),
# tested at each of them: a value set at http level reaches a server that
# sets nothing (a second server, reached through /h/), a server's value
# replaces http's for its locations, a location's replaces the server's;
# properties and people operations add up across levels instead.  Each
# "nothing is sent" is beside the same request without the condition,
# which does send.  The sender writes to the file: sink; every block
# waits for it by polling the status page (t/Settle.pm).

use Test::Nginx::Socket 'no_plan';
use t::Mixpanel;
use t::Settle;

use FindBin;
use lib "$FindBin::Bin/data";
use TestJWT qw(jwt tamper data_dir);

$ENV{TEST_NGINX_DATA} = data_dir();

our $D3 = "33333333-3333-4333-a333-333333333333";
our $D4 = "44444444-4444-4444-b444-444444444444";

our %T = (
    h       => jwt('RS256', 'rsa1', { sub => 'jwt-h' }, exp_in => 3600),
    s       => jwt('RS256', 'rsa1', { sub => 'jwt-s' }, exp_in => 3600),
    l       => jwt('RS256', 'rsa1', { sub => 'jwt-l' }, exp_in => 3600),
    rsa1    => jwt('RS256', 'rsa1', { sub => 'by-rsa1' }, exp_in => 3600),
    rsa2    => jwt('RS256', 'rsa2', { sub => 'by-rsa2' }, exp_in => 3600),
    forged  => tamper(jwt('RS256', 'rsa1', { sub => 'x' }, exp_in => 3600),
                      { sub => 'forged', exp => time + 3600 }),
    expired => jwt('RS256', 'rsa1', { sub => 'late' }, exp_in => -100),
);

# the settings every block shares, unless it sets the directive itself
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

    location /h/ {
        mixpanel off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
_EOC_

# one record of /import: ev(name, dev => device id, dist => distinct_id,
# user => $user_id, token =>, ip =>, props => the properties after "ip")
sub ev {
    my ($name, %o) = @_;
    my $dev = $o{dev} // $UUID;
    my $dist = $o{dist} // $dev;

    return '\{"event":"' . quotemeta($name) . '","properties":\{"token":"'
           . ($o{token} // 'tok') . '","time":\d{13},"distinct_id":"'
           . $dist . '"'
           . ($o{foreign} ? '' : ',"\$device_id":"' . $dev . '"')
           . (defined $o{user} ? ',"\$user_id":"' . $o{user} . '"' : '')
           . ',"\$insert_id":"[0-9a-f]{32}","mp_lib":"nginx",'
           . '"\$lib_version":"[0-9.]+","ip":"' . ($o{ip} // '127\.0\.0\.1')
           . '"' . ($o{props} // '') . '\}\}';
}

# a Simplified identified event; "foreign => 1" when the device is bound
# to another account (the first account seen on it): then the event does
# not claim it, no $device_id (SPEC section 4, one user id per cluster)
sub sev {
    my ($name, $account, %o) = @_;
    return ev($name, dev => $D1, dist => $account, user => $account, %o);
}

settle_hook();

use_steps(prepare => sub {
    my $block = shift;

    my $http = $block->http_config // "";
    my $base = join "", map { "    $_\n" }
                        grep { my ($d) = /^(\S+)/; $http !~ /\Q$d\E\s/ }
                        @Base;

    my $only = $block->can("http_only") ? $block->http_only : undef;

    if (defined $only) {
        $only =~ s/^/        /mg;
        $http .= "\n    server {\n"
                 . "        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;\n"
                 . "        location / {\n$only        }\n    }\n";
    }

    $block->set_value("http_config", $base . $http);
    $block->set_value("config", ($block->config // "") . $Helpers);
    $block->set_value("no_error_log", "[error]\n[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: mixpanel_opt_out at http, server and location: opted out sends nothing and sets no cookie, the same request without the condition sends
--- http_config
    mixpanel_opt_out $cookie_optout;
    mixpanel_property step $arg_n;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_opt_out $http_sec_gpc;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_opt_out $arg_optout;
        return 200 "ok\n";
    }
--- steps eval
[
  { req => "GET /h/x?n=1", hdr => "Cookie: optout=1",
    hdr_like => "Set-Cookie:", queued => 0 },
  { req => "GET /h/x?n=2",
    hdr_like => "Set-Cookie: mp_device_id=$::UUID; .*", queued => 1 },
  { req => "GET /h/x?n=3", hdr => "Sec-GPC: 1",
    hdr_like => "Set-Cookie: mp_device_id=$::UUID; .*", queued => 2 },
  { req => "GET /s?n=4", hdr => "Sec-GPC: 1",
    hdr_like => "Set-Cookie:", queued => 2 },
  { req => "GET /s?n=5",
    hdr_like => "Set-Cookie: mp_device_id=$::UUID; .*", queued => 3 },
  { req => "GET /s?n=6", hdr => "Cookie: optout=1",
    hdr_like => "Set-Cookie: mp_device_id=$::UUID; .*", queued => 4 },
  { req => "GET /l?n=7&optout=1", hdr => "Cookie: mp_device_id=$::D1",
    hdr_like => "Set-Cookie:", queued => 4 },
  { req => "GET /l?n=8", hdr => "Cookie: mp_device_id=$::D1", queued => 5 },
  { req => "GET /l?n=9&optout=0", hdr => "Cookie: mp_device_id=$::D1",
    queued => 6 },
  { req => "GET /l?n=10", hdr => "Cookie: mp_device_id=$::D1\nSec-GPC: 1",
    queued => 7 },
]
--- sink eval
::sink_of([ map { ::ev('API Request', dev => $_->[0],
                     props => ',"step":"' . $_->[1] . '"') }
          [$::UUID, 2], [$::UUID, 3], [$::UUID, 5], [$::UUID, 6],
          [$::D1, 8], [$::D1, 9], [$::D1, 10] ])



=== TEST 2: mixpanel with if= at http, server and location; off and a plain action replace the condition
--- http_config
    mixpanel track if=$arg_h;
    mixpanel_property step $arg_n;
--- http_only
return 200 "ok\n";
--- config
    mixpanel track if=$arg_s;

    location = /s {
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track if=$arg_l;
        return 200 "ok\n";
    }

    location = /off {
        mixpanel off;
        return 200 "ok\n";
    }

    location = /plain {
        mixpanel track;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[
  { req => "GET /h/x?n=1&h=1", hdr => $c, queued => 1 },
  { req => "GET /h/x?n=2&h=0", hdr => $c, queued => 1 },
  { req => "GET /h/x?n=3&s=1&l=1", hdr => $c, queued => 1 },
  { req => "GET /s?n=4&s=1", hdr => $c, queued => 2 },
  { req => "GET /s?n=5&h=1", hdr => $c, queued => 2 },
  { req => "GET /l?n=6&l=yes", hdr => $c, queued => 3 },
  { req => "GET /l?n=7&s=1&h=1", hdr => $c, queued => 3 },
  { req => "GET /off?n=8&h=1&s=1&l=1", hdr => $c, queued => 3 },
  { req => "GET /plain?n=9", hdr => $c, queued => 4 },
]
--- sink eval
::sink_of([ map { ::ev('API Request', dev => $::D1,
                     props => ',"step":"' . $_ . '"') } 1, 4, 6, 9 ])



=== TEST 3: mixpanel_event at http, server and location; off leaves out only the event
--- http_config
    mixpanel_event "E-http $arg_n";
    mixpanel_account_id $http_x_account;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_event "E-server $arg_n";

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_event "E-location $arg_n";
        return 200 "ok\n";
    }

    location = /off {
        mixpanel track;
        mixpanel_event off;
        mixpanel_people_set plan pro;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[
  { req => "GET /h/x?n=1", hdr => $c, queued => 1 },
  { req => "GET /s?n=2", hdr => $c, queued => 2 },
  { req => "GET /l?n=3", hdr => $c, queued => 3 },
  { req => "GET /off?n=4", hdr => "Cookie: mp_device_id=$::D2\nX-Account: acc-off",
    queued => 5 },
  { req => "GET /off?n=5", hdr => $c, queued => 5 },
]
--- sink eval
::sink_of([ ::ev('E-http 1', dev => $::D1),
          ::ev('E-server 2', dev => $::D1),
          ::ev('E-location 3', dev => $::D1),
          identify_re('acc-off', $::D2) ],
        [ engage_re('acc-off', '$set', '"plan":"pro"', 1) ])



=== TEST 4: mixpanel_property adds up across levels, a lower level's value of the same name wins, types included
--- http_config
    mixpanel_property a http-a;
    mixpanel_property b http-b;
    mixpanel_property n 1 type=number;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_property b server-b;
    mixpanel_property c server-c;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_property c loc-c;
        mixpanel_property d loc-d;
        mixpanel_property n loc-n;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[
  { req => "GET /h/x", hdr => $c, queued => 1 },
  { req => "GET /s", hdr => $c, queued => 2 },
  { req => "GET /l", hdr => $c, queued => 3 },
]
--- sink eval
::sink_of([ ::ev('API Request', dev => $::D1,
               props => ',"a":"http-a","b":"http-b","n":1'),
          ::ev('API Request', dev => $::D1,
               props => ',"a":"http-a","n":1,"b":"server-b","c":"server-c"'),
          ::ev('API Request', dev => $::D1,
               props => ',"a":"http-a","b":"server-b","c":"loc-c","d":"loc-d","n":"loc-n"') ])



=== TEST 4a: a name that begins another is not that name: plan at http is kept beside plan_s at server and plan_tier at location, tierx at http beside tier at location (round 20: names compared to the parent's length only passed)
--- http_config
    mixpanel_property plan http-plan;
    mixpanel_property tierx http-tierx;
--- config
    mixpanel_property plan_s server;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_property plan_tier loc;
        mixpanel_property tier loc;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[
  { req => "GET /s", hdr => $c, queued => 1 },
  { req => "GET /l", hdr => $c, queued => 2 },
]
--- sink eval
::sink_of([ ::ev('API Request', dev => $::D1,
               props => ',"plan":"http-plan","tierx":"http-tierx",'
                        . '"plan_s":"server"'),
          ::ev('API Request', dev => $::D1,
               props => ',"plan":"http-plan","tierx":"http-tierx",'
                        . '"plan_s":"server","plan_tier":"loc",'
                        . '"tier":"loc"') ])



=== TEST 5: mixpanel_ip at http, server and location, and off below a value
--- http_config
    mixpanel_ip $http_x_ip_h;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_ip $http_x_ip_s;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_ip $http_x_ip_l;
        return 200 "ok\n";
    }

    location = /off {
        mixpanel track;
        mixpanel_ip off;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1\nX-IP-H: 198.51.100.1\n"
        . "X-IP-S: 198.51.100.2\nX-IP-L: 198.51.100.3";
[
  { req => "GET /h/x", hdr => $c, queued => 1 },
  { req => "GET /s", hdr => $c, queued => 2 },
  { req => "GET /l", hdr => $c, queued => 3 },
  { req => "GET /off", hdr => $c, queued => 4 },
]
--- sink eval
::sink_of([ map { ::ev('API Request', dev => $::D1, ip => $_) }
          '198\.51\.100\.1', '198\.51\.100\.2', '198\.51\.100\.3', '0' ])



=== TEST 6: mixpanel_ip off at server level: its locations inherit it, a location's value replaces it
--- http_config
    mixpanel_ip $http_x_ip_h;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_ip off;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_ip $http_x_ip_l;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1\nX-IP-H: 198.51.100.1\n"
        . "X-IP-L: 198.51.100.3";
[
  { req => "GET /h/x", hdr => $c, queued => 1 },
  { req => "GET /s", hdr => $c, queued => 2 },
  { req => "GET /l", hdr => $c, queued => 3 },
]
--- sink eval
::sink_of([ map { ::ev('API Request', dev => $::D1, ip => $_) }
            '198\.51\.100\.1', '0', '198\.51\.100\.3' ])



=== TEST 7: mixpanel_device_id at http, server and location; it wins over the cookie only when not empty
--- http_config
    mixpanel_device_id $http_x_dev_h;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_device_id $http_x_dev_s;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_device_id $http_x_dev_l;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D4\nX-Dev-H: $::D1\nX-Dev-S: $::D2";
[
  { req => "GET /h/x", hdr => "$c\nX-Dev-L: $::D3", hdr_like => "Set-Cookie:",
    queued => 1 },
  { req => "GET /s", hdr => "$c\nX-Dev-L: $::D3", hdr_like => "Set-Cookie:",
    queued => 2 },
  { req => "GET /l", hdr => "$c\nX-Dev-L: $::D3", hdr_like => "Set-Cookie:",
    queued => 3 },
  { req => "GET /l", hdr => $c, hdr_like => "Set-Cookie:", queued => 4 },
]
--- sink eval
::sink_of([ map { ::ev('API Request', dev => $_) } $::D1, $::D2, $::D3, $::D4 ])



=== TEST 8: mixpanel_device_cookie at http, server and location (name and flags together, samesite=lax written out as well as left to its default), and off
--- http_config
    mixpanel_device_cookie mp_h path=/h max_age=60 samesite=lax;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_device_cookie mp_s path=/s max_age=120 samesite=strict;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_device_cookie mp_l domain=example.com secure httponly samesite=none;
        return 200 "ok\n";
    }

    location = /off {
        mixpanel track;
        mixpanel_device_cookie off;
        return 200 "ok\n";
    }
--- steps eval
my $all = "Cookie: mp_device_id=$::D4; mp_h=$::D1; mp_s=$::D2; mp_l=$::D3";
[
  { req => "GET /h/x", hdr => "Cookie: mp_h=$::D1", hdr_like => "Set-Cookie:",
    queued => 1 },
  { req => "GET /h/x", hdr => "Cookie: mp_device_id=$::D4; mp_s=$::D2",
    hdr_like => "Set-Cookie: mp_h=$::UUID; Path=/h; Max-Age=60; Expires=[^;]+ GMT; SameSite=Lax",
    queued => 2 },
  { req => "GET /s", hdr => $all, hdr_like => "Set-Cookie:", queued => 3 },
  { req => "GET /s", hdr => "Cookie: mp_device_id=$::D4; mp_h=$::D1",
    hdr_like => "Set-Cookie: mp_s=$::UUID; Path=/s; Max-Age=120; Expires=[^;]+ GMT; SameSite=Strict",
    queued => 4 },
  { req => "GET /l", hdr => $all, hdr_like => "Set-Cookie:", queued => 5 },
  { req => "GET /l", hdr => "Cookie: mp_s=$::D2",
    hdr_like => "Set-Cookie: mp_l=$::UUID; Domain=example.com; Path=/; Max-Age=31536000; Expires=[^;]+ GMT; SameSite=None; Secure; HttpOnly",
    queued => 6 },
  { req => "GET /off", hdr => $all, hdr_like => "Set-Cookie:", queued => 7 },
]
--- sink eval
::sink_of([ map { ::ev('API Request', dev => $_) }
          $::D1, $::UUID, $::D2, $::UUID, $::D3, $::UUID, $::UUID ])



=== TEST 9: mixpanel_profile_cookie at http, server and location, and off: set by profile_switch, read by track
--- http_config
    mixpanel_profile_cookie mp_ph;
    mixpanel_profile_id $http_x_profile;
--- http_only
mixpanel profile_switch;
return 200 "ok\n";
--- config
    mixpanel_profile_cookie mp_ps path=/ max_age=60 samesite=lax;

    location = /sw {
        mixpanel profile_switch;
        return 200 "ok\n";
    }

    location = /lsw {
        mixpanel profile_switch;
        mixpanel_profile_cookie mp_pl;
        return 200 "ok\n";
    }

    location = /offsw {
        mixpanel profile_switch;
        mixpanel_profile_cookie off;
        return 200 "ok\n";
    }

    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[
  { req => "GET /h/x", hdr => "$c\nX-Profile: p-h",
    hdr_like => "Set-Cookie: mp_ph=p-h; Path=/; Max-Age=31536000; Expires=[^;]+ GMT; SameSite=Lax",
    queued => 1 },
  { req => "GET /sw", hdr => "$c; mp_ph=p-h\nX-Profile: p-s",
    hdr_like => "Set-Cookie: mp_ps=p-s; Path=/; Max-Age=60; Expires=[^;]+ GMT; SameSite=Lax",
    queued => 2 },
  { req => "GET /sw", hdr => "$c; mp_ps=p-s\nX-Profile: p-s2",
    hdr_like => "Set-Cookie: mp_ps=p-s2; .*", queued => 3 },
  { req => "GET /lsw", hdr => "$c; mp_ps=p-s\nX-Profile: p-l",
    hdr_like => "Set-Cookie: mp_pl=p-l; .*", queued => 4 },
  { req => "GET /offsw", hdr => "$c; mp_ps=p-s\nX-Profile: p-o",
    hdr_like => "Set-Cookie:", queued => 5 },
  { req => "GET /t", hdr => "$c; mp_ps=p-s", queued => 6 },
  { req => "GET /t", hdr => "$c; mp_ph=p-h; mp_pl=p-l", queued => 7 },
]
--- sink eval
::sink_of([ ::ev('Switch Profile', dev => $::D1,
               props => ',"active_profile_id":"p-h"'),
          ::ev('Switch Profile', dev => $::D1,
               props => ',"active_profile_id":"p-s"'),
          ::ev('Switch Profile', dev => $::D1,
               props => ',"active_profile_id":"p-s2","previous_profile_id":"p-s"'),
          ::ev('Switch Profile', dev => $::D1,
               props => ',"active_profile_id":"p-l"'),
          ::ev('Switch Profile', dev => $::D1,
               props => ',"active_profile_id":"p-o"'),
          ::ev('API Request', dev => $::D1,
               props => ',"active_profile_id":"p-s"'),
          ::ev('API Request', dev => $::D1) ])



=== TEST 10: mixpanel_logout_reset at http, server and location: a new device cookie only where it is on
--- http_config
    mixpanel_logout_reset on;
--- http_only
mixpanel logout;
return 200 "ok\n";
--- config
    mixpanel_logout_reset off;

    location = /out {
        mixpanel logout;
        return 200 "ok\n";
    }

    location = /lout {
        mixpanel logout;
        mixpanel_logout_reset on;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
my $new = "Set-Cookie: mp_device_id=(?!$::D1)$::UUID; Path=/; .*";
[
  { req => "GET /h/x", hdr => $c, hdr_like => $new, queued => 1 },
  { req => "GET /out", hdr => $c, hdr_like => "Set-Cookie:", queued => 2 },
  { req => "GET /lout", hdr => $c, hdr_like => $new, queued => 3 },
]
--- sink eval
::sink_of([ map { ::ev('Log Out', dev => $::D1) } 1 .. 3 ])



=== TEST 10a: mixpanel_logout_reset's default follows mixpanel_identity at its own level: simplified set in a server rotates there, http's original does not (round 29: the default read from the parent level)
--- http_only
mixpanel logout;
return 200 "ok\n";
--- config
    mixpanel_identity simplified;

    location = /out {
        mixpanel logout;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
my $new = "Set-Cookie: mp_device_id=(?!$::D1)$::UUID; Path=/; .*";
[
  { req => "GET /h/x", hdr => $c, hdr_like => "Set-Cookie: ^\\z",
    queued => 1 },
  { req => "GET /out", hdr => $c, hdr_like => $new, queued => 2 },
]
--- sink eval
::sink_of([ ::ev('Log Out', dev => $::D1),
            ::ev('Log Out', dev => $::D1, dist => '\$device:' . $::D1) ])



=== TEST 10b: ... and the other way round: simplified at http rotates in the server that sets nothing, original set in a server does not rotate there
--- http_config
    mixpanel_identity simplified;
--- http_only
mixpanel logout;
return 200 "ok\n";
--- config
    mixpanel_identity original;

    location = /out {
        mixpanel logout;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
my $new = "Set-Cookie: mp_device_id=(?!$::D1)$::UUID; Path=/; .*";
[
  { req => "GET /h/x", hdr => $c, hdr_like => $new, queued => 1 },
  { req => "GET /out", hdr => $c, hdr_like => "Set-Cookie: ^\\z",
    queued => 2 },
]
--- sink eval
::sink_of([ ::ev('Log Out', dev => $::D1, dist => '\$device:' . $::D1),
            ::ev('Log Out', dev => $::D1) ])



=== TEST 11: mixpanel_request_properties at http, server and location
--- http_config
    mixpanel_request_properties on;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_request_properties off;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_request_properties on;
        return 201 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[
  { req => "GET /h/x?q=1", hdr => $c, queued => 1 },
  { req => "GET /s?q=1", hdr => $c, queued => 2 },
  { req => "POST /l?q=1\nbody", hdr => $c, code => 201, queued => 3 },
]
--- sink eval
::sink_of([ ::ev('API Request', dev => $::D1,
               props => ',"http_method":"GET","http_status":200,"http_route":"/","http_path":"/x","duration_ms":\d+'),
          ::ev('API Request', dev => $::D1),
          ::ev('API Request', dev => $::D1,
               props => ',"http_method":"POST","http_status":201,"http_route":"/l","http_path":"/l","duration_ms":\d+') ])



=== TEST 12: mixpanel_user_agent_properties at http, server and location
--- http_config
    mixpanel_user_agent_properties on;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_user_agent_properties off;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_user_agent_properties on;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0";
[
  { req => "GET /h/x?utm_source=news", hdr => $c, queued => 1 },
  { req => "GET /s?utm_source=news", hdr => $c, queued => 2 },
  { req => "GET /l?utm_source=news", hdr => $c, queued => 3 },
]
--- sink eval
my $ua = ',"\$browser":"Firefox","\$browser_version":115,"\$os":"Linux","utm_source":"news"';
::sink_of([ ::ev('API Request', dev => $::D1, props => $ua),
          ::ev('API Request', dev => $::D1),
          ::ev('API Request', dev => $::D1, props => $ua) ])



=== TEST 13: mixpanel_account_id and mixpanel_profile_id at http, server and location
--- http_config
    mixpanel_identity simplified;
    mixpanel_account_id $http_x_acc_h;
    mixpanel_profile_id $http_x_prof_h;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_account_id $http_x_acc_s;
    mixpanel_profile_id $http_x_prof_s;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_account_id $http_x_acc_l;
        mixpanel_profile_id $http_x_prof_l;
        return 200 "ok\n";
    }

    location = /la {
        mixpanel track;
        mixpanel_account_id $http_x_acc_l;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1\nX-Acc-H: acc-h\nX-Acc-S: acc-s\n"
        . "X-Acc-L: acc-l\nX-Prof-H: prof-h\nX-Prof-S: prof-s\n"
        . "X-Prof-L: prof-l";
[
  { req => "GET /h/x", hdr => $c, queued => 1 },
  { req => "GET /s", hdr => $c, queued => 2 },
  { req => "GET /l", hdr => $c, queued => 3 },
  { req => "GET /la", hdr => $c, queued => 4 },
]
--- sink eval
::sink_of([ map { ::sev('API Request', $_->[0], foreign => $_->[0] ne 'acc-h',
                      props => ',"account_id":"' . $_->[0]
                               . '","active_profile_id":"' . $_->[1] . '"') }
          ['acc-h', 'prof-h'], ['acc-s', 'prof-s'], ['acc-l', 'prof-l'],
          ['acc-l', 'prof-s'] ])



=== TEST 14: mixpanel_identity at http and server level
--- http_config
    mixpanel_identity original;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_identity simplified;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }
--- steps eval
[
  { req => "GET /h/x", hdr => "Cookie: mp_device_id=$::D1", queued => 1 },
  { req => "GET /s", hdr => "Cookie: mp_device_id=$::D1", queued => 2 },
]
--- sink eval
::sink_of([ ::ev('API Request', dev => $::D1),
          ::ev('API Request', dev => $::D1, dist => '\$device:' . $::D1) ])



=== TEST 15: mixpanel_token at http, server and location, and from a variable
--- http_config
    mixpanel_token tok-h;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_token tok-s;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_token tok-l;
        return 200 "ok\n";
    }

    location = /v {
        mixpanel track;
        mixpanel_token tok-$arg_t;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[
  { req => "GET /h/x", hdr => $c, queued => 1 },
  { req => "GET /s", hdr => $c, queued => 2 },
  { req => "GET /l", hdr => $c, queued => 3 },
  { req => "GET /v?t=v", hdr => $c, queued => 4 },
]
--- sink eval
::sink_of([ map { ::ev('API Request', dev => $::D1, token => $_) }
          qw(tok-h tok-s tok-l tok-v) ])



=== TEST 16: mixpanel_people_set, _set_once, _add and _unset add up across levels, the lower level wins a name; only for a known account
--- http_config
    mixpanel_identity simplified;
    mixpanel_account_id $http_x_account;
    mixpanel_people_set a h;
    mixpanel_people_set b h;
    mixpanel_people_set_once f h;
    mixpanel_people_add n 1;
    mixpanel_people_unset u1;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_people_set b s;
    mixpanel_people_set c s;
    mixpanel_people_add n 2;
    mixpanel_people_add m 5;
    mixpanel_people_unset u2;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_people_set c l;
        mixpanel_people_set_once g l;
        mixpanel_people_unset u3;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1\nX-Account: acc-1";
[
  { req => "GET /h/x", hdr => $c, queued => 5 },
  { req => "GET /s", hdr => $c, queued => 10 },
  { req => "GET /l", hdr => $c, queued => 15 },
  { req => "GET /l", hdr => "Cookie: mp_device_id=$::D1", queued => 16 },
]
--- sink eval
::sink_of([ (map { ::sev('API Request', 'acc-1',
                       props => ',"account_id":"acc-1"') } 1 .. 3),
          ::ev('API Request', dev => $::D1, dist => '\$device:' . $::D1) ],
        [ engage_re('acc-1', '$set_once', '"f":"h"', 1),
          engage_re('acc-1', '$set', '"a":"h","b":"h"', 1),
          engage_re('acc-1', '$add', '"n":1', 1),
          engage_re('acc-1', '$unset', '"u1"', 1),
          engage_re('acc-1', '$set_once', '"f":"h"', 1),
          engage_re('acc-1', '$set', '"a":"h","b":"s","c":"s"', 1),
          engage_re('acc-1', '$add', '"n":2,"m":5', 1),
          engage_re('acc-1', '$unset', '"u1","u2"', 1),
          engage_re('acc-1', '$set_once', '"f":"h","g":"l"', 1),
          engage_re('acc-1', '$set', '"a":"h","b":"s","c":"l"', 1),
          engage_re('acc-1', '$add', '"n":2,"m":5', 1),
          engage_re('acc-1', '$unset', '"u1","u2","u3"', 1) ])



=== TEST 17: mixpanel_json_max_size at http, server and location: the same 30-byte body is read only where it fits
--- http_config
    mixpanel_identity simplified;
    mixpanel_json_set $body_account response /a;
    mixpanel_account_id $body_account;
    mixpanel_json_max_size 30;
--- http_only
mixpanel track;
default_type application/json;
return 200 '{"a":"acc-json-6789012345678"}';
--- config
    mixpanel_json_max_size 29;
    default_type application/json;

    location = /s {
        mixpanel track;
        return 200 '{"a":"acc-json-6789012345678"}';
    }

    location = /l {
        mixpanel track;
        mixpanel_json_max_size 30;
        return 200 '{"a":"acc-json-6789012345678"}';
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[
  { req => "GET /h/x", hdr => $c, body => '^\{"a":"acc-json-6789012345678"\}\z',
    queued => 1 },
  { req => "GET /s", hdr => $c, body => '^\{"a":"acc-json-6789012345678"\}\z',
    queued => 2 },
  { req => "GET /l", hdr => $c, body => '^\{"a":"acc-json-6789012345678"\}\z',
    queued => 3 },
]
--- sink eval
::sink_of([ ::sev('API Request', 'acc-json-6789012345678',
                props => ',"account_id":"acc-json-6789012345678"'),
          ::ev('API Request', dev => $::D1, dist => '\$device:' . $::D1),
          ::sev('API Request', 'acc-json-6789012345678',
                props => ',"account_id":"acc-json-6789012345678"') ])



=== TEST 18: mixpanel_jwt at http, server and location, and off
--- http_config
    mixpanel_identity simplified;
    mixpanel_jwt_claim_set $jwt_sub sub;
    mixpanel_account_id $jwt_sub;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
    mixpanel_jwt $http_x_jwt_h;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_jwt $http_x_jwt_s;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_jwt $http_x_jwt_l;
        return 200 "ok\n";
    }

    location = /off {
        mixpanel track;
        mixpanel_jwt off;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1\nX-JWT-H: $::T{h}\nX-JWT-S: $::T{s}\n"
        . "X-JWT-L: $::T{l}";
[
  { req => "GET /h/x", hdr => $c, queued => 1 },
  { req => "GET /s", hdr => $c, queued => 2 },
  { req => "GET /l", hdr => $c, queued => 3 },
  { req => "GET /off", hdr => $c, queued => 4 },
]
--- sink eval
::sink_of([ (map { ::sev('API Request', $_, foreign => $_ ne 'jwt-h',
                        props => ',"account_id":"' . $_ . '"') }
           qw(jwt-h jwt-s jwt-l)),
          ::ev('API Request', dev => $::D1, dist => '\$device:' . $::D1) ])



=== TEST 19: mixpanel_jwt_key_file at http, server and location
--- http_config
    mixpanel_identity simplified;
    mixpanel_jwt_claim_set $jwt_sub sub;
    mixpanel_account_id $jwt_sub;
    mixpanel_jwt $http_x_jwt;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/rsa1.pub;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_jwt_key_file $TEST_NGINX_DATA/rsa2.pub;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/rsa1.pub;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[
  { req => "GET /h/x", hdr => "$c\nX-JWT: $::T{rsa1}", queued => 1 },
  { req => "GET /h/x", hdr => "$c\nX-JWT: $::T{rsa2}", queued => 2 },
  { req => "GET /s", hdr => "$c\nX-JWT: $::T{rsa1}", queued => 3 },
  { req => "GET /s", hdr => "$c\nX-JWT: $::T{rsa2}", queued => 4 },
  { req => "GET /l", hdr => "$c\nX-JWT: $::T{rsa1}", queued => 5 },
  { req => "GET /l", hdr => "$c\nX-JWT: $::T{rsa2}", queued => 6 },
]
--- sink eval
my $anon = ::ev('API Request', dev => $::D1, dist => '\$device:' . $::D1);
my $k = sub { ::sev('API Request', $_[0], foreign => $_[0] ne 'by-rsa1',
                    props => ',"account_id":"' . $_[0] . '"') };
::sink_of([ $k->('by-rsa1'), $anon, $anon, $k->('by-rsa2'), $k->('by-rsa1'),
          $anon ])



=== TEST 20: mixpanel_jwt_verify at http, server and location: a forged token is read only where verification is off
--- http_config
    mixpanel_identity simplified;
    mixpanel_jwt_claim_set $jwt_sub sub;
    mixpanel_account_id $jwt_sub;
    mixpanel_jwt $http_x_jwt;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
    mixpanel_jwt_verify on;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_jwt_verify off;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_jwt_verify on;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1";
[
  { req => "GET /h/x", hdr => "$c\nX-JWT: $::T{forged}", queued => 1 },
  { req => "GET /h/x", hdr => "$c\nX-JWT: $::T{rsa1}", queued => 2 },
  { req => "GET /s", hdr => "$c\nX-JWT: $::T{forged}", queued => 3 },
  { req => "GET /l", hdr => "$c\nX-JWT: $::T{forged}", queued => 4 },
  { req => "GET /l", hdr => "$c\nX-JWT: $::T{rsa1}", queued => 5 },
]
--- sink eval
my $anon = ::ev('API Request', dev => $::D1, dist => '\$device:' . $::D1);
my $k = sub { ::sev('API Request', $_[0], foreign => $_[0] ne 'by-rsa1',
                    props => ',"account_id":"' . $_[0] . '"') };
::sink_of([ $anon, $k->('by-rsa1'), $k->('forged'), $anon, $k->('by-rsa1') ])



=== TEST 21: mixpanel_jwt_leeway at http, server and location: a token expired 100 s ago is read only where the leeway covers it
--- http_config
    mixpanel_identity simplified;
    mixpanel_jwt_claim_set $jwt_sub sub;
    mixpanel_account_id $jwt_sub;
    mixpanel_jwt $http_x_jwt;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
    mixpanel_jwt_leeway 1h;
--- http_only
mixpanel track;
return 200 "ok\n";
--- config
    mixpanel_jwt_leeway 10s;

    location = /s {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /l {
        mixpanel track;
        mixpanel_jwt_leeway 1h;
        return 200 "ok\n";
    }
--- steps eval
my $c = "Cookie: mp_device_id=$::D1\nX-JWT: $::T{expired}";
[
  { req => "GET /h/x", hdr => $c, queued => 1 },
  { req => "GET /s", hdr => $c, queued => 2 },
  { req => "GET /s", hdr => "Cookie: mp_device_id=$::D1\nX-JWT: $::T{rsa1}",
    queued => 3 },
  { req => "GET /l", hdr => $c, queued => 4 },
]
--- sink eval
my $k = sub { ::sev('API Request', $_[0], foreign => $_[0] ne 'late',
                    props => ',"account_id":"' . $_[0] . '"') };
::sink_of([ $k->('late'),
          ::ev('API Request', dev => $::D1, dist => '\$device:' . $::D1),
          $k->('by-rsa1'), $k->('late') ])
