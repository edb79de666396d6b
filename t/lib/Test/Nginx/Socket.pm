package Test::Nginx::Socket;

# Our own implementation of the part of openresty's Test::Nginx::Socket
# that this project's tests use, on top of Debian's Test::Base.  A test
# file must give the same results (and the same number of tests) under
# this module and under the real one; see docs/testing.md.

use Test::Base -base;

use strict;
use warnings;

use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use IO::Socket::INET ();
use List::Util qw(min shuffle);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep time);

use Test::Nginx::Util;

our $VERSION = '0.1';

our @EXPORT = qw(
    add_block_preprocessor
    add_cleanup_handler
    add_response_body_check
    add_test_cleanup_handler
    bail_out
    check_accum_error_log
    config_preamble
    env_to_nginx
    html_dir
    is_str
    log_level
    master_off
    master_on
    master_process_enabled
    no_long_string
    no_root_location
    no_shuffle
    plan
    repeat_each
    run_tests
    server_addr
    server_name
    server_port
    server_port_for_client
    server_root
    timeout
    worker_connections
    workers
);

our @ResponseBodyChecks;


sub add_response_body_check ($) {
    push @ResponseBodyChecks, shift;
}


sub run_tests () {
    Test::Nginx::Util::nginx_V();

    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    my @blocks = Test::Base::blocks();

    if (!$Test::Nginx::Util::NoShuffle) {
        @blocks = shuffle @blocks;
    }

    for my $i (0 .. $#blocks) {
        my $block = $blocks[$i];

        for my $hdl (@Test::Nginx::Util::BlockPreprocessors) {
            $hdl->($block);
        }

        $block->set_value('name', "$0 " . $block->name);

        run_block($block, $blocks[$i + 1]);

        for my $hdl (@Test::Nginx::Util::TestCleanupHandlers) {
            $hdl->($block);
        }
    }

    finish_nginx(1);
}


sub skip_spec ($) {
    my $block = shift;

    my $name = $block->name;

    if (defined(my $spec = $block->skip_nginx)) {
        if ($spec !~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                      (?:\s*:\s*(.*?))?\s*$/x)
        {
            bail_out("$name - Invalid --- skip_nginx spec: $spec");
        }

        my ($n, $op, $reason) = ($1, $2, $6);
        my @v = ($3, $4, $5);
        my $ver = sprintf "%d.%03d%03d", @v;
        my $have = $NginxVersion // 0;

        my $skip = $op eq '<'  ? $have < $ver
                 : $op eq '<=' ? $have <= $ver
                 : $op eq '>'  ? $have > $ver
                 :               $have >= $ver;

        return ($n, $reason || "nginx version $op " . join('.', @v)) if $skip;
    }

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my ($n, $code) = ($1, $2);
            my $skip = eval $code;

            if ($@) {
                bail_out("$name - skip_eval - failed to eval the Perl code "
                         . "\"$code\": $@");
            }

            return ($n, 'skip_eval') if $skip;
        }
    }

    return;
}


# The block whose requests the running nginx served last; its
# shutdown_error_log is checked once that nginx is stopped.
our $ServedBlock;


# Sections the real harness knows but this one does not implement: fail
# loudly instead of silently testing something else than the real one.
our @UnsupportedSections = qw(
    charset curl_error curl_options curl_protocol http09 http2 http3
    pipelined_requests post_setup_server_root reload_fails request_eval
    response_body_eval response_body_json_sort skip_nginx2 skip_openssl
    skip_slave stap stap_out stap_out_like stap_out_unlike tcp_listen
    tcp_no_close tcp_query tcp_query_auto_timeout tcp_query_len tcp_reply
    tcp_reply_delay tcp_shutdown tcp_shutdown_delay todo todo_nginx
    udp_listen udp_query udp_reply udp_reply_delay write_resp_body_file
);


sub run_block ($$) {
    my ($block, $next) = @_;

    my $name = $block->name;

    my @unsupported = grep { defined $block->$_ } @UnsupportedSections;

    if (@unsupported) {
        bail_out("$name - section(s) not supported by our "
                 . "Test::Nginx::Socket (t/lib): @unsupported");
    }

    my ($skip_n, $skip_reason) = skip_spec($block);

    if (defined $skip_n) {
        for (1 .. $RepeatEach) {
          SKIP: {
                skip("$name - $skip_reason", $skip_n);
            }
        }

        return;
    }

    my $rand_ports = {};
    my $config = $block->config;

    if (defined $block->must_die) {
        finish_nginx(0);
        $Test::Nginx::Util::RandPorts = $rand_ports;
        $config = expand_env_in_text($config // '', $name, $rand_ports);
        setup_nginx($block, $config, $rand_ports);
        run_must_die($block);
        return;
    }

    if (defined $config) {
        finish_nginx(0);

        $Test::Nginx::Util::RandPorts = $rand_ports;
        $config = expand_env_in_text($config, $name, $rand_ports);
        setup_nginx($block, $config, $rand_ports);
        start_nginx_for($block);

    } elsif (!defined $Test::Nginx::Util::NginxPid) {
        # like the real harness, a block without a config section runs
        # against the server of the block before it
        bail_out("$name - No '--- config' section specified and could not "
                 . "get previous one.");

    } else {
        $rand_ports = $Test::Nginx::Util::RandPorts;
    }

    if ($block->init) {
        eval $block->init;
        if ($@) {
            bail_out("$name - init failed: $@");
        }
    }

    $ServedBlock = $block;
    $Test::Nginx::Util::ErrLogFilePos = 0;

    for my $rep (0 .. $RepeatEach - 1) {
        if ($rep > 0) {
            Test::Nginx::Util::write_user_files($block, $rand_ports);
        }

        run_test_helper($block, $rep);
    }

    if (!defined $next || defined $next->config) {
        finish_nginx(!defined $next);
    }
}


sub setup_nginx ($$$) {
    my ($block, $config, $rand_ports) = @_;

    Test::Nginx::Util::setup_server_root();
    Test::Nginx::Util::write_user_files($block, $rand_ports);
    Test::Nginx::Util::write_config_file($block, $config, $rand_ports);
}


sub start_nginx_for ($) {
    my $block = shift;

    my $name = $block->name;
    my $valgrind = $Test::Nginx::Util::UseValgrind;

    if ($valgrind) {
        # the real harness prints each block name under valgrind too,
        # so the memcheck reports on stderr can be told apart
        warn "$name\n";
    }

    my ($status, $state) = Test::Nginx::Util::start_nginx($name, $valgrind);

    return if $state eq 'ready';

    if ($state eq 'timeout') {
        Test::Nginx::Util::stop_nginx($name, 1);
    }

    my $why = $state eq 'timeout'
              ? "not ready within ${Test::Nginx::Util::StartTimeout}s"
              : "exited with status " . ($status >> 8)
                . (($status & 127) ? " (signal " . ($status & 127) . ")" : '');

    bail_out("$name - Cannot start nginx: $why\n"
             . Test::Nginx::Util::stderr_data()
             . join '', @{ Test::Nginx::Util::error_log_data() });
}


# Stops the nginx of the previous block(s) and runs their shutdown checks.
sub finish_nginx ($) {
    my $is_last = shift;

    my $block = $ServedBlock;

    undef $ServedBlock;

    return if !defined $Test::Nginx::Util::NginxPid;

    my $valgrind = $Test::Nginx::Util::NginxUnderValgrind;
    my $name = defined $block ? $block->name : $0;

    if ($is_last && $Test::Nginx::Util::NoClean && !$valgrind) {
        # TEST_NGINX_NO_CLEAN: leave the last server running to poke at it
        undef $Test::Nginx::Util::NginxPid;

    } else {
        my ($st, $killed, $premature) =
            Test::Nginx::Util::stop_nginx($name, 0);

        if ($killed) {
            fail("$name - nginx did not exit within "
                 . "${Test::Nginx::Util::StopTimeout}s after SIGQUIT");

        } elsif ($premature) {
            fail("$name - nginx exited before the end of the test block "
                 . "(status $st)");

        } elsif (defined $st && ($st & 127)) {
            fail("$name - nginx exited on signal " . ($st & 127));
        }
    }

    if (defined $block) {
        check_shutdown_error_log($block, $Test::Nginx::Util::NoClean);
    }

    if ($valgrind) {
        check_valgrind($name);
    }
}


sub run_must_die ($) {
    my $block = shift;

    my $name = $block->name;
    my $must_die = $block->must_die;

    $Test::Nginx::Util::ErrLogFilePos = 0;

    for my $rep (0 .. $RepeatEach - 1) {
        my ($status, $state) = Test::Nginx::Util::start_nginx($name, undef);

        if ($state ne 'exited') {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $rep)\n";
            Test::Nginx::Util::stop_nginx($name, 1);
            $status = 0;
        }

        my $exit_code = $status >> 8;

        if ($status & 127) {
            fail("$name - nginx core dumped");

        } elsif (looks_like_number($must_die)) {
            is($must_die, $exit_code,
               "$name - die with the expected exit code");

        } else {
            isnt($status, 0, "$name - die as expected");
        }

        check_error_log($block, undef, $rep, 0);
    }

    check_shutdown_error_log($block, $Test::Nginx::Util::NoClean);
}


sub check_valgrind ($) {
    my $name = shift;

    my $out = Test::Nginx::Util::stderr_data();
    my ($errlog) = Test::Nginx::Util::read_file_from($ErrLogFile, 0);

    $out .= join '', grep { /^==\d+== / } @$errlog;

    my @errors = Test::Nginx::Util::valgrind_errors($out);

    return if !@errors;

    fail("$name - valgrind reported " . scalar(@errors)
         . " memory error(s) or leak(s): $errors[0]");
    diag($out);
}


sub parse_more_headers ($) {
    my $in = shift;

    my ($out, $is_chunked) = ('', 0);

    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;

        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';

        if (lc($key) eq 'transfer-encoding' && $val eq 'chunked') {
            $is_chunked = 1;
        }

        $out .= "$key: $val\r\n";
    }

    return ($out, $is_chunked);
}


# Turns the packets of one request as written in a test into the packets
# to send: normalized request line, Host, Connection: close, the
# more_headers and a Content-Length for a (trimmed) body.  Packet
# boundaries stay where they were relative to the request line and body.
sub build_request ($$$$) {
    my ($name, $more_headers, $is_chunked, $packets) = @_;

    my $raw = join '', map { $_ // '' } @$packets;

    my ($first) = $raw =~ /\A([^\n]*\n?)/;

    if ($first eq '') {
        bail_out("$name - Request line should be non-empty");
    }

    if ($first !~ /^(\s*)(\S+)( *)((\S+)( *))?((\S+)( *))?(\s*)$/) {
        bail_out("$name - Request line is not valid. Should be "
                 . "'meth [url [version]]' but got \"$first\".");
    }

    my $line = "$2 " . ($5 // '/') . ' ' . ($8 // 'HTTP/1.1') . "\r\n";

    my $content = substr $raw, length $first;
    my $lead_trim = 0;
    my $len_header = '';

    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        ($lead_trim) = map { length } $content =~ /\A(\s*)/;
        $content =~ s/^\s+|\s+$//gs;
        $len_header = 'Content-Length: ' . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/g;

    my $headers = '';

    if ($more_headers !~ /(?:^|\n)Host:/i) {
        $headers .= "Host: $ServerName\r\n";
    }

    if ($more_headers !~ /(?:^|\n)Connection/i) {
        $headers .= "Connection: close\r\n";
    }

    my $head = "$line$headers$more_headers$len_header\r\n";
    my $req = $head . $content;

    my @cuts;
    my $pos = 0;

    for my $p (@$packets[0 .. $#$packets - 1]) {
        $pos += length($p // '');

        my $cut;

        if ($pos < length $first) {
            $cut = min($pos, length($line) - 2);

        } else {
            my $off = $pos - length($first) - $lead_trim;
            $off = 0 if $off < 0;
            $cut = length($head) + min($off, length $content);
        }

        push @cuts, $cut;
    }

    my @out;
    my $from = 0;

    for my $cut (@cuts, length $req) {
        $cut = $from if $cut < $from;
        push @out, substr($req, $from, $cut - $from);
        $from = $cut;
    }

    return \@out;
}


sub more_headers_for ($$) {
    my ($block, $i) = @_;

    my $more = $block->more_headers // '';

    if (ref $more eq 'ARRAY') {
        my $hdr = $more->[$i];

        if (!defined $hdr) {
            bail_out("--- more_headers lacks data for the ${i}th request");
        }

        return parse_more_headers($hdr);
    }

    return parse_more_headers($more);
}


# Returns a list of requests, each a list of { value, delay_before }
# packets.
sub get_req_from_block ($) {
    my $block = shift;

    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        my @bits = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        return [[map { ref $_ ? $_ : { value => $_ } } @bits]];
    }

    my $request = $block->request;

    if (!defined $request) {
        bail_out("$name - Request line should be non-empty");
    }

    if (!ref $request) {
        while ($request =~ s/^\s*\#[^\n]+\s+|^\s+//gs) {
            # strip leading comments and blank lines
        }

        my ($hdr, $chunked) = more_headers_for($block, 0);
        my $bits = build_request($name, $hdr, $chunked, [$request]);

        return [[{ value => $bits->[0] }]];
    }

    if (ref $request ne 'ARRAY') {
        bail_out("$name - invalid ---request : MUST be string or array "
                 . "of requests");
    }

    my @reqs;

    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        my ($hdr, $chunked) = more_headers_for($block, $i);

        if (!ref $one) {
            my $bits = build_request($name, $hdr, $chunked, [$one]);
            push @reqs, [{ value => $bits->[0] }];
            next;
        }

        if (ref $one ne 'ARRAY') {
            bail_out("$name - Invalid syntax. $one should be a string or "
                     . "an array of packets.");
        }

        my @values = map {
            ref $_ eq 'HASH' ? $_->{value}
            : !ref $_ ? $_
            : bail_out("$name - Invalid syntax. $_ should be a string or "
                       . "hash with value.")
        } @$one;

        my $bits = build_request($name, $hdr, $chunked, \@values);

        push @reqs, [map {
            my $p = $one->[$_];
            +{ %{ ref $p ? $p : {} }, value => $bits->[$_] }
        } 0 .. $#$bits];
    }

    return \@reqs;
}


sub send_request ($$$) {
    my ($block, $packets, $timeout) = @_;

    my $name = $block->name;
    my $head_req = (join '', map { $_->{value} // '' } @$packets)
                   =~ /^\s*HEAD\s+/ ? 1 : 0;
    my $addr = $block->server_addr_for_client // $ServerAddr;

    my $sock;

    for my $try (1 .. 20) {
        $sock = IO::Socket::INET->new(
            PeerAddr => $addr,
            PeerPort => $ServerPortForClient,
            Proto => 'tcp',
            Timeout => $timeout,
        );

        last if $sock;

        sleep 0.05 * $try;
    }

    if (!$sock) {
        fail("$name - Can't connect to $addr:$ServerPortForClient: $! "
             . "(aborted)");
        return ('', $head_req);
    }

    local $SIG{PIPE} = 'IGNORE';

    $sock->blocking(0);

    my $fd = fileno $sock;
    my @queue = @$packets;
    my $middle_delay = $block->raw_request_middle_delay;
    my $wbuf = (shift @queue)->{value} // '';
    my $writing = 1;
    my $resp = '';

    while (1) {
        my $rin = '';
        vec($rin, $fd, 1) = 1;
        my $win = $writing ? $rin : undef;

        my $n = select(my $rout = $rin, my $wout = $win, undef, $timeout);

        if ($n < 0) {
            next if $! == EINTR;
            warn "WARNING: $name - select failed: $!\n";
            last;
        }

        if ($n == 0) {
            if (!defined $block->abort) {
                fail("ERROR: client socket timed out - $name");
            }

            last;
        }

        if (vec($rout, $fd, 1)) {
            my $bytes = sysread $sock, my $buf, 65536;

            if (!defined $bytes) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }

            last if $bytes == 0;

            $resp .= $buf;
        }

        next if !$writing || !defined $wout || !vec($wout, $fd, 1);

        if ($wbuf ne '') {
            my $bytes = syswrite $sock, $wbuf;

            if (!defined $bytes) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;

                # keep reading: nginx may have answered before it read
                # the whole request
                warn "write failed: $!\n";
                $writing = 0;
                next;
            }

            substr($wbuf, 0, $bytes) = '';
            next if $wbuf ne '';
        }

        if (!@queue) {
            $writing = 0;

            if (defined(my $how = $block->shutdown)) {
                shutdown $sock, ($how =~ /^\s*$/ ? 1 : $how);
            }

            next;
        }

        my $next = shift @queue;
        my $delay = $next->{delay_before} // $middle_delay;

        sleep $delay if $delay;

        $wbuf = $next->{value} // '';
    }

    close $sock;

    return ($resp, $head_req);
}


sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;

    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';

    my $res = Test::Nginx::Socket::HttpResponse->parse($raw);
    my $code = $res->code;

    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        undef $code;
    }

    if ($code && ($code == 304 || $code == 101)) {
        return ($res, $raw_headers, undef);
    }

    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my $body = $res->content;
    my $left;

    if (defined $te && $te eq 'chunked') {
        my @trailers = map { split /\s*,\s*/ } $res->header_values('Trailer');
        my $decoded = '';

        while (1) {
            if ($body =~ /\G0[ \t]*\r\n/gc) {
                for my $t (@trailers) {
                    if ($body !~ /\G\Q$t\E: [^\n]*\r\n/gci) {
                        fail("$name - invalid trailer data received "
                             . "(expected $t).");
                        return;
                    }
                }

                if ($body !~ /\G\r\n/gc) {
                    fail("$name - invalid chunked data received "
                         . "(expected CRLF).");
                    return;
                }

                if ($body =~ /\G(.+)/gcs) {
                    $left = $1;
                }

                last;
            }

            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                my $at = pos $body;

                if (length($body) - $at < $size) {
                    fail("$name - invalid chunked data received "
                         . "(not enough octets for the data section)");
                    return;
                }

                $decoded .= substr $body, $at, $size;
                pos($body) = $at + $size;

                if ($body !~ /\G\r\n/gc) {
                    fail("$name - invalid chunked data received "
                         . "(expected CRLF).");
                    return;
                }

                next;
            }

            if ($body =~ /\G(.+)/gcs) {
                fail("$name - invalid chunked body received: $1");

            } else {
                fail("$name - no last chunk found - $body");
            }

            return;
        }

        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body < $len) {
            if (!$head_req) {
                warn "WARNING: $name - response body truncated: $len "
                     . "expected, but got ", length $body, "\n";
            }

        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}


sub get_indexed_value ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;

    if ($need_array) {
        if (ref $value eq 'ARRAY') {
            return $value->[$idx];
        }

        bail_out("$name - You asked for many requests, the expected "
                 . "results should be arrays as well.");
    }

    if (ref $value eq 'ARRAY') {
        return $value->[0];
    }

    return $value;
}


sub run_test_helper ($$) {
    my ($block, $rep) = @_;

    my $name = $block->name;
    my $reqs = get_req_from_block($block);

    if (!@$reqs) {
        bail_out("$name - request empty");
    }

    my $timeout = parse_time($block->timeout) // timeout();
    my $need_array = @$reqs > 1;
    my $res;

    for my $idx (0 .. $#$reqs) {
        my ($raw, $head_req) = send_request($block, $reqs->[$idx], $timeout);

        if (!defined $block->ignore_response) {
            my ($raw_headers, $left);

            ($res, $raw_headers, $left) = parse_response($name, $raw,
                                                         $head_req);

            if (defined $left && $left ne '') {
                $left =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last "
                     . "chunk in response: \"$left\"\n";
            }

            $raw_headers //= '';

            check_error_code($block, $res, $idx, $need_array);
            check_raw_response_headers($block, $raw_headers, $idx,
                                       $need_array);
            check_response_headers($block, $res, $raw_headers, $idx,
                                   $need_array);
            transform_response_body($block, $res, $idx);
            check_response_body($block, $res, $idx, $rep, $need_array);
        }

        if ($idx < $#$reqs) {
            sleep $block->wait if $block->wait;

            check_error_log($block, $res, $rep, $need_array);

            if (!defined $block->ignore_response) {
                check_access_log($block, $rep);
            }
        }
    }

    sleep $block->wait if $block->wait;

    check_error_log($block, $res, $rep, $need_array);

    if (!defined $block->ignore_response) {
        check_access_log($block, $rep);
    }
}


sub check_error_code ($$$$) {
    my ($block, $res, $idx, $need_array) = @_;

    my $name = $block->name;
    my $got = ($res && $res->code) || '';

    if (defined $block->error_code_like) {
        my $pat = get_indexed_value($name, $block->error_code_like, $idx,
                                    $need_array);
        like($got, qr/$pat/sm, "$name - status code ok");

    } elsif (defined $block->error_code) {
        is($got, get_indexed_value($name, $block->error_code, $idx,
                                   $need_array),
           "$name - status code ok");

    } else {
        is($got, 200, "$name - status code ok");
    }
}


sub check_raw_response_headers ($$$$) {
    my ($block, $raw_headers, $idx, $need_array) = @_;

    my $name = $block->name;

    if (defined $block->raw_response_headers_like) {
        my $pat = get_indexed_value($name, $block->raw_response_headers_like,
                                    $idx, $need_array);
        like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
    }

    if (defined $block->raw_response_headers_unlike) {
        my $pat = get_indexed_value($name,
                                    $block->raw_response_headers_unlike,
                                    $idx, $need_array);
        unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
    }
}


# "Name: value" lines; "!Name" means the header must be absent (undef).
sub parse_headers ($) {
    my $text = shift;

    my (@keys, %headers);

    for my $line (split /\n/, $text // '') {
        $line =~ s/^\s+|\s+$//g;

        my $neg = $line =~ s/^!\s*//;
        my ($key, $val) = $neg ? ($line, undef) : split(/\s*:\s*/, $line, 2);

        $key //= '';

        push @keys, $key if !exists $headers{$key};
        $headers{$key} = $val;
    }

    return map { [$_, $headers{$_}] } @keys;
}


sub check_response_headers ($$$$$) {
    my ($block, $res, $raw_headers, $idx, $need_array) = @_;

    my $name = $block->name;

    if (defined $block->response_headers) {
        my $spec = get_indexed_value($name, $block->response_headers, $idx,
                                     $need_array);

        for my $h (parse_headers($spec)) {
            my ($key, $val) = @$h;

            if (!defined $val) {
                unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                       "$name - header $key not present in the raw headers");
                next;
            }

            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;

            my $got = $res ? $res->header($key) : undef;

            is($got // '', $val, "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $spec = get_indexed_value($name, $block->response_headers_like,
                                     $idx, $need_array);

        for my $h (parse_headers($spec)) {
            my ($key, $val) = @$h;

            my $got = $res ? $res->header($key) : undef;
            $val //= '';

            like($got // '', qr/^$val$/, "$name - header $key like ok");
        }
    }
}


sub run_body_filter ($$$) {
    my ($name, $filter, $content) = @_;

    if (ref $filter eq 'CODE') {
        return $filter->($content);
    }

    if (ref $filter) {
        bail_out("$name - the --- response_body_filters section only "
                 . "supports subroutine reference values and string values");
    }

    my %builtin = (
        md5_hex => sub { require Digest::MD5; Digest::MD5::md5_hex($_[0]) },
        sha1_hex => sub { require Digest::SHA; Digest::SHA::sha1_hex($_[0]) },
        uc => sub { uc $_[0] },
        lc => sub { lc $_[0] },
        ucfirst => sub { ucfirst $_[0] },
        lcfirst => sub { lcfirst $_[0] },
        length => sub { length $_[0] },
    );

    my $f = $builtin{$filter}
        or bail_out("$name - unknown filter, \"$filter\", specified in the "
                    . "--- response_body_filters section");

    return $f->($content);
}


sub transform_response_body ($$$) {
    my ($block, $res, $idx) = @_;

    return if !$res || !defined $res->content;

    my $filters = $block->response_body_filters;

    return if !defined $filters;

    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//g;
        $filters = [split /\s+/, $filters];

    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    if (ref $filters->[0] eq 'ARRAY') {
        $filters = $filters->[$idx];

        if (!defined $filters) {
            bail_out("$name - the ---response_body_filters two-dimensional "
                     . "array unmatch the specified request($idx)");
        }
    }

    my $content = $res->content;

    for my $f (@$filters) {
        $content = run_body_filter($name, $f, $content);
    }

    $res->content($content);
}


sub check_response_body ($$$$$) {
    my ($block, $res, $idx, $rep, $need_array) = @_;

    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    if (defined $block->response_body) {
        my $expected = get_indexed_value($name, $block->response_body, $idx,
                                         $need_array);

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected = expand_env_in_text($expected, $name,
                                           $Test::Nginx::Util::RandPorts);
        }

        my $desc = "$name - response_body - ";

        if (ref $expected) {
            like($content, $expected,
                 "${desc}like (repeated req $rep, req $idx)");

        } else {
            is_str($content, $expected,
                   "${desc}response is expected (repeated req $rep, "
                   . "req $idx)");
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $like = defined $block->response_body_like;
        my $type = $like ? 'like' : 'unlike';
        my $pat = get_indexed_value($name,
                                    $like ? $block->response_body_like
                                          : $block->response_body_unlike,
                                    $idx, $need_array);

        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;

        my $summary = $content // '';
        $summary =~ s/^\s+|\s+$//g;
        $summary =~ s/\n/ /g;
        $summary =~ s/\s{2,}/ /g;

        my $desc = "$name - response_body_$type - response is expected "
                   . "($summary)";

        if ($like) {
            like($content, qr/$pat/s, $desc);

        } else {
            unlike($content, qr/$pat/s, $desc);
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $idx, $rep, 0);
    }
}


sub patterns ($) {
    my $pats = shift;

    if (!ref $pats) {
        chomp $pats;
        return split /\n+/, $pats;
    }

    if (ref $pats eq 'Regexp') {
        return ($pats);
    }

    return @$pats;
}


sub line_matches ($$) {
    my ($line, $pat) = @_;

    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}


sub fmt_str ($) {
    my $str = shift;

    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;

    return $str;
}


# One test per pattern: it must match some line.
sub check_patterns_found ($$$$$) {
    my ($name, $pats, $lines, $where, $suffix) = @_;

    my @pats = patterns($pats);

    for my $line (@$lines) {
        for my $pat (@pats) {
            next if !defined $pat;

            if (line_matches($line, $pat)) {
                pass("$name - pattern \"$pat\" matches a line in "
                     . "$where$suffix");
                undef $pat;
            }
        }
    }

    for my $pat (@pats) {
        next if !defined $pat;
        fail("$name - pattern \"$pat\" should match a line in $where$suffix");
    }
}


# One passing test per pattern not found, one failing test per line that
# matches a pattern (as the real harness does).
sub check_patterns_absent ($$$$$) {
    my ($name, $pats, $lines, $where, $suffix) = @_;

    my @pats = grep { defined } patterns($pats);
    my %found;

    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];

        for my $pat (@pats) {
            next if !line_matches($line, $pat);

            $found{$pat} = 1;

            my $more = join '', @$lines[$i + 1 .. min($i + 9, $#$lines)];

            fail("$name - pattern \"" . fmt_str($pat) . "\" should not "
                 . "match any line in $where but matches line \""
                 . fmt_str($line) . "\"$suffix\n$more");
        }
    }

    for my $pat (@pats) {
        next if $found{$pat};
        pass("$name - pattern \"" . fmt_str($pat) . "\" does not match a "
             . "line in $where$suffix");
    }
}


sub mentions ($$) {
    my ($pats, $str) = @_;

    return 0 if !defined $pats;

    for my $p (ref $pats eq 'ARRAY' ? @$pats : ($pats)) {
        return 1 if defined $p && index("$p", $str) >= 0;
    }

    return 0;
}


sub check_error_log ($$$$) {
    my ($block, $res, $rep, $need_array) = @_;

    my $name = $block->name;
    my $lines;

    my $grep_pat = $block->grep_error_log;

    if (ref $grep_pat eq 'ARRAY') {
        $grep_pat = $grep_pat->[$rep];
    }

    if (!defined $block->grep_error_log
        && defined $block->grep_error_log_out)
    {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }

    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;

        if (!defined $expected) {
            bail_out("$name - No --- grep_error_log_out defined but "
                     . "--- grep_error_log is defined");
        }

        $expected = expand_env_in_text($expected, $name,
                                       $Test::Nginx::Util::RandPorts);

        if (ref $expected eq 'ARRAY') {
            $expected = $expected->[$rep];
        }

        $lines //= error_log_data();

        my $matched = '';

        for my $line (@$lines) {
            if ((ref $grep_pat && $line =~ /$grep_pat/)
                || $line =~ /\Q$grep_pat\E/)
            {
                my $m = $&;
                $matched .= "$m\n" if $m !~ /\n/;
            }
        }

        my $desc = "$name - grep_error_log_out (req $rep)";

        if (ref $expected eq 'Regexp') {
            like($matched, $expected, $desc);

        } else {
            is_str($matched, $expected, $desc);
        }
    }

    my $err = $block->error_log;
    my $no_err = $block->no_error_log;

    if (defined $err) {
        $lines //= error_log_data();
        check_patterns_found($name, $err, $lines, 'error.log',
                             " (req $rep)");
    }

    if (defined $no_err) {
        $lines //= error_log_data();
        check_patterns_absent($name, $no_err, $lines, 'error.log',
                              " (req $rep)");
    }

    $lines //= error_log_data();

    for my $level (qw(alert crit emerg)) {
        next if mentions($err, "[$level") || mentions($no_err, "[$level");

        for my $line (@$lines) {
            if ($line =~ /\[$level\]/) {
                warn "WARNING: $name - " . fmt_str($line) . "\n";
            }
        }
    }

    for my $line (@$lines) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            fail("$name - $l");
        }
    }
}


sub check_access_log ($$) {
    my ($block, $rep) = @_;

    my $name = $block->name;
    my $lines;

    if (defined $block->access_log) {
        $lines //= Test::Nginx::Util::access_log_data();
        check_patterns_found($name, $block->access_log, $lines,
                             'access.log', " (req $rep)");
    }

    if (defined $block->no_access_log) {
        $lines //= Test::Nginx::Util::access_log_data();
        check_patterns_absent($name, $block->no_access_log, $lines,
                              'access.log', " (req $rep)");
    }
}


sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;

    my $name = $block->name;
    my $pats = $block->shutdown_error_log;
    my $no_pats = $block->no_shutdown_error_log;

    return if !defined $pats && !defined $no_pats;

    if ($dry_run) {
        my $n = grep { defined } patterns($pats // []),
                                 patterns($no_pats // []);

      SKIP: {
            skip("$name - shutdown_error_log - tests skipped due to dry_run",
                 $n);
        }

        return;
    }

    my $lines = error_log_data();

    if (defined $pats) {
        check_patterns_found($name, $pats, $lines, 'error.log', '');

        for my $line (@$lines) {
            if ($line =~ /\bAssertion .*? failed\.$/) {
                chomp(my $l = $line);
                fail("$name - $l");
            }
        }
    }

    if (defined $no_pats) {
        check_patterns_absent($name, $no_pats, $lines, 'error.log', '');
    }
}


package Test::Nginx::Socket::HttpResponse;

# The few bits of HTTP::Response that the checks need.

sub parse {
    my ($class, $str) = @_;

    $str //= '';

    my $self = bless { code => undef, headers => [], content => '' }, $class;

    my $status = $str =~ s/^(.*)\n// ? $1 : do { my $s = $str; $str = ''; $s };
    $status =~ s/\r\z//;

    my @parts = split ' ', $status, 3;

    if ($status =~ /^\d{3} /) {
        unshift @parts, undef;
    }

    $self->{code} = $parts[1];

    my $hdrs = $self->{headers};

    while (1) {
        if ($str =~ s/^([^\s:]+)[ \t]*: ?(.*)\n?//) {
            push @$hdrs, [$1, $2];
            $hdrs->[-1][1] =~ s/\r\z//;

        } elsif (@$hdrs && $str =~ s/^([ \t].*)\n?//) {
            $hdrs->[-1][1] .= "\n$1";
            $hdrs->[-1][1] =~ s/\r\z//;

        } else {
            $str =~ s/^\r?\n//;
            last;
        }
    }

    $self->{content} = $str;

    return $self;
}

sub code {
    my $self = shift;
    $self->{code} = shift if @_;
    return $self->{code};
}

sub content {
    my $self = shift;
    $self->{content} = shift if @_;
    return $self->{content};
}

sub header_values {
    my ($self, $name) = @_;

    (my $want = lc $name) =~ tr/_/-/;

    return map { $_->[1] } grep { lc($_->[0]) eq $want } @{ $self->{headers} };
}

sub header {
    my ($self, $name) = @_;

    my @v = $self->header_values($name);

    return @v ? join(', ', @v) : undef;
}

1;
