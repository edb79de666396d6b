# The names (and domain=, path=) nginx -t takes for mixpanel_device_cookie
# and mixpanel_profile_cookie: a cookie name is an RFC 6265 token, so each of
# the 17 separators ()<>@,;:\"/[]?={}, a space, a tab, a control
# character, DEL and a byte past ASCII stops nginx -t with the message
# that names the directive; a name of every other token character passes,
# and a started nginx sends it in Set-Cookie as it is.  A plain Test::More
# file: nginx -t on a configuration per name, then one nginx started.

use strict;
use warnings;
use Test::More;
use File::Temp ();
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
my $binary = $ENV{TEST_NGINX_BINARY} || "nginx";
my $modules = join "", map { "load_module $_;\n" }
                       split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // "");

# nginx's quoting: \" and \\ inside a double-quoted string
sub quoted {
    my ($name) = @_;
    (my $q = $name) =~ s/(["\\])/\\$1/g;
    return "\"$q\"";
}

# nginx -t of a location with the directive: [exit status, its output]
sub nginx_t {
    my ($directive, $name, @params) = @_;
    my $prefix = File::Temp::tempdir(CLEANUP => 1);
    mkdir "$prefix/$_" for "conf", "logs";
    open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
    print $fh $modules, <<"_EOC_";
error_log logs/error.log;
pid logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api file:$prefix/logs/sink.jsonl;
    mixpanel_token tok-names;
    server {
        listen 127.0.0.1:$port;
        location = /t {
            mixpanel track;
            $directive @{[ quoted($name) ]}@{[ map { " " . quoted($_) } @params ]};
            return 200 "ok\\n";
        }
    }
}
_EOC_
    close $fh;
    my $out = `$binary -t -p $prefix/ -c conf/nginx.conf 2>&1`;
    return [$? >> 8, $out];
}

my @bad = ((map { ("mp" . $_ . "id", sprintf "separator 0x%02x", ord $_) }
                split //, '()<>@,;:\\"/[]?={}'),
           "mp id", "a space",
           "mp\tid", "a tab",
           "mp\x01id", "a control character",
           "mp\x7fid", "DEL",
           "mp\xc3\xa9", "a byte past ASCII",
           "", "no character at all");

# every other token character: letters, digits, !#$%&'*+-.^_`|~
our $Good = 'Mp_0-9.a!#$%&\'*+^`|~z';

for my $directive (qw(mixpanel_device_cookie mixpanel_profile_cookie)) {
    for (my $i = 0; $i < @bad; $i += 2) {
        my ($name, $what) = @bad[$i, $i + 1];
        my ($rc, $out) = @{ nginx_t($directive, $name) };
        isnt($rc, 0, "$directive: a name with $what stops nginx -t");
        like($out, qr/\[emerg\] .*invalid cookie name "\Q$name\E" of "$directive", expected a token without spaces or any of \(\)<>\@,;:\\"\/\[\]\?=\{\} in /,
             "$directive: the message names the name and the directive "
             . "($what)");
    }

    my ($rc, $out) = @{ nginx_t($directive, $Good) };
    is($rc, 0, "$directive: a name of every other token character passes")
        or diag($out);
}

# domain= and path= go into Set-Cookie as they are: a host name, and a
# path from "/" without ";", spaces or control characters

my @bad_domain = ("ex ample.com", "example.com;secure", "exa\x01mple.com",
                  "\xc3\xa9.example", "example.com/", "example.com:8080",
                  "example.com.", ".", "..example.com", "a..example.com",
                  "-", "-a.example.com", "a-.example.com", "a.example.com-",
                  ".example.com-", "a.-example.com", "[::1]",
                  "a\@b.example", "a`b.example", "a{b.example",
                  "a^b.example");
my @bad_path = ("/a; Secure", "/a b", "/a\tb", "/a\x7f", "/\xc3\xa9",
                "a", "api/");

for my $directive (qw(mixpanel_device_cookie mixpanel_profile_cookie)) {
    for my $d (@bad_domain) {
        my ($rc, $out) = @{ nginx_t($directive, "mp_id", "domain=$d") };
        isnt($rc, 0, "$directive: domain=" . quotemeta($d)
                     . " stops nginx -t");
        like($out, qr/\[emerg\] .*invalid "domain=\Q$d\E" of "$directive", expected a host name in /,
             "$directive: the message names the domain and the directive");
    }

    for my $p (@bad_path) {
        my ($rc, $out) = @{ nginx_t($directive, "mp_id", "path=$p") };
        isnt($rc, 0, "$directive: path=" . quotemeta($p) . " stops nginx -t");
        like($out, qr/\[emerg\] .*invalid "path=\Q$p\E" of "$directive", expected a path from "\/" without ";", spaces or control characters in /,
             "$directive: the message names the path and the directive");
    }

    # and each edge of the ranges: A Z a z 0 9
    for my $d ("my_host.corp.example", "xn--bcher-kva.example", "1.2.3.4",
               "localhost", "a", "AZ-az_09.example") {
        my ($rc, $out) = @{ nginx_t($directive, "mp_id", "domain=$d") };
        is($rc, 0, "$directive: domain=$d passes") or diag($out);
    }

    my ($rc, $out) = @{ nginx_t($directive, "mp_id", "domain=.Ex-1.example.COM",
                                'path=/api/v1/~x:y@z!$&\'()*+,=%41') };
    is($rc, 0, "$directive: a host name and a path of URL characters pass")
        or diag($out);
}

# the same name, sent as it is
my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api file:%PREFIX%/logs/sink.jsonl;
    mixpanel_token tok-names;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t {
            mixpanel track;
            mixpanel_device_cookie "Mp_0-9.a!#$%&'*+^`|~z"
                                   "domain=.Ex-1.example.COM"
                                   "path=/api/v1/~x:y@z!$&'()*+,=%41";
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $res = HTTP::Tiny->new(timeout => 10)->get("$n->{base}/t");
is($res->{status}, 200, "the request");
like($res->{headers}{'set-cookie'} // "",
     qr/^\Q$Good\E=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}; Domain=\.Ex-1\.example\.COM; Path=\/api\/v1\/~x:y\@z!\$&'\(\)\*\+,=%41; /,
     "Set-Cookie carries the name, domain and path as they are");

dn_stop($n);
done_testing();
