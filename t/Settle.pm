package t::Settle;

# Waiting for the sender by condition, and reading what it sent, for the
# blocks of t/012-levels.t, t/013-limits.t and t/031-counters.t.
#
# A block lists its requests as "steps"; after each step that says how
# many records the workers should have queued by then, a "GET
# /settle?n=N" request follows, and the check below polls the status
# page until events_queued is N and queue_depth is 0 (nothing waits on a
# fixed sleep).  With a "sink" section, a last "GET /sink" reads the
# file: sink, which a response body filter turns into one line per record,
# /import records first, then /engage ones, each exactly as sent, after a
# line with the size of every batch:
#
#     # /import:2 /engage:1
#     /import {"event":"API Request","properties":{...}}
#     /import {...}
#     /engage {"$token":...}
#
# so a block can assert every record byte for byte without depending on
# how the sender cut them into batches.  A "sink_sizes" section instead
# matches the first line alone.

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny;
use JSON::PP ();
use Test::More ();
use Time::HiRes ();

our @EXPORT = qw(use_steps settle_hook counters_re prometheus_re status
                 sink_filter);

# a JSON object, strings and nesting included
our $Obj = qr/(?<obj>\{(?:[^{}"]++|"(?:[^"\\]++|\\.)*+"|(?&obj))*+\})/s;

sub status_url {
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    return "http://127.0.0.1:$port/status";
}

# the status page, decoded, or undef
sub status {
    my $res = HTTP::Tiny->new(timeout => 10)->get(status_url());
    return undef unless $res->{success};
    return eval { JSON::PP::decode_json($res->{content}) };
}

# Polls until events_queued == N and queue_depth == 0: the records of the
# steps before are queued and handed over (written to the sink, or
# answered by Mixpanel).  Reports one test.
sub settle_hook {
    main::add_response_body_check(sub {
        my ($block, $body, $idx, $rep, $dry_run) = @_;

        return if $dry_run || !defined $body
                  || $body !~ /^settle (\d+)\n\z/;

        my $want = $1;
        my $st;
        my $end = Time::HiRes::time() + ($ENV{SETTLE_TIMEOUT} || 30);

        while (Time::HiRes::time() < $end) {
            $st = status();

            last if $st && $st->{queue_depth} == 0
                    && $st->{events_queued} >= $want;

            Time::HiRes::sleep(0.05);
        }

        my $got = $st ? "queued=$st->{events_queued} "
                        . "depth=$st->{queue_depth}"
                      : "no status page";

        Test::More::is($got, "queued=$want depth=0",
                       $block->name . " - settled after request $idx");
    });
}

# the sink, one record a line (see above); anything else as it is
sub sink_filter {
    my ($text) = @_;

    return $text unless defined $text && $text =~ /^\{"endpoint":/;

    my (%recs, @sizes);

    for my $line (split /\n/, $text, -1) {
        next if $line eq '';

        if ($line !~ m{^\{"endpoint":"(/import|/engage)","body":\[(.*)\]\}\z}s)
        {
            return "MALFORMED LINE: $line\n";
        }

        my ($ep, $body) = ($1, $2);
        my @r;

        while ($body =~ /\G$Obj(,|\z)/gc) {
            push @r, $+{obj};
            last if $2 eq '';
        }

        if (!@r || (pos($body) // 0) != length $body) {
            return "MALFORMED BATCH: $line\n";
        }

        for my $r (@r) {
            my $copy = $r;

            if (!utf8::decode($copy)
                || !eval { JSON::PP->new->decode($copy); 1 })
            {
                return "INVALID JSON: $r\n";
            }
        }

        push @{ $recs{$ep} }, @r;
        push @sizes, "$ep:" . scalar @r;
    }

    return "# @sizes\n"
           . join("", map { "/import $_\n" } @{ $recs{'/import'} // [] })
           . join("", map { "/engage $_\n" } @{ $recs{'/engage'} // [] });
}

# only the first line: the size of every batch (for sinks of megabytes)
sub sizes_filter {
    my $out = sink_filter($_[0]);
    $out =~ s/\n.*//s if $out =~ /^# /;
    return $out;
}

# sink_re([import records], [engage records]): the whole canonical sink
sub main::sink_of {
    my ($import, $engage) = @_;
    return '^# [^\n]*\n'
           . join("", map { "/import $_\\n" } @{ $import // [] })
           . join("", map { "/engage $_\\n" } @{ $engage // [] })
           . '\z';
}

our @Counters = qw(events_queued events_sent events_rejected queue_full
                   retry_expired shutdown worker_died memory events_spooled
                   events_replayed events_replay_rejected batches_sent
                   retries identify_sent queue_depth);

# dropped by a dead worker or for memory, and refused on replay: 0 unless
# the test says otherwise (no test of these files causes them)
our @Zero = qw(worker_died memory events_replay_rejected);

sub check_counters {
    my ($want) = @_;

    $want->{$_} //= 0 for @Zero;

    my %want = %$want;

    for my $c (@Counters) {
        die "counters: no value for $c" unless defined $want{$c};
    }

    for my $c (keys %want) {
        die "counters: unknown counter $c" unless grep { $_ eq $c } @Counters;
    }
}

# every counter of the JSON status, exactly, in any order
sub counters_re {
    my (%want) = @_;

    check_counters(\%want);

    my $re = '^\{';

    for my $c (@Counters) {
        if ($c =~ /^(?:queue_full|retry_expired|shutdown|worker_died|memory)$/)
        {
            $re .= '(?=.*"events_dropped":\{[^}]*"' . $c . '":' . $want{$c}
                   . '[,}])';
        } else {
            $re .= '(?=.*"' . $c . '":' . $want{$c} . '[,}])';
        }
    }

    return $re;
}

# the same values in Prometheus' text format
sub prometheus_re {
    my (%want) = @_;

    check_counters(\%want);

    my $re = '(?m)\A';

    for my $c (@Counters) {
        if ($c =~ /^(?:queue_full|retry_expired|shutdown|worker_died|memory)$/)
        {
            $re .= '(?=.*^nginx_mixpanel_events_dropped_total\{reason="'
                   . $c . '"\} ' . $want{$c} . '$)';
        } elsif ($c eq 'queue_depth') {
            $re .= '(?=.*^nginx_mixpanel_queue_depth ' . $want{$c} . '$)';
        } else {
            $re .= '(?=.*^nginx_mixpanel_' . $c . '_total ' . $want{$c}
                   . '$)';
        }
    }

    return $re;
}

# Expands a block's "steps" section: an array of steps, each
#
#   { req => "GET /t", hdr => "X-A: 1", code => 200, body => '^ok',
#     hdr_like => "Set-Cookie: ...", queued => N }
#
# (only req is required; body defaults to anything, code to 200) into the
# request, more_headers, error_code, response_body_like and
# response_headers_like arrays, with a settle request after each step that
# has "queued" and the sink at the end when there is a "sink" section.
sub use_steps {
    my (%o) = @_;

    main::add_block_preprocessor(sub {
        my $block = shift;

        $o{prepare}->($block) if $o{prepare};

        my $steps = $block->can("steps") ? $block->steps : undef;
        return unless $steps;

        my (@req, @hdr, @code, @body, @hlike);

        my $add = sub {
            my ($s) = @_;
            push @req, $s->{req};
            push @hdr, $s->{hdr} // "";
            push @code, $s->{code} // 200;
            push @body, $s->{body} // '.*';
            push @hlike, $s->{hdr_like} // "";
        };

        for my $s (@$steps) {
            $add->($s);

            if (defined $s->{queued}) {
                $add->({ req => "GET /settle?n=$s->{queued}",
                         body => "^settle $s->{queued}\n\\z" });
            }
        }

        my $sink = $block->can("sink") ? $block->sink : undef;
        my $sizes = $block->can("sink_sizes") ? $block->sink_sizes : undef;

        if (defined $sink || defined $sizes) {
            $add->({ req => "GET /sink", body => $sink // $sizes });
        }

        $block->set_value("request", \@req);
        $block->set_value("more_headers", \@hdr);
        $block->set_value("error_code", \@code);
        $block->set_value("response_body_like", \@body);
        $block->set_value("response_headers_like", \@hlike);

        if (defined $sink) {
            $block->set_value("response_body_filters", \&sink_filter);

        } elsif (defined $sizes) {
            $block->set_value("response_body_filters", \&sizes_filter);
        }
    });
}

1;
