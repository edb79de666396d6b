# Event property strings against their rule (SPEC section 6,
# docs/properties.md): 400 generated header values (ASCII runs, bytes JSON
# escapes, valid UTF-8 of every length, invalid sequences of every kind,
# lengths around Mixpanel's 255 bytes) sent through
# `mixpanel_property v $http_x_v`.  What the event must carry is worked out
# here: each invalid byte one U+FFFD, everything else kept, cut to 255
# bytes of UTF-8 on a character boundary, an empty value left out.  The
# JSON the module writes is decoded and compared with that, so that any
# valid escaping passes and nothing else does.  The values are made by a
# generator of our own from a fixed seed: the same every run.
#
# A plain Test::More file: one nginx, one request per value, the events
# read from its file: sink.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use JSON::PP ();
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib abs_path(dirname(__FILE__) . '/..');
use t::Mixpanel;
use t::Seeded;

my $gen = t::Seeded->new(151);

sub rnd { return $gen->rnd(@_) }
sub pick { return $gen->pick(@_) }


# pieces: no NUL, CR or LF (no header carries them), no space at either
# end of a value (nginx trims those)

my @VALID = ("a", "Z", "~", "\"", "\\", "/", "\t", "\x01", "\x08", "\x0c",
             "\x1f", "\x7f", "\xc2\x80", "\xc3\xa9", "\xdf\xbf",
             "\xe0\xa0\x80", "\xe2\x82\xac", "\xed\x9f\xbf", "\xee\x80\x80",
             "\xef\xbf\xbd", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
             "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf");
my @INVALID = ("\x80", "\xbf", "\xc0\xaf", "\xc1\xbf", "\xc3", "\xe2\x82",
               "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xed\xa0\x80",
               "\xed\xbf\xbf", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
               "\xf5\x80\x80\x80", "\xf0\x9f\x98", "\xf8\x88\x80\x80\x80",
               "\xfe", "\xff", "\xc3\x28", "\xe2\x28\xa1");

sub value {
    my $v = "";
    my $kind = rnd(4);

    return "" if rnd(40) == 0;

    # a quarter of them near 255 bytes: a run of ASCII first; a quarter
    # with the next piece at the very edge (a byte of it at 251 to 255)
    $v = "b" x (230 + rnd(30)) if $kind == 0;
    $v = "c" x (250 + rnd(5)) if $kind == 1;

    for (1 .. 1 + rnd($kind <= 1 ? 8 : 24)) {
        my $r = rnd(10);

        $v .= $r < 3 ? "x" x rnd(20)
              : $r < 7 ? pick(@VALID)
              : pick(@INVALID);
    }

    $v =~ s/^ +| +$//g;

    return $v;
}


# the rule: a valid sequence is kept (RFC 3629: shortest form, no
# surrogates, up to U+10FFFF), any other byte is one U+FFFD

sub repaired {
    my ($bytes) = @_;
    my @chars;
    my $i = 0;
    my $n = length $bytes;

    while ($i < $n) {
        my $c = ord substr($bytes, $i, 1);
        my ($len, $min, $cp);

        if ($c < 0x80) { push @chars, chr $c; $i++; next }

        if ($c >= 0xc2 && $c <= 0xdf) { ($len, $min, $cp) = (2, 0x80, $c & 0x1f) }
        elsif ($c >= 0xe0 && $c <= 0xef) { ($len, $min, $cp) = (3, 0x800, $c & 0x0f) }
        elsif ($c >= 0xf0 && $c <= 0xf4) { ($len, $min, $cp) = (4, 0x10000, $c & 0x07) }

        my $ok = defined $len && $i + $len <= $n;

        for my $k (1 .. ($ok ? $len - 1 : 0)) {
            my $cc = ord substr($bytes, $i + $k, 1);

            if (($cc & 0xc0) != 0x80) {
                $ok = 0;
                last;
            }

            $cp = ($cp << 6) | ($cc & 0x3f);
        }

        $ok = 0 if $ok && ($cp < $min || $cp > 0x10ffff
                           || ($cp >= 0xd800 && $cp <= 0xdfff));

        if ($ok) {
            push @chars, chr $cp;
            $i += $len;

        } else {
            push @chars, "\x{fffd}";
            $i++;
        }
    }

    my ($out, $size) = ("", 0);

    for my $ch (@chars) {
        my $u = $ch;
        utf8::encode($u);
        last if $size + length($u) > 255;
        $size += length $u;
        $out .= $ch;
    }

    return $out;
}


my @VALUES = map { value() } 1 .. 400;

my $nginx = start_nginx(conf => <<'_EOC_');
worker_processes 1;
error_log logs/error.log warn;

events {
    worker_connections 64;
}

http {
    access_log off;

    mixpanel_api file:%PREFIX%/logs/events.jsonl;
    mixpanel_token tok-strings;
    mixpanel_flush_interval 100ms;
    mixpanel_ip off;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;

    server {
        listen 127.0.0.1:%PORT%;

        location / {
            mixpanel track;
            mixpanel_property case $http_x_case;
            mixpanel_property v $http_x_v;
            return 200 "ok\n";
        }

        location = /ready {
            return 200 "ok\n";
        }
    }
}
_EOC_

ok(wait_until(10, sub { (request($nginx, {}) // '') =~ / 200 / }),
   "nginx answers");

my $answered = 0;

for my $i (0 .. $#VALUES) {
    $answered++
        if (request($nginx, { "X-Case" => $i, "X-V" => $VALUES[$i] }) // '')
           =~ / 200 /;
}

is($answered, scalar @VALUES, "every request was answered");

ok(stop_nginx($nginx), "nginx quits, the sender writes what it holds");

my (%got, $lines, $raw_controls);

if (open my $sink, '<', "$nginx->{prefix}/logs/events.jsonl") {
    while (my $line = <$sink>) {
        $lines++;
        $raw_controls++ if $line =~ /[\x00-\x1f]/ && $line !~ /\n\z/
                           || $line =~ /[\x00-\x09\x0b-\x1f]/;

        my $call = JSON::PP->new->utf8->decode($line);

        for my $event (@{ $call->{body} }) {
            my $id = $event->{properties}{case} // next;
            $got{$id} = $event->{properties};
        }
    }
}

ok($lines, "the sink has the events");
ok(!$raw_controls, "no control character is written unescaped");
is(scalar keys %got, scalar @VALUES, "one event for each request");

my ($equal, $cut, $fixed, $left_out) = (0, 0, 0, 0);

for my $i (0 .. $#VALUES) {
    my $want = repaired($VALUES[$i]);
    my $props = $got{$i} // {};
    my $have = $props->{v};

    $cut++ if length($VALUES[$i]) > 255;
    $fixed++ if $want =~ /\x{fffd}/;

    if ($want eq "") {
        $left_out++;
        $equal++ if !exists $props->{v};
        diag("value $i: left out expected, have " . JSON::PP->new->ascii
             ->allow_nonref->encode($have)) if exists $props->{v};
        next;
    }

    if (defined $have && $have eq $want) {
        $equal++;
        next;
    }

    my $js = JSON::PP->new->ascii->allow_nonref;
    diag(sprintf "value %d: want %s\n  have %s\n  sent %s", $i,
         $js->encode($want), $js->encode($have),
         join(" ", map { sprintf "%02x", ord } split //, $VALUES[$i]));
}

note("$equal of " . scalar(@VALUES) . " equal; $cut longer than 255 bytes,"
     . " $fixed with U+FFFD, $left_out empty");

cmp_ok($cut, '>=', 50, "at least 50 values are cut");
cmp_ok($fixed, '>=', 100, "at least 100 values have invalid bytes");

is($equal, scalar @VALUES, "every value is the rule's");

done_testing();


sub request {
    my ($nginx, $headers) = @_;

    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
                                     PeerPort => $nginx->{port},
                                     Timeout => 10)
        or return undef;

    my $req = (%$headers ? "GET /t" : "GET /ready")
              . " HTTP/1.0\r\nHost: strings.example\r\n";
    $req .= "$_: $headers->{$_}\r\n" for sort keys %$headers;

    print $sock "$req\r\n";

    local $/;
    my $res = <$sock>;
    close $sock;

    return $res;
}
