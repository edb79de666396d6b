# The Debian package: `make deb` builds it, `dpkg -i` installs it into
# the real system, the module is enabled in /etc/nginx/modules-enabled,
# and Debian's /usr/sbin/nginx loads it through that snippet and tracks a
# request to a file: sink.
#
# Root only (CI runs as root on a throwaway machine).  The system is left
# as found where practical: a package that was not installed before is
# purged at the end; service starts are blocked during dpkg runs by a
# policy-rc.d (exit 101) unless one is already there.
#
# TEST_DEB=path.deb uses a package built elsewhere instead of `make deb`.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use FindBin;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Cwd qw(abs_path);

plan skip_all => 'installs a Debian package: root only' if $> != 0;
plan skip_all => 'dpkg-deb is not available'
    if system('command -v dpkg-deb >/dev/null 2>&1') != 0;
plan skip_all => 'Debian nginx (/usr/sbin/nginx) is not installed'
    unless -x '/usr/sbin/nginx';
# `make test` runs the suite once per nginx; the package is for Debian's
plan skip_all => 'the package is for Debian\'s nginx, not this run\'s'
    if $ENV{TEST_NGINX_BINARY} && $ENV{TEST_NGINX_BINARY} ne '/usr/sbin/nginx';

my $PKG     = 'libnginx-mod-http-mixpanel';
my $SO      = '/usr/lib/nginx/modules/ngx_http_mixpanel_module.so';
my $CONF    = '/usr/share/nginx/modules-available/mod-http-mixpanel.conf';
my $ENABLED = '/etc/nginx/modules-enabled/50-mod-http-mixpanel.conf';
my $POLICY  = '/usr/sbin/policy-rc.d';

my $root = abs_path("$FindBin::Bin/..");

my ($version) = do {
    open my $h, '<', "$root/ngx_mixpanel_module/ngx_http_mixpanel_module.h"
        or die "the header: $!";
    map { /^#define\s+NGX_HTTP_MIXPANEL_VERSION\s+"([^"]+)"/ ? $1 : () } <$h>;
};
ok($version, "the header defines NGX_HTTP_MIXPANEL_VERSION ($version)");

chomp(my $arch = `dpkg --print-architecture`);

my ($nginx_pid, $policy_made, $installed_by_us);

END {
    my $rc = $?;
    if ($nginx_pid && kill(0, $nginx_pid)) {
        kill 'TERM', $nginx_pid;
        waitpid $nginx_pid, 0;
    }
    if ($installed_by_us) {
        dpkg('-P', $PKG) == 0
            or warn "could not purge $PKG: leave it for the next run\n";
    }
    unlink $POLICY if $policy_made;
    $? = $rc;
}

# dpkg, retried while another dpkg or apt holds its lock (engineers and CI
# steps may install packages at the same time)
sub dpkg {
    my @args = @_;
    for my $try (1 .. 30) {
        my $out = `dpkg @args 2>&1`;
        my $rc = $?;
        return 0 if $rc == 0;
        if ($out =~ /lock/i && $try < 30) {
            sleep 2;
            next;
        }
        diag("dpkg @args:\n$out");
        return $rc;
    }
}

sub status_of {
    my $s = `dpkg-query -W -f='\${db:Status-Abbrev}' $PKG 2>/dev/null`;
    return $s // '';
}

# --- the package -----------------------------------------------------------

my $deb = $ENV{TEST_DEB};
if (!$deb) {
    $deb = "$root/build/${PKG}_${version}_${arch}.deb";
    # make's output on stderr keeps the TAP stream clean
    is(system("make -C '$root' --no-print-directory deb 1>&2"), 0,
       'make deb');
}
ok(-f $deb, "the package $deb exists") or BAIL_OUT("no package to test");

my $info = `dpkg-deb -f '$deb' Package Version Depends`;
like($info, qr/^Package: \Q$PKG\E$/m, 'Package');
like($info, qr/^Version: \Q$version\E$/m, 'Version is the header\'s');
my ($depends) = $info =~ /^Depends: (.*)$/m;
$depends //= '';
for my $dep (qw(nginx-abi-1.22.1-7 libcurl4 libjansson4 libcjose0 libssl3))
{
    like($depends, qr/(?:^|, )\Q$dep\E(?: \(|,|$)/, "Depends on $dep");
}

# gzip: ISA-L where it was built with it, else libdeflate
like($depends, qr/(?:^|, )(?:libisal2|libdeflate0)(?: \(|,|$)/,
     'Depends on the gzip library (libisal2 or libdeflate0)');

my $contents = `dpkg-deb -c '$deb'`;
like($contents, qr{ \./usr/lib/nginx/modules/ngx_http_mixpanel_module\.so$}m,
     'ships the module in /usr/lib/nginx/modules');
like($contents, qr{ \./usr/share/nginx/modules-available/mod-http-mixpanel\.conf$}m,
     'ships the modules-available snippet');

# the Debian changelog and CHANGELOG.md carry the same version
like(`dpkg-parsechangelog -l '$root/packaging/debian/changelog' -S Version`,
     qr/^\Q$version\E$/, 'packaging/debian/changelog is at the same version');
{
    open my $h, '<', "$root/CHANGELOG.md" or die "CHANGELOG.md: $!";
    local $/;
    like(<$h>, qr/^## \[\Q$version\E\]/m, 'CHANGELOG.md has its section');
}

# --- install ---------------------------------------------------------------

my $before = status_of();
$installed_by_us = $before !~ /^ii/;

if (!-e $POLICY) {
    open my $p, '>', $POLICY or die "$POLICY: $!";
    print $p "#!/bin/sh\n# t/096-deb.t: no service starts\nexit 101\n";
    close $p;
    chmod 0755, $POLICY;
    $policy_made = 1;
}

is(dpkg('-i', $deb), 0, 'dpkg -i installs the package')
    or BAIL_OUT('the package does not install');
like(status_of(), qr/^ii/, 'the package is installed');

ok(-f $SO, "$SO is installed");
is(readlink($ENABLED), $CONF, "$ENABLED links to the snippet");
{
    open my $h, '<', $ENABLED or die "$ENABLED: $!";
    local $/;
    is(<$h>, "load_module modules/ngx_http_mixpanel_module.so;\n",
       'the snippet loads the module');
}

# --- nginx with the installed module -----------------------------------

# Debian's prefix (/usr/share/nginx) is kept, so that the snippet's
# relative modules/ path resolves as it does for the system's nginx; every
# file nginx writes is in the temporary directory.
my $dir = tempdir('mixpanel-deb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
mkdir "$dir/sink" or die;
chmod 0777, "$dir/sink";      # written by the workers, as nobody

my $port = do {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp')
        or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    $p;
};

my $sink = "$dir/sink/events.jsonl";
open my $c, '>', "$dir/nginx.conf" or die;
print $c <<"_EOC_";
include $ENABLED;

daemon off;
master_process on;
worker_processes 1;
error_log $dir/error.log info;
pid $dir/nginx.pid;

events {
    worker_connections 64;
}

http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;

    mixpanel_api file:$sink;
    mixpanel_token tok-deb;

    server {
        listen 127.0.0.1:$port;

        location = /t {
            mixpanel track;
            mixpanel_property source deb;
            return 200 "ok\\n";
        }
    }
}
_EOC_
close $c;

my @nginx = ('/usr/sbin/nginx', '-c', "$dir/nginx.conf",
             '-e', "$dir/error.log");

my $t = `@nginx -t 2>&1`;
is($?, 0, 'nginx -t passes with the installed module') or diag($t);

$nginx_pid = fork // die "fork: $!";
if ($nginx_pid == 0) {
    open STDOUT, '>', "$dir/stdout.log";
    open STDERR, '>', "$dir/stderr.log";
    exec @nginx or POSIX::_exit(127);
}

my $sock;
for (1 .. 100) {
    $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'tcp') and last;
    last if waitpid($nginx_pid, WNOHANG) > 0;
    select undef, undef, undef, 0.1;
}
ok($sock, "nginx listens on 127.0.0.1:$port") or diag(slurp("$dir/error.log"));

if ($sock) {
    print $sock "GET /t HTTP/1.0\r\nHost: localhost\r\n"
              . "User-Agent: t/096-deb.t\r\n\r\n";
    local $/;
    my $response = <$sock>;
    like($response // '', qr{^HTTP/1\.1 200 .*\r\n\r\nok\n\z}s,
         'a tracked request is answered');
}

# quit: the workers flush what they hold to the sink before they exit
kill 'QUIT', $nginx_pid;
my $gone = 0;
for (1 .. 150) {
    if (waitpid($nginx_pid, WNOHANG) == $nginx_pid) {
        $gone = 1;
        last;
    }
    select undef, undef, undef, 0.1;
}
ok($gone, 'nginx quits');
$nginx_pid = undef if $gone;

my $events = slurp($sink);
like($events, qr/"endpoint":"\/import"/, 'the sink got an /import batch');
like($events, qr/"event":"API Request"/, '... with the request\'s event');
like($events, qr/"token":"tok-deb"/, '... with the token');
like($events, qr/"source":"deb"/, '... with the configured property');
like($events, qr/"\$lib_version":"\Q$version\E"/,
     '... and $lib_version is the package version');

my $log = slurp("$dir/error.log");
unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'no alert, crit or emerg logged')
    or diag($log);

done_testing();

sub slurp {
    my $f = shift;
    open my $h, '<', $f or return '';
    local $/;
    return <$h> // '';
}
