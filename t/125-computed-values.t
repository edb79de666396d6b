# Values the module works out itself, checked by value, not by shape:
# every spelling of a boolean (true/false, 1/0, yes/no, on/off, any case)
# and what is not one (left out); a sign-up's $created, the request's
# start in UTC; duration_ms of a request that takes more than a second
# (limit_rate: 3000 bytes at 1000 bytes/s) and of one that takes none;
# the events' time and the people updates' $time, in milliseconds, the
# request's start (the slow request's, not its end 3 s later); the device
# cookie's Expires, now plus its Max-Age (400 days, and one hour); the
# request properties: method, status (a handler's, an error page's, a
# missing file's), the location as route, the raw path without the query.
# nginx runs in a time zone five hours east of UTC (it keeps TZ): what is
# in UTC must not follow it.  A plain Test::More file: nginx writes what
# it would send to a file (mixpanel_api file:), read once it quits.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use POSIX ();
use Time::Local qw(timegm);
use Time::HiRes qw(time);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
my $body = "x" x 3000;

# local time is UTC + 5 (POSIX TZ: the offset is the other way round)
$ENV{TZ} = "XST-5";

my $n = dn_nginx(port => $port, dirs => ["html"], before => sub {
    open my $fh, '>', "$_[0]/html/gone.html" or die $!;
    print $fh "gone\n";
    close $fh;
}, conf => <<"_EOC_");
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api file:%PREFIX%/logs/sink.jsonl;
    mixpanel_token tok-values;
    mixpanel_flush_interval 100ms;
    mixpanel_ip off;
    mixpanel_user_agent_properties off;
    limit_req_zone \$binary_remote_addr zone=paced:1m rate=2r/s;
    server {
        listen 127.0.0.1:%PORT%;
        location = /paced {
            mixpanel track;
            mixpanel_property case paced\$arg_n;
            limit_req zone=paced burst=5;
            default_type text/plain;
            alias %PREFIX%/html/gone.html;
        }
        location = /b {
            mixpanel track;
            mixpanel_property case \$arg_c;
            mixpanel_property flag \$arg_v type=boolean;
            return 200 "ok\\n";
        }
        location = /signup {
            mixpanel signup;
            mixpanel_account_id \$arg_a;
            return 200 "ok\\n";
        }
        location = /slow {
            mixpanel track;
            mixpanel_property case slow;
            limit_rate 1000;
            return 200 "$body";
        }
        location = /fast {
            mixpanel track;
            mixpanel_property case fast;
            return 200 "ok\\n";
        }
        location = /cookie400 {
            mixpanel track;
            mixpanel_property case cookie400;
            mixpanel_device_cookie did max_age=400d;
            return 200 "ok\\n";
        }
        location = /cookie1h {
            mixpanel track;
            mixpanel_property case cookie1h;
            mixpanel_device_cookie did max_age=1h;
            return 200 "ok\\n";
        }
        location /pre/ {
            mixpanel track;
            mixpanel_property case \$arg_c;
            return 201 "made\\n";
        }
        location = /forbidden {
            mixpanel track;
            mixpanel_property case forbidden;
            return 403;
        }
        location /missing/ {
            mixpanel track;
            mixpanel_property case missing;
            root %PREFIX%/html;
        }
        location /moved/ {
            error_page 404 =410 /gone.html;
            root %PREFIX%/html;
        }
        location = /gone.html {
            mixpanel track;
            mixpanel_property case gone;
            root %PREFIX%/html;
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 30);

my %bool = (true => 1, TRUE => 1, 1 => 1, yes => 1, Yes => 1, on => 1,
            ON => 1, false => 0, False => 0, 0 => 0, no => 0, No => 0,
            off => 0, OFF => 0, Off => 0, maybe => undef, 2 => undef,
            "o" => undef, offf => undef, "" => undef);

my $i = 0;
my %case;
for my $v (sort keys %bool) {
    $i++;
    $case{"b$i"} = $v;
    $http->get("$n->{base}/b?c=b$i&v=$v");
}

my $t0 = time;
my $start = POSIX::strftime("%Y-%m-%dT%H:%M:%S", gmtime(int $t0));
is($http->get("$n->{base}/signup?a=acc-created")->{status}, 200,
   "a sign-up");
my $t1 = time;
my $end = POSIX::strftime("%Y-%m-%dT%H:%M:%S", gmtime(int $t1));

my $s0 = time;
my $r = $http->get("$n->{base}/slow");
my $slow = (time - $s0) * 1000;
is(length $r->{content}, 3000, "the slow response came whole");
cmp_ok($slow, '>', 1500, "and took more than 1.5 s (limit_rate)");
my $f0 = time;
$http->get("$n->{base}/fast");
my $f1 = time;

# three requests held by limit_req at 2 a second: the first at once, the
# next two about 500 ms each, which no count of whole seconds gives
my @paced;
for my $k (1 .. 3) {
    my $p0 = time;
    is($http->get("$n->{base}/paced?n=$k")->{status}, 200, "paced $k");
    push @paced, (time - $p0) * 1000;
}

is($http->request("POST", "$n->{base}/pre/a%20b/c.json?c=pre&x=%3F")
   ->{status}, 201, "a POST answered 201");
is($http->get("$n->{base}/forbidden")->{status}, 403, "a 403");
is($http->get("$n->{base}/missing/none.json?y=1")->{status}, 404,
   "a missing file's 404");
is($http->get("$n->{base}/moved/none.json")->{status}, 410,
   "an error page's status (error_page 404 =410)");

# Expires as nginx writes it (RFC 6265: a two-digit year 70-99 is 19xx,
# 00-69 20xx), in seconds since the epoch

my %mon = (Jan => 0, Feb => 1, Mar => 2, Apr => 3, May => 4, Jun => 5,
           Jul => 6, Aug => 7, Sep => 8, Oct => 9, Nov => 10, Dec => 11);

sub expires {
    my ($cookie) = @_;
    my ($d, $m, $y, $hh, $mm, $ss) = ($cookie // '') =~
        /; Expires=\w{3}, (\d\d)-(\w{3})-(\d\d|\d{4}) (\d\d):(\d\d):(\d\d) GMT/
        or return undef;
    $y += $y < 70 ? 2000 : 1900 if $y < 100;
    return timegm($ss, $mm, $hh, $d, $mon{$m}, $y);
}

for my $c ([cookie400 => 34560000], [cookie1h => 3600]) {
    my ($loc, $age) = @$c;
    my $c0 = time;
    my $set = $http->get("$n->{base}/$loc")->{headers}{'set-cookie'};
    my $c1 = time;
    like($set // '', qr/^did=[0-9a-f-]{36}; Path=\/; Max-Age=$age; Expires=/,
         "$loc: the device cookie, Max-Age=$age");
    my $exp = expires($set);
    ok(defined $exp && $exp >= int($c0) + $age - 1
       && $exp <= int($c1) + $age + 1,
       "$loc: Expires is now plus $age s")
        or diag("got " . ($set // "no Set-Cookie"));
}

ok(dn_wait(10, sub { dn_status($n)->{events_sent} >= $i + 12 }),
   "every event written");
ok(dn_stop($n), "nginx quits");

my (%props, @engage);
open my $fh, '<', "$n->{prefix}/logs/sink.jsonl" or die $!;
while (my $line = <$fh>) {
    my $call = JSON::PP->new->utf8->decode($line);
    for my $rec (@{ $call->{body} }) {
        if ($call->{endpoint} eq '/engage') {
            push @engage, $rec;
        } elsif (defined(my $c = $rec->{properties}{case})) {
            $props{$c} = $rec->{properties};
        }
    }
}

for my $c (sort keys %case) {
    my $v = $case{$c};
    my $want = $bool{$v};
    my $have = $props{$c}{flag};
    if (!defined $want) {
        ok(!exists $props{$c}{flag}, "'$v' is no boolean: left out");
    } else {
        ok(JSON::PP::is_bool($have) && ($have ? 1 : 0) == $want,
           "'$v' is " . ($want ? "true" : "false"))
            or diag("got " . (defined $have ? $have : "nothing"));
    }
}

# the clients' clock and nginx's are the same; nginx's is read when the
# request starts (a few ms of slack for its cached time)

my $ms = sub { int($_[0] * 1000) };

cmp_ok($props{slow}{time}, '>=', $ms->($s0) - 5,
       "the slow request's time is in ms, not before it was sent");
cmp_ok($props{slow}{time}, '<', $ms->($s0) + 1000,
       "its start, not its end (" . int($slow) . " ms later)");
cmp_ok($props{fast}{time}, '>=', $ms->($f0) - 5, "the fast one's time");
cmp_ok($props{fast}{time}, '<=', $ms->($f1) + 5, "to the millisecond");

my @signup = grep { exists $_->{'$time'} } @engage;
ok(@signup >= 1, "the sign-up's people updates carry \$time");
for my $rec (@signup) {
    my ($op) = grep { /^\$(set|set_once|unset|add|append|union)$/ } keys %$rec;
    cmp_ok($rec->{'$time'}, '>=', $ms->($t0) - 5,
           "the people update's \$time ($op) is the request's, in ms");
    cmp_ok($rec->{'$time'}, '<=', $ms->($t1) + 5, "to the millisecond");
}

my %req = (
    pre => ["POST", 201, "/pre/", "/pre/a%20b/c.json"],
    forbidden => ["GET", 403, "/forbidden", "/forbidden"],
    missing => ["GET", 404, "/missing/", "/missing/none.json"],
    fast => ["GET", 200, "/fast", "/fast"],
    gone => ["GET", 410, "/gone.html", "/moved/none.json"],
);

for my $c (sort keys %req) {
    my ($method, $status, $route, $path) = @{ $req{$c} };
    my $p = $props{$c} || {};
    is_deeply([@$p{qw(http_method http_status http_route http_path)}],
              [$method, $status, $route, $path],
              "$c: method $method, status $status, route $route, "
              . "path $path");
}

my ($once) = grep { exists $_->{'$set_once'} } @engage;
my $created = $once && $once->{'$set_once'}{'$created'};
ok(defined $created, "the sign-up's \$set_once carries \$created");
ok(defined $created && $created ge $start && $created le $end,
   "\$created is the request's start in UTC ($start to $end)")
    or diag("got " . ($created // "nothing"));

cmp_ok($props{slow}{duration_ms}, '>=', $slow - 1000,
       "duration_ms of the slow request is its time ("
       . int($slow) . " ms measured by the client)");
cmp_ok($props{slow}{duration_ms}, '<=', $slow + 100, "not more");
cmp_ok($props{fast}{duration_ms}, '<', 1000, "a fast request's is small");

# to the millisecond: each paced request's own time, within 100 ms of the
# client's; the later two between 300 and 700 ms
for my $k (1 .. 3) {
    my $d = $props{"paced$k"}{duration_ms} // -1;
    cmp_ok(abs($d - $paced[$k - 1]), '<=', 100,
           "paced $k: duration_ms $d, the client measured "
           . int($paced[$k - 1]) . " ms");
}
for my $k (2, 3) {
    my $d = $props{"paced$k"}{duration_ms} // -1;
    ok($d >= 300 && $d <= 700, "paced $k: about 500 ms ($d)");
}

done_testing();
