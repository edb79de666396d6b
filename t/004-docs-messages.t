# Every message docs/troubleshooting.md quotes is one the code prints.
#
# The quoted messages are those between "<!-- messages -->" and
# "<!-- /messages -->": in a table, the backquoted text of each row's first
# cell; in other lines, all backquoted text; in an indented code block, a
# line "nginx: [level] MESSAGE in FILE:LINE".
#
# In a quoted message, "..." and "<text>" stand for any text, and the
# placeholders X, N, M, T, F, S, L, DIR, URL for a value (no quote, no
# space); an errno suffix "(2: No such file or directory)" is nginx's.
# The rest must match one message of the module's C sources (adjacent
# string literals joined, nginx's ngx_*_n macros expanded, each printf
# conversion standing for a value: a placeholder, or text of up to two
# spaces; most of the quoted text is the C text), or one of nginx's own
# (the strings of the nginx binary, and "NAME" directive followed by a
# string a directive handler returns), from its start or from within it:
# the "mixpanel: " prefix and nginx's context may be left out.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);

my $repo = abs_path("$FindBin::Bin/..");
# the nginx binary itself, not tools/nginx-tee-stderr (make test-asan)
my $nginx = $ENV{NGINX_TEE_BINARY} || $ENV{TEST_NGINX_BINARY}
            || '/usr/sbin/nginx';

sub slurp {
    my ($path) = @_;
    open my $f, '<', $path or die "$path: $!";
    local $/;
    return <$f>;
}

# -- messages as patterns: characters, undef (any text), \"value" --------

my $WILD = undef;

sub c_pattern {
    my ($s) = @_;
    my @p;

    while (length $s) {
        if ($s =~ s/^%%//) {
            push @p, '%';
        } elsif ($s =~ s/^%[-+0-9.*]*(?:[xX]?u?[xX]?[ADdiLlMNOPpTVvzsrcf])//) {
            push @p, $WILD unless @p && !defined $p[-1];
        } else {
            push @p, substr($s, 0, 1, "");
        }
    }

    return \@p;
}

sub doc_pattern {
    my ($s) = @_;
    my @p;

    $s =~ s/\s*\(\d+: [^)]*\)//g;

    while (length $s) {
        if ($s =~ s/^(?:\.\.\.|<[^>]*>)//) {
            push @p, $WILD unless @p && !defined $p[-1];
        } elsif ($s =~ s/^\b(?:X|N|M|T|F|S|L|DIR|URL)\b//) {
            push @p, \"value";
        } else {
            push @p, substr($s, 0, 1, "");
        }
    }

    return \@p;
}

# Does some text match the doc pattern and sit inside a text of the C one?
# A C conversion stands for a value: it may take up to two spaces of the
# doc's text (" on exit", "is corrupt"), not a phrase; and most of the
# doc's own text (55%) must be the C message's text, not values.
my $SPACES = 2;
my $SHARE = 0.55;

sub matches {
    my ($d, $c) = @_;
    my ($nd, $nc) = (scalar @$d, scalar @$c);
    my $literal = grep { defined && !ref } @$d;

    # $cur[$j][$k]: doc position $i reached with C position $j, $k spaces
    # taken by the conversion at $j: the most doc characters matched by C
    # characters so far; any start in C
    my @cur = map { [ 0, undef, undef ] } 0 .. $nc;

    my $set = sub {
        my ($row, $j, $k, $m) = @_;
        $row->[$j][$k] = $m
            if !defined $row->[$j][$k] || $row->[$j][$k] < $m;
    };

    for my $i (0 .. $nd) {
        # within row $i: a C conversion may match nothing; a doc wildcard
        # may take any C item
        for my $j (0 .. $nc - 1) {
            for my $k (0 .. $SPACES) {
                my $m = $cur[$j][$k];
                next unless defined $m;
                my $dc = $i < $nd ? $d->[$i] : '';
                if (!defined $c->[$j] || !defined $dc
                    || (ref $dc && $c->[$j] !~ /^["\s]$/))
                {
                    $set->(\@cur, $j + 1, 0, $m);
                }
            }
        }

        my $best;
        for my $j (0 .. $nc) {
            for my $m (grep { defined } @{ $cur[$j] }) {
                $best = $m if !defined $best || $m > $best;
            }
        }

        return 0 unless defined $best;
        return $best >= $SHARE * $literal if $i == $nd;

        my @next = map { [ undef, undef, undef ] } 0 .. $nc;
        my $dc = $d->[$i];

        for my $j (0 .. $nc) {
            for my $k (0 .. $SPACES) {
                my $m = $cur[$j][$k];
                next unless defined $m;

                if (!defined $dc || ref $dc) {
                    $set->(\@next, $j, $k, $m);   # the doc wildcard ends
                    next;
                }

                next if $j == $nc;

                if (!defined $c->[$j]) {
                    my $k2 = $k + ($dc eq ' ' ? 1 : 0);
                    $set->(\@next, $j, $k2, $m) if $k2 <= $SPACES;

                } elsif ($c->[$j] eq $dc) {
                    $set->(\@next, $j + 1, 0, $m + 1);
                }
            }
        }

        @cur = @next;
    }

    return 0;
}

# -- what the code prints -------------------------------------------------

my %macro = (
    ngx_open_file_n => "open()", ngx_close_file_n => "close()",
    ngx_fd_info_n => "fstat()", ngx_file_info_n => "stat()",
    ngx_read_fd_n => "read()", ngx_write_fd_n => "write()",
    ngx_read_file_n => "read()", ngx_write_file_n => "write()",
    ngx_rename_file_n => "rename()", ngx_delete_file_n => "unlink()",
    ngx_create_dir_n => "mkdir()", ngx_open_dir_n => "opendir()",
    ngx_close_dir_n => "closedir()", ngx_read_dir_n => "readdir()",
);

for my $h (glob "/usr/share/nginx/src/src/os/unix/*.h") {
    my $t = slurp($h);
    $macro{$1} = $2 while $t =~ /^#define\s+(ngx_\w+_n)\s+"([^"]*)"/mg;
}

my $lit = qr/"(?:[^"\\\n]|\\.)*"/;
my (@messages, @returned);

for my $file (glob "$repo/ngx_mixpanel_module/*.[ch]") {
    my $c = slurp($file);
    $c =~ s{/\*.*?\*/}{ }gs;

    my $macros = join "|", map { quotemeta } keys %macro;

    while ($c =~ /((?:(?:$lit|\b(?:$macros)\b)\s*)*$lit)/g) {
        my $m = $1;
        my $s = "";
        while ($m =~ /($lit)|\b(\w+)\b/g) {
            $s .= defined $1 ? unescape(substr($1, 1, -1)) : $macro{$2};
        }
        push @messages, $s;
    }

    while ($c =~ /\breturn\s+((?:$lit\s*)+);/g) {
        my $m = $1;
        my $s = "";
        $s .= unescape(substr($1, 1, -1)) while $m =~ /($lit)/g;
        push @returned, $s;
    }
}

sub unescape {
    my ($s) = @_;
    $s =~ s/\\(["\\'])/$1/g;
    $s =~ s/\\n/\n/g;
    $s =~ s/\\t/\t/g;
    return $s;
}

cmp_ok(scalar @messages, '>', 200, "the module's messages were read");

# nginx's own, from its binary: "unknown directive", "the duplicate ...
# variable", "directive is not allowed here", ...
my @nginx;

if (open my $b, '<:raw', $nginx) {
    local $/;
    my $bin = <$b>;
    @nginx = grep { $_ ne '"%s" directive %s' } $bin =~ /([\x20-\x7e]{8,})/g;
}

ok(scalar @nginx, "nginx's messages were read from $nginx");

# a directive handler's returned string follows "NAME" directive
push @nginx, map { "\"%s\" directive $_" }
             @returned, "is duplicate", "invalid value";

my @c = map { [ $_, c_pattern($_) ] } @messages, @nginx;

sub printed {
    my ($msg) = @_;
    my $d = doc_pattern($msg);

    # the C messages worth the full match: those with half its words
    my $literal = join "", map { defined $_ && !ref $_ ? $_ : " " } @$d;
    my %words = map { $_ => 1 } $literal =~ /(\w{4,})/g;
    my $need = int((keys(%words) + 1) / 2);

    return scalar grep {
        my $c = $_->[0];
        (grep { index($c, $_) >= 0 } keys %words) >= $need
        && matches($d, $_->[1])
    } @c;
}

# the matcher itself: these are printed, those are not
for my $m ('"URL" answered 503, will retry',
           'invalid parameter "number" of "mixpanel_property", expected '
           . '"type=number"',
           '"mixpanel_token" directive is duplicate',
           'unknown directive "mixpanel..."',
           'open() "F" failed (2: No such file or directory)')
{
    ok(printed($m), "the matcher finds `$m`");
}

for my $m ('"mixpanel" directive ... invalid parameter "X"',
           'invalid parameter "X" of "mixpanel_property", expected '
           . 'a type',
           'answered 503, will not retry',
           'no such message in the code')
{
    ok(!printed($m), "the matcher does not find `$m`");
}

# -- what troubleshooting.md quotes ---------------------------------------

my @quoted;
my $in = 0;
my $n = 0;

for my $l (split /\n/, slurp("$repo/docs/troubleshooting.md")) {
    $n++;

    if ($l =~ /^<!-- messages -->/) {
        $in = 1;
        next;
    }

    if ($l =~ /^<!-- \/messages -->/) {
        $in = 0;
        next;
    }

    next unless $in;

    if ($l =~ /^\s*nginx: \[\w+\] (.*?) in \S+:\d+\s*$/) {
        push @quoted, [ $n, $1 ];
        next;
    }

    my $text = $l;

    if ($l =~ /^\|/) {
        if ($l =~ /^\|\s*-/) {
            next;
        }

        my @cells = split /(?<!\\)\|/, $l;
        $text = $cells[1];
    }

    while ($text =~ /`([^`]+)`/g) {
        (my $m = $1) =~ s/\\\|/|/g;
        $m =~ s/^\[\w+\]\s+//;
        push @quoted, [ $n, $m ];
    }
}

cmp_ok(scalar @quoted, '>', 60, "troubleshooting.md's messages were read");

for my $q (@quoted) {
    my ($line, $msg) = @$q;
    ok(printed($msg),
       "troubleshooting.md:$line: `$msg` is printed by the code");
}

done_testing();
