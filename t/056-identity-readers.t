# Reading the $mixpanel_* variables never changes what is sent (SPEC
# section 3, issue 14 item 1): one journey played twice, through a server
# that reads nothing and through one that reads every variable everywhere
# an operator would -- troubleshooting.md's access_log format, add_header,
# proxy_set_header, a map, a server-level set and if, an if in each
# location -- with ids from request headers, a JWT and response bodies.
# The two servers' calls (token aside) and cookies must be identical, and
# the journey's calls are pinned exactly.  A plain Test::More file: it
# compares two sinks after the fact.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use FindBin;
use lib "$FindBin::Bin/data";
use TestJWT qw(jwt data_dir);
use t::Mixpanel;

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

my ($plain_port, $read_port) = (free_port(), free_port());
my $data = data_dir();

# the same locations in both servers; %IF% is where the reader adds an if
my $locations = <<'_EOC_';
        mixpanel_jwt $http_authorization;
        mixpanel_jwt_key_file %DATA%/jwks.json;
        mixpanel_account_id $http_x_account$jwt_sub;

        location /api/ {
            mixpanel track;
            %IF%
            proxy_pass http://127.0.0.1:%PORT%/backend/;
        }

        location = /h/login {
            mixpanel login;
            %IF%
            proxy_pass http://127.0.0.1:%PORT%/backend/login;
        }

        location = /b/login {
            mixpanel login;
            mixpanel_account_id $body_account;
            %IF%
            proxy_pass http://127.0.0.1:%PORT%/backend/login;
        }

        location = /b/signup {
            mixpanel signup;
            mixpanel_account_id $body_account;
            mixpanel_profile_id $body_profile;
            %IF%
            proxy_pass http://127.0.0.1:%PORT%/backend/signup;
        }

        location = /b/switch {
            mixpanel profile_switch;
            mixpanel_profile_id $body_profile;
            mixpanel_people_set profile_type $body_type;
            %IF%
            proxy_pass http://127.0.0.1:%PORT%/backend/switch;
        }

        location = /logout {
            mixpanel logout;
            %IF%
            proxy_pass http://127.0.0.1:%PORT%/backend/logout;
        }
_EOC_

$locations =~ s/%DATA%/$data/g;

(my $plain = $locations) =~ s/%IF%//g;
(my $read = $locations)
    =~ s/%IF%/if (\$mixpanel_distinct_id = "never") { return 418; }/g;

my $nginx = start_nginx(conf => <<"_EOC_");
worker_processes 1;
error_log logs/error.log info;

events {
    worker_connections 64;
}

http {
    access_log off;

    mixpanel_api file:%PREFIX%/logs/calls.jsonl;
    mixpanel_cookie_secret $SECRET;
    mixpanel_flush_interval 100ms;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    mixpanel_profile_cookie mp_profile;

    mixpanel_jwt_claim_set \$jwt_sub sub;
    mixpanel_json_set \$body_account response /account/id;
    mixpanel_json_set \$body_profile response /profile/id;
    mixpanel_json_set \$body_type response /profile/type;

    # docs/troubleshooting.md, "Seeing the ids per request"
    log_format mixpanel '\$remote_addr "\$request" \$status '
                        'device=\$mixpanel_device_id account=\$mixpanel_account_id '
                        'profile=\$mixpanel_profile_id distinct=\$mixpanel_distinct_id';

    map \$mixpanel_account_id \$mapped_account {
        ""       anonymous;
        default  "known:\$mixpanel_account_id";
    }

    # the application: its answers name the account, as login APIs do
    server {
        listen 127.0.0.1:%PORT%;

        location /backend/ {
            default_type application/json;
            return 200 '{"account":{"id":"\$arg_acc"},"profile":{"id":"\$arg_p","type":"\$arg_type"},"seen":"\$http_x_device_id \$http_x_mapped \$http_x_srv"}';
        }
    }

    server {
        listen 127.0.0.1:$plain_port;
        mixpanel_token tok-plain;

$plain
    }

    server {
        listen 127.0.0.1:$read_port;
        mixpanel_token tok-read;

        set \$srv_device \$mixpanel_device_id;
        set \$srv_ids "\$mixpanel_distinct_id \$mixpanel_account_id \$mixpanel_profile_id";

        if (\$mixpanel_account_id = "never") {
            return 418;
        }

        access_log %PREFIX%/logs/ids.log mixpanel;
        add_header X-Ids "\$mixpanel_device_id \$mixpanel_distinct_id \$mixpanel_account_id \$mixpanel_profile_id \$mapped_account" always;
        proxy_set_header X-Device-Id \$mixpanel_device_id;
        proxy_set_header X-Mapped \$mapped_account;
        proxy_set_header X-Srv "\$srv_device \$srv_ids";

$read
    }
}
_EOC_

my $prefix = $nginx->{prefix};
my $http = HTTP::Tiny->new(timeout => 10);

sub slurp {
    my ($path) = @_;
    open my $f, '<', $path or return "";
    local $/;
    return <$f>;
}

ok(wait_until(10, sub {
       $http->get("http://127.0.0.1:$plain_port/nothing")->{status} == 404
   }), "nginx answers") or diag(slurp("$prefix/logs/stderr.log"));

my $D3 = "33333333-3333-4333-a333-333333333333";
my ($Tana, $Tben, $Tdan) = map { tag($_, "tok-plain") }
                               qw(acc-ana acc-ben acc-dan);

my $ben = jwt('HS256', 'hs', { sub => 'acc-ben' }, kid => 'hs',
              exp_in => 3600);

# the journey: [method, path, headers]
my @journey = (
    [GET => "/api/home", { Cookie => "mp_device_id=$D1" }],
    [POST => "/b/login?acc=acc-ana", { Cookie => "mp_device_id=$D1" }],
    [GET => "/api/feed", { Cookie => "mp_device_id=$D1.$Tana",
                           "X-Account" => "acc-ana" }],
    [POST => "/h/login", { Cookie => "mp_device_id=$D2",
                           Authorization => "Bearer $ben" }],
    [POST => "/b/signup?acc=acc-cara&p=solo", {}],
    [POST => "/b/login?acc=acc-ben", { Cookie => "mp_device_id=$D1.$Tana" }],
    [POST => "/b/switch?p=partner&type=couple",
     { Cookie => "mp_device_id=$D1.$Tana; mp_profile=solo",
       "X-Account" => "acc-ana" }],
    [POST => "/logout", { Cookie => "mp_device_id=$D1.$Tana; mp_profile=partner",
                          "X-Account" => "acc-ana" }],
    [GET => "/api/x", { Cookie => "mp_device_id=$D3", "X-Account" => "acc-dan" }],
);

# cookies with the server's own tags and fresh ids made comparable
sub norm_cookie {
    my ($c, $token) = @_;
    return "" unless defined $c;
    $c = join "\n", @$c if ref $c;
    my %known = map { tag($_, $token) => "T($_)" } qw(acc-ana acc-ben acc-dan
                                                      acc-cara);
    $c =~ s/(?<=[._])([0-9a-f]{12})(?=;)/$known{$1} \/\/ $1/ge;
    $c =~ s/Expires=[^;]+/Expires=X/g;
    $c =~ s/$UUID/my $u = $&; ($u eq $D1 || $u eq $D2 || $u eq $D3) ? $u : "NEW"/ge;
    return $c;
}

my (@cookies_plain, @cookies_read);

for my $step (@journey) {
    my ($method, $path, $headers) = @$step;

    for my $port ($plain_port, $read_port) {
        my $res = $http->request($method, "http://127.0.0.1:$port$path",
                                 { headers => $headers });
        is($res->{status}, 200, "$method $path on port "
                                . ($port == $plain_port ? "plain" : "read"));

        my $token = $port == $plain_port ? "tok-plain" : "tok-read";
        my $c = norm_cookie($res->{headers}{"set-cookie"}, $token);
        push @{ $port == $plain_port ? \@cookies_plain : \@cookies_read }, $c;
    }
}

is_deeply(\@cookies_read, \@cookies_plain,
          "the same cookies, whoever reads the variables");

is($cookies_plain[1], "mp_device_id=$D1.T(acc-ana); Path=/; Max-Age=31536000; "
                      . "Expires=X; SameSite=Lax",
   "a body-account login binds the device in the cookie of its response");
is($cookies_plain[5], "mp_device_id=NEW_T(acc-ben); Path=/; Max-Age=31536000; "
                      . "Expires=X; SameSite=Lax",
   "Ben's body-account login on Ana's device rotates it on that response");

# every call of a token, in order, with what varies by run made constant
sub calls_of {
    my ($token) = @_;
    my @calls;

    for my $line (split /\n/, slurp("$prefix/logs/calls.jsonl")) {
        my $r = decode_json($line);
        for my $c (@{ $r->{body} }) {
            my $p = $c->{properties} // $c;
            next unless ($p->{token} // $p->{'$token'}) eq $token;
            my $j = JSON::PP->new->canonical->encode($c);
            $j =~ s/"$token"/"TOKEN"/g;
            $j =~ s/"\$insert_id":"[0-9a-f]{32}"/"\$insert_id":"I"/g;
            $j =~ s/"time":\d{13}/"time":0/g;
            $j =~ s/"\$time":\d{13}/"\$time":0/g;
            $j =~ s/"\$created":"[0-9T:-]{19}"/"\$created":"C"/g;
            $j =~ s/$UUID/my $u = $&; ($u eq $D1 || $u eq $D2 || $u eq $D3) ? $u : "NEW"/ge;
            push @calls, "$r->{endpoint} $j";
        }
    }

    # the batches of events and of updates interleave as the flushes fall
    return [grep({ /^\/import / } @calls), grep({ /^\/engage / } @calls)];
}

ok(wait_until(10, sub {
       my $n = () = slurp("$prefix/logs/calls.jsonl") =~ /"Log Out"/g;
       $n >= 2
       && (() = slurp("$prefix/logs/calls.jsonl") =~ /"acc-dan"/g) >= 4
   }), "both servers' calls were written");

my ($p, $r) = (calls_of("tok-plain"), calls_of("tok-read"));

is_deeply($r, $p, "the same calls, whoever reads the variables")
    or diag(explain({ plain => $p, read => $r }));

# what the journey sends, call by call: events and people updates go in
# batches of their own, each in order
my @expected_events = (
    ['API Request', $D1, $D1],
    ['$identify', 'acc-ana', $D1],
    ['Log In', 'acc-ana', $D1],
    ['API Request', 'acc-ana', $D1],
    ['$identify', 'acc-ben', $D2],
    ['Log In', 'acc-ben', $D2],
    ['Sign Up', 'acc-cara', 'NEW'],
    ['Log In', 'acc-ben', 'NEW'],
    ['Switch Profile', 'acc-ana', $D1],
    ['Log Out', 'acc-ana', $D1],
    ['$identify', 'acc-dan', $D3],
    ['API Request', 'acc-dan', $D3],
);

my @expected_updates = (
    ['$set', 'acc-ana', '{"account_id":"acc-ana"}'],
    ['$set', 'acc-ben', '{"account_id":"acc-ben"}'],
    ['$set_once', 'acc-cara', '{"$created":"C"}'],
    ['$set', 'acc-cara', '{"account_id":"acc-cara","active_profile_id":"solo"}'],
    ['$set', 'acc-ben', '{"account_id":"acc-ben"}'],
    ['$set', 'acc-ana', '{"active_profile_id":"partner","profile_type":"couple"}'],
);

my (@events, @updates);
my $canon = JSON::PP->new->canonical;

for my $c (@$p) {
    my ($endpoint, $json) = split / /, $c, 2;
    my $o = decode_json($json);

    if ($endpoint eq '/import') {
        push @events, [$o->{event}, $o->{properties}{distinct_id},
                       $o->{properties}{'$device_id'}];
        next;
    }

    my ($op) = grep { /^\$(set|set_once|add|unset)$/ } keys %$o;
    my $body = $canon->encode($o->{$op});
    $body =~ s/"\$created":"[^"]*"/"\$created":"C"/;
    push @updates, [$op, $o->{'$distinct_id'}, $body];
}

is_deeply(\@events, \@expected_events, "the journey's events, exactly")
    or diag(explain(\@events));
is_deeply(\@updates, \@expected_updates,
          "the journey's people updates, exactly")
    or diag(explain(\@updates));

my ($switch) = grep { /"Switch Profile"/ } @$p;
like($switch, qr/"active_profile_id":"partner"/,
     "the profile from the switch's response body is on its event");

my $log = slurp("$prefix/logs/ids.log");
like($log, qr/"POST \/b\/login\?acc=acc-ana HTTP\/1.1" 200 device=$D1 account=acc-ana profile=- distinct=acc-ana/,
     "the access log shows the ids of the body-account login");

unlike(slurp("$prefix/logs/error.log"), qr/\[alert\]|exited on signal/,
       "no [alert], no crash");

ok(stop_nginx($nginx), "nginx quits");

done_testing();
