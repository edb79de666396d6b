# Every default docs/directives.md gives as a directive ("Default:
# mixpanel_X ...;"), written out, does what leaving it out does: one
# nginx without them and one with all of them, read from the docs
# themselves, take the same visits (a page, a login, pages of the
# logged-in person, a logout, a page after it, a bot) and must answer
# the same Set-Cookie headers and write the same events, ids and times
# aside.  A value parsed differently when written out (samesite=lax
# read as Strict) or a default the docs misstate fails it.  A plain
# Test::More file (a few seconds).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

open my $d, '<', "docs/directives.md" or die "docs/directives.md: $!";
my @defaults;
while (<$d>) {
    next unless /^\s+Default:\s+(mixpanel\w*\s[^;]*;)\s*$/;
    my $line = $1;
    next if $line =~ /^mixpanel_api /;       # the sink here, not Mixpanel
    push @defaults, $line unless grep { $_ eq $line } @defaults;
}
close $d;
cmp_ok(scalar @defaults, '>=', 20, "defaults read from the docs")
    or diag(join("\n", @defaults));
ok((grep { /^mixpanel_device_cookie .*samesite=lax/ } @defaults),
   "the device cookie's among them");

sub visit {
    my ($written) = @_;
    my $extra = $written ? join("", map { "    $_\n" } @defaults) : "";
    my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api file:logs/sink.jsonl;
    mixpanel_token tok-defaults;
$extra
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /login {
            mixpanel login;
            mixpanel_account_id \$arg_acct;
            return 200 "ok\\n";
        }
        location = /logout { mixpanel logout; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

    my $http = HTTP::Tiny->new(timeout => 10);
    my ($cookie, @out) = ("");
    my @visits = (["/t", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
                         . "Gecko/20100101 Firefox/120.0"],
                  ["/login?acct=acc-1"], ["/t?p=1"], ["/t?p=2"],
                  ["/logout"], ["/t?p=3"],
                  ["/t", "Googlebot/2.1 (+http://www.google.com/bot.html)"]);
    for my $v (@visits) {
        my ($uri, $ua) = @$v;
        my $r = $http->get("$n->{base}$uri", { headers => {
            "User-Agent" => $ua // "Mozilla/5.0 (X11; Linux x86_64; "
                                  . "rv:120.0) Gecko/20100101 Firefox/120.0",
            ($cookie ne "" ? (Cookie => $cookie) : ()) } });
        my $set = $r->{headers}{"set-cookie"} // "";
        $set = join("\n", @$set) if ref $set;
        if ($set =~ /^mp_device_id=([^;]*)/m) {
            $cookie = "mp_device_id=$1";
        }
        push @out, "$uri $r->{status} $set";
    }
    ok(dn_stop($n), ($written ? "written out" : "left out")
                    . ": nginx quits");
    open my $s, '<', "$n->{prefix}/logs/sink.jsonl" or return @out;
    push @out, <$s>;
    close $s;

    # what differs from one nginx to the next: ids, tags, times
    for (@out) {
        s/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/U/g;
        s/\b[0-9a-f]{12}\b/T/g;
        s/\b[0-9a-f]{16,32}\b/I/g;
        s/\b\d{10,13}(\.\d+)?\b/N/g;
        s/Expires=[^;\n]+/Expires=E/g;
        s/"duration_ms":\d+/"duration_ms":M/g;
    }
    return @out;
}

my @left = visit(0);
my @written = visit(1);
cmp_ok(scalar @left, '>', 7, "the visits wrote events");
is_deeply(\@written, \@left,
          "the defaults written out answer and send as left out")
    or diag(join("\n", "left out:", @left, "written out:", @written));

done_testing();
