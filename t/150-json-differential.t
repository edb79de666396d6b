# mixpanel_json_set against JavaScript: 300 generated JSON bodies, each
# read through 73 pointers (every path of one and two names over eight
# names that are object keys, array indexes, both or neither: "a", "0",
# "1", "01", "-", "", "a/b", "m~n"), and the whole document.  What each
# variable must hold is worked out here from the body as generated:
# strings decoded, numbers as JavaScript's String() writes them (node
# computes it), an integer as written while every integer of the body
# fits 64 bits, true/false, an array's scalar items joined with commas, an
# object, null or nothing found empty (docs/directives.md, mixpanel_json_set
# and mixpanel_jwt_claim_set; a real past the largest double is null, and
# makes every integer of its body a double, as an integer past 64 bits
# does).  The bodies are made by a generator of our
# own from a fixed seed, white space here and there: the same every run.
#
# A plain Test::More file: one nginx, one request per body, the values read
# from an access log written with escape=json.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use JSON::PP ();
use File::Temp ();
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib abs_path(dirname(__FILE__) . '/..');
use t::Mixpanel;
use t::Seeded;

plan skip_all => 'node is not installed (make test-deps)'
    unless grep { -x "$_/node" } split /:/, $ENV{PATH};

my $gen = t::Seeded->new(150);

sub rnd { return $gen->rnd(@_) }
sub pick { return $gen->pick(@_) }


# the names, and each as a pointer's segment (RFC 6901: ~0 and ~1)

my @NAMES = ("a", "0", "1", "01", "-", "", "a/b", "m~n");

sub segment {
    my ($name) = @_;
    (my $s = $name) =~ s/~/~0/g;
    $s =~ s{/}{~1}g;
    return $s;
}

my @POINTERS = ([]);

for my $n1 (@NAMES) {
    push @POINTERS, [$n1];
    push @POINTERS, [$n1, $_] for @NAMES;
}


# number tokens: integers (one past 64 bits makes every integer of its
# body a double), reals in every form, -0, and reals past the largest
# double (null)

my @INTEGERS = ("0", "-0", "7", "-42", "100", "1000000", "123456789012",
                "9007199254740993", "9223372036854775807",
                "-9223372036854775808");
my @BIG = ("9223372036854775808", "-9223372036854775809",
           "12345678901234567890");
my @REALS = ("1.5", "-0.0", "0.1", "1.0e3", "1E3", "2.5E+2", "1e21",
             "1e20", "1e-7", "1.5e-6", "0.000001", "5e-324",
             "1.7976931348623157e308", "123.456", "-1.25e25", "0.30000000000000004",
             "100.0", "4.35", "1e400", "-1E+400");

# string pieces: as written in JSON, and the bytes they stand for

my @STRINGS = (["x", "x"], ["id-7", "id-7"], ["", ""], [" ", " "],
               [",", ","], ["\\u00e9", "\xc3\xa9"], ["\xc3\xa9", "\xc3\xa9"],
               ["\\n", "\n"], ["\\t", "\t"], ["\\\"", "\""],
               ["\\\\", "\\"], ["\\/", "/"], ["\\ud83d\\ude00",
               "\xf0\x9f\x98\x80"], ["\xe2\x82\xac", "\xe2\x82\xac"],
               ["\\u0041", "A"], ["true", "true"]);

my ($overflows, $big);

sub scalar_value {
    my $kind = rnd(10);

    if ($kind < 3) {
        my ($text, $bytes) = ("", "");

        for (1 .. rnd(4)) {
            my $s = pick(@STRINGS);
            $text .= $s->[0];
            $bytes .= $s->[1];
        }

        return { t => 'str', json => "\"$text\"", bytes => $bytes };
    }

    if ($kind < 5) {
        my $tok = rnd(12) == 0 ? pick(@BIG) : pick(@INTEGERS);
        $big = 1 if grep { $_ eq $tok } @BIG;
        return { t => 'int', json => $tok };
    }

    if ($kind < 7) {
        my $tok = pick(@REALS);

        # a body with more than 16 such reals is invalid: at most 3 here;
        # one makes every integer of its body a double, as a big one does
        $tok = "2.5" if $tok =~ /e\+?400$/i && $overflows++ >= 3;
        $big = 1 if $tok =~ /e\+?400$/i;

        return { t => 'real', json => $tok };
    }

    return pick({ t => 'true', json => 'true' },
                { t => 'false', json => 'false' },
                { t => 'null', json => 'null' });
}

sub object {
    my ($depth, $least) = @_;
    my %seen;
    my @kv;

    while (@kv < $least + rnd(9 - $least)) {
        my $k = pick(@NAMES);
        next if $seen{$k}++;
        push @kv, [$k, value($depth + 1)];
    }

    return { t => 'obj', kv => \@kv };
}

sub value {
    my ($depth) = @_;
    my $kind = $depth >= 3 ? 9 : rnd(10);

    return object($depth, 1) if $kind < 3 + ($depth < 2);

    if ($kind < 6) {
        return { t => 'arr', items => [ map { value($depth + 1) }
                                        1 .. rnd(5) ] };
    }

    return scalar_value();
}

my $js = JSON::PP->new->utf8->canonical;

sub key_json {
    my ($k) = @_;
    return $js->encode([$k]) =~ s/^\[|\]$//gr;
}

# JSON's white space, now and then, around every token

sub ws { return pick("", "", "", "", " ", "\t", "\n", "\r\n", " \t") }

sub to_json {
    my ($v) = @_;

    return "{" . ws() . join(",", map { ws() . key_json($_->[0]) . ws() . ":"
                                        . ws() . to_json($_->[1]) . ws() }
                                  @{ $v->{kv} }) . "}"
        if $v->{t} eq 'obj';

    return "[" . ws() . join(",", map { ws() . to_json($_) . ws() }
                                  @{ $v->{items} }) . "]"
        if $v->{t} eq 'arr';

    return $v->{json};
}


# the bodies, each an object at the top (as an API's are) or now and then
# an array

my @DOCS;

for my $id (1 .. 300) {
    ($overflows, $big) = (0, 0);

    my $doc = rnd(6) == 0 ? { t => 'arr', items => [ map { value(1) }
                                                     1 .. 1 + rnd(4) ] }
                          : object(0, 3);

    push @DOCS, { id => $id, doc => $doc, json => to_json($doc),
                  big => $big };
}


# String() of every real (and of every integer of a body with a big one)

my %string_of;

{
    my @toks = (@REALS, @INTEGERS, @BIG);
    my $dir = File::Temp::tempdir(CLEANUP => 1);

    open my $fh, '>', "$dir/n.txt" or die $!;
    print $fh map { "$_\n" } @toks;
    close $fh;

    my @out = `node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\\n").filter(x => x.length)) console.log(String(Number(l)))' $dir/n.txt`;
    chomp @out;

    is(scalar @out, scalar @toks, "node wrote every number");

    @string_of{@toks} = @out;
}

sub number_text {
    my ($v, $big) = @_;
    my $s = $string_of{ $v->{json} };

    return "" if $s eq 'Infinity' || $s eq '-Infinity';

    if ($v->{t} eq 'int' && !$big) {
        return $v->{json} eq '-0' ? "0" : $v->{json};
    }

    return $s;
}

sub text {
    my ($v, $big, $depth) = @_;
    my $t = $v->{t};

    return $v->{bytes} if $t eq 'str';
    return number_text($v, $big) if $t eq 'int' || $t eq 'real';
    return $t if $t eq 'true' || $t eq 'false';

    if ($t eq 'arr' && $depth == 0) {
        return join ",", grep { length } map { text($_, $big, 1) }
                                         @{ $v->{items} };
    }

    return "";
}

sub lookup {
    my ($v, $path) = @_;

    for my $name (@$path) {
        return undef unless defined $v;

        if ($v->{t} eq 'obj') {
            my ($kv) = grep { $_->[0] eq $name } @{ $v->{kv} };
            $v = $kv ? $kv->[1] : undef;
            next;
        }

        return undef unless $v->{t} eq 'arr';
        return undef unless $name =~ /^(0|[1-9][0-9]*)$/;

        $v = $v->{items}[$name];
    }

    return $v;
}


# nginx: one variable per pointer, all written to one log line

my (@sets, @fields);

for my $i (0 .. $#POINTERS) {
    my $ptr = join "", map { "/" . segment($_) } @{ $POINTERS[$i] };
    push @sets, "    mixpanel_json_set \$jp$i request \"$ptr\";\n";
    push @fields, "\"\$jp$i\"";
}

my $format = '{"id":"$http_x_doc","v":[' . join(",", @fields) . ']}';

my $nginx = start_nginx(conf => <<"_EOC_");
worker_processes 1;
error_log logs/error.log info;

events {
    worker_connections 64;
}

http {
    access_log off;
@sets
    log_format jp escape=json '$format';

    server {
        listen 127.0.0.1:%PORT%;

        location = /in {
            access_log logs/jp.log jp;
            proxy_pass http://127.0.0.1:%PORT%/backend;
        }

        location = /backend {
            return 200 "ok\\n";
        }

        location = /ready {
            return 200 "ok\\n";
        }
    }
}
_EOC_

ok(wait_until(10, sub { (request($nginx, "GET", "/ready") // '') =~ / 200 / }),
   "nginx answers");

my $answered = 0;

for my $d (@DOCS) {
    $answered++
        if (request($nginx, "POST", "/in", $d->{json}, $d->{id}) // '')
           =~ / 200 /;
}

is($answered, scalar @DOCS, "every request was answered");

ok(stop_nginx($nginx), "nginx quits");

my %got;

if (open my $log, '<', "$nginx->{prefix}/logs/jp.log") {
    while (my $line = <$log>) {
        my $entry = JSON::PP->new->decode($line);
        $got{ $entry->{id} } = $entry->{v};
    }
}

is(scalar keys %got, scalar @DOCS, "one log line for each body");

my ($total, $equal, $nonempty) = (0, 0, 0);

for my $d (@DOCS) {
    my $values = $got{ $d->{id} } // [];

    for my $i (0 .. $#POINTERS) {
        my $found = lookup($d->{doc}, $POINTERS[$i]);
        my $want = defined $found ? text($found, $d->{big}, 0) : "";
        my $have = $values->[$i] // "(no value)";

        $total++;
        $nonempty++ if length $want;

        if ($have eq $want) {
            $equal++;
            next;
        }

        diag(sprintf "body %d, pointer %s: want %s, have %s\n  body %s",
             $d->{id}, join("", map { "/" . segment($_) } @{ $POINTERS[$i] }),
             $js->encode([$want]), $js->encode([$have]), $d->{json});
    }
}

note("$equal of $total values equal, $nonempty of them not empty");

cmp_ok($nonempty, '>=', 1000, "a thousand of the values are not empty");

is($equal, $total, "every value equals what JavaScript gives");

done_testing();


sub request {
    my ($nginx, $method, $target, $body, $id) = @_;

    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
                                     PeerPort => $nginx->{port},
                                     Timeout => 10)
        or return undef;

    my $req = "$method $target HTTP/1.0\r\nHost: json.example\r\n";

    if (defined $body) {
        $req .= "Content-Type: application/json\r\nX-Doc: $id\r\n"
                . "Content-Length: " . length($body) . "\r\n";
    }

    print $sock "$req\r\n" . ($body // "");

    local $/;
    my $res = <$sock>;
    close $sock;

    return $res;
}
