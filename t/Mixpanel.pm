package t::Mixpanel;

# Shared by the identity tests: the configuration that writes every call
# to the file: sink, a location that waits for the sender, and the ids the
# module derives, computed here independently of it.

use strict;
use warnings;

use Digest::MD5 qw(md5);
use Digest::SHA qw(hmac_sha256_hex);
use File::Temp ();
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ":sys_wait_h";
use Time::HiRes ();
use JSON::PP ();
use Exporter 'import';

our @EXPORT = qw(tag mapped_device sink_config sink_helpers use_sink
                 start_emulator emulator start_nginx stop_nginx wait_until
                 identify_re event_re engage_re sink_re
                 $UUID $HEX32 $TIME $D1 $D2 $SECRET);

our $UUID = qr/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;
our $HEX32 = qr/[0-9a-f]{32}/;
our $TIME = qr/\d{13}/;

our $D1 = "11111111-1111-4111-8111-111111111111";
our $D2 = "22222222-2222-4222-9222-222222222222";

# the mixpanel_cookie_secret the identity tests set
our $SECRET = "test-cookie-secret-0123456789abcdef";

# the device cookie's binding tag, 12 hex digits: the key's id (3 hex
# digits of an HMAC-SHA256 of a constant), then 9 of the HMAC-SHA256 of
# "token:account", both keyed with mixpanel_cookie_secret
sub tag {
    my ($account, $token, $secret) = @_;
    $secret //= $SECRET;
    return substr(hmac_sha256_hex("mixpanel cookie key id", $secret), 0, 3)
           . substr(hmac_sha256_hex(($token // "tok") . ":" . $account,
                                    $secret), 0, 9);
}

# a client device id that is not a UUIDv4, laid out as one
sub mapped_device {
    my ($id) = @_;
    my @b = unpack("C16", md5("mixpanel-device:" . $id));
    $b[6] = ($b[6] & 0x0f) | 0x40;
    $b[8] = ($b[8] & 0x3f) | 0x80;
    my $h = join "", map { sprintf "%02x", $_ } @b;
    return join "-", substr($h, 0, 8), substr($h, 8, 4), substr($h, 12, 4),
                     substr($h, 16, 4), substr($h, 20, 12);
}

sub sink_config {
    my ($identity) = @_;
    return <<"_EOC_";
    mixpanel_api file:\$TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    mixpanel_token tok;
    mixpanel_cookie_secret $SECRET;
    mixpanel_identity $identity;
    mixpanel_flush_interval 300ms;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    mixpanel_account_id \$http_x_account;
    mixpanel_profile_id \$http_x_profile;
    mixpanel_profile_cookie mp_profile;
    limit_req_zone \$server_name zone=wait:1m rate=1r/s;
_EOC_
}

sub sink_helpers {
    return <<'_EOC_';
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
}

# Blocks with a "--- calls" section get three more requests: two that
# wait for the sender, one that reads the sink, which must match "calls".
sub use_sink {
    my ($identity) = @_;

    main::add_block_preprocessor(sub {
        my $block = shift;

        # a block that sets its own mixpanel_cookie_secret gets only it
        my $http = $block->http_config // "";
        my $sink = sink_config($identity);
        $sink =~ s/^.*mixpanel_cookie_secret.*\n//m
            if $http =~ /mixpanel_cookie_secret/;

        $block->set_value("http_config", $sink . $http);
        $block->set_value("config", ($block->config // "") . sink_helpers());

        my $calls = $block->can("calls") ? $block->calls : undef;
        return unless defined $calls;

        my $req = $block->request;
        my @reqs = ref $req ? @$req : ($req);
        my $n = @reqs;

        my $spread = sub {
            my ($name, $default, @tail) = @_;
            my $v = $block->can($name) ? $block->$name : undef;
            $v = $default if !defined $v;
            return if !defined $v;
            my @v = ref $v eq 'ARRAY' ? @$v : (($v) x $n);
            $block->set_value($name, [@v, @tail]);
        };

        $block->set_value("request",
                          [@reqs, "GET /wait", "GET /wait", "GET /sink"]);
        $spread->("more_headers", undef, "", "", "");
        $spread->("error_code", 200, 200, 200, 200);
        $spread->("response_headers", undef, "", "", "");
        $spread->("response_headers_like", undef, "", "", "");
        $spread->("response_body_like", ".*", "^GIF", "^GIF", $calls);
    });
}

# the properties every call opens with (no $device_id when undef)
sub head_re {
    my ($event, $distinct, $device, $user) = @_;
    return '\{"event":"' . quotemeta($event) . '","properties":\{"token":"tok",'
           . '"time":\d{13},"distinct_id":"' . $distinct . '"'
           . (defined $device ? ',"\$device_id":"' . $device . '"' : '')
           . (defined $user ? ',"\$user_id":"' . $user . '"' : '')
           . ',"\$insert_id":"[0-9a-f]{32}","mp_lib":"nginx",'
           . '"\$lib_version":"[0-9.]+"';
}

# identify_re(account, device id, $anon_id if not the device id, ip)
sub identify_re {
    my ($account, $device, $anon, $ip) = @_;
    return head_re('$identify', $account, $device)
           . ',"ip":"' . ($ip // '127\.0\.0\.1') . '"'
           . ',"\$identified_id":"' . $account . '","\$anon_id":"'
           . ($anon // $device) . '"\}\}';
}

# event_re(name, distinct_id, device_id, user_id or undef, more props)
sub event_re {
    my ($event, $distinct, $device, $user, $props) = @_;
    return head_re($event, $distinct, $device, $user)
           . ',"ip":"127\.0\.0\.1"' . ($props // '') . '\}\}';
}

# engage_re(distinct_id, op, body of the op, 1 for a "track" location's
# update, which leaves "Updated at" alone)
sub engage_re {
    my ($distinct, $op, $body, $ignore) = @_;
    my $close = $op eq '$unset' ? '\]' : '\}';
    my $open = $op eq '$unset' ? '\[' : '\{';
    return '\{"\$token":"tok","\$distinct_id":"' . $distinct . '",'
           . '"\$ip":"127\.0\.0\.1","\$time":\d{13},'
           . ($ignore ? '"\$ignore_time":true,' : '')
           . '"' . quotemeta($op) . '":' . $open
           . $body . $close . '\}';
}

# sink_re([endpoint, call, ...], ...): the whole sink, line by line
sub sink_re {
    my $re = '^';
    for my $line (@_) {
        my ($endpoint, @calls) = @$line;
        $re .= '\{"endpoint":"' . $endpoint . '","body":\['
               . join(',', @calls) . '\]\}\n';
    }
    return $re . '$';
}

# Starts tools/mixpanel-emulator on a free loopback port for this test
# file and exports the port as $TEST_NGINX_EMULATOR_PORT; it stops when the
# file's process ends.
our @EmulatorPids;

sub start_emulator {
    my (@args) = @_;
    my $var = "TEST_NGINX_EMULATOR_PORT";

    if (@args && $args[0] =~ /^TEST_NGINX_/) {
        $var = shift @args;
    }

    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $port_file = "$dir/port";

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDOUT, '>', "$dir/stdout";
        open STDERR, '>', "$dir/stderr";
        exec "python3", "tools/mixpanel-emulator", "serve",
             "--listen", "127.0.0.1:0", "--port-file", $port_file,
             "--db", "$dir/emulator.db", @args;
        die "exec: $!";
    }

    push @EmulatorPids, $pid;

    for (1 .. 200) {
        last if -s $port_file;
        select(undef, undef, undef, 0.05);
    }

    open my $fh, '<', $port_file or die "the emulator did not start";
    my $port = <$fh>;
    chomp $port;
    close $fh;

    $ENV{$var} = $port;
    return $port;
}

# a GET or POST to an emulator's query API, decoded
sub emulator {
    my ($path, $body, $var) = @_;
    my $port = $ENV{$var // "TEST_NGINX_EMULATOR_PORT"};
    my $http = HTTP::Tiny->new(timeout => 60);
    my $url = "http://127.0.0.1:$port/_emulator/$path";
    my $res = defined $body
              ? $http->post($url, { content => $body,
                                    headers => { "Content-Type"
                                                 => "application/json" } })
              : $http->get($url);
    die "emulator $path: $res->{status} $res->{content}"
        unless $res->{success};
    return JSON::PP::decode_json($res->{content});
}

our @NginxPids;

# A test killed with TERM, INT or HUP (prove interrupted, a runner's
# timeout) still runs the END below: the nginx it started is in a group of
# its own, out of reach of a signal to the test's group.
$SIG{$_} = sub { exit 1 } for grep { !defined $SIG{$_} } qw(TERM INT HUP);

END {
    for my $pid (@NginxPids) {
        kill 'KILL', -$pid;
        waitpid $pid, 0;
    }

    for my $pid (@EmulatorPids) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

# For the plain Test::More files that drive nginx with signals: a temp
# prefix with conf/, logs/ and any extra directories, a free port, and
# nginx (TEST_NGINX_BINARY, TEST_NGINX_LOAD_MODULES) as a direct child.
# In the text given, %PREFIX% and %PORT% are replaced; master_process is
# on unless master => 0.
sub start_nginx {
    my (%o) = @_;

    my $binary = $ENV{TEST_NGINX_BINARY} || "nginx";
    my $prefix = File::Temp::tempdir(CLEANUP => !$ENV{KEEP});

    mkdir "$prefix/$_" for "conf", "logs", @{ $o{dirs} // [] };

    # the workers run as nobody: they must reach what nginx creates here
    chmod 0755, $prefix;

    my $probe = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                      LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $probe->sockport;
    close $probe;

    my $conf = join("", map { "load_module $_;\n" }
                        split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // ""))
               . "daemon off;\nmaster_process "
               . (($o{master} // 1) ? "on" : "off") . ";\npid logs/nginx.pid;\n"
               . $o{conf};
    $conf =~ s/%PREFIX%/$prefix/g;
    $conf =~ s/%PORT%/$port/g;

    open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
    print $fh $conf;
    close $fh;

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        # a group of its own, and not on the test's output: a test that
        # dies takes the workers with it (END below), and an nginx left
        # over cannot hold prove's pipe open
        setpgrp(0, 0);
        open STDOUT, '>', "$prefix/logs/stdout.log";
        open STDERR, '>', "$prefix/logs/stderr.log";
        exec $binary, "-p", "$prefix/", "-c", "conf/nginx.conf";
        die "exec: $!";
    }

    push @NginxPids, $pid;

    return { pid => $pid, prefix => $prefix, port => $port,
             base => "http://127.0.0.1:$port" };
}

sub wait_until {
    my ($timeout, $cond) = @_;
    my $end = Time::HiRes::time() + $timeout;

    while (Time::HiRes::time() < $end) {
        return 1 if $cond->();
        Time::HiRes::sleep(0.1);
    }

    return 0;
}

# quits nginx; true when it exited in time (it is killed otherwise)
sub stop_nginx {
    my ($nginx, $timeout) = @_;

    kill 'QUIT', $nginx->{pid};

    my $gone = wait_until($timeout // 15, sub {
        waitpid($nginx->{pid}, WNOHANG) == $nginx->{pid}
    });

    kill 'KILL', -$nginx->{pid} unless $gone;
    waitpid($nginx->{pid}, 0) unless $gone;
    @NginxPids = grep { $_ != $nginx->{pid} } @NginxPids;

    return $gone;
}

# the data sections' eval code runs in Test::Base::Filter
for my $f (qw(tag mapped_device identify_re event_re engage_re sink_re)) {
    no strict 'refs';
    *{"Test::Base::Filter::$f"} = \&$f;
}

1;
