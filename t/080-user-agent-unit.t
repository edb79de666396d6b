use Test::More;

# ngx_http_mixpanel_ua_parse() on its own: t/ua/ua_test.c and the parser
# (with its cache, nothing of nginx: nginx-dev has no sources) are
# compiled against the headers of the configured nginx tree and run over
# t/ua/cases.txt, one test per case, plus the driver's built-in checks
# (NULL input, random inputs).
#
# With node and mixpanel-browser (tools/install-mixpanel-browser; make
# test installs both), the parser's results for every User-Agent of
# t/ua/cases.txt and t/parity/user-agents.txt are also compared with what
# the SDK computes (t/parity/sdk.js): $browser, $browser_version, $os,
# $device, and whether _.isBlockedUA() drops it (mixpanel_track_bots).
#
#   prove t/080-user-agent-unit.t
#
# TEST_NGINX_SRC names another configured nginx tree; CC another compiler;
# TEST_MIXPANEL_CFLAGS more compiler flags (make test-asan: the
# sanitizers); TEST_MIXPANEL_MODULE_SRC another copy of
# ngx_mixpanel_module/ (that of a mutant: tools/mutate sets it).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use JSON::PP ();

my $root = abs_path(dirname(__FILE__) . '/..');
my $ngx = $ENV{TEST_NGINX_SRC} || "$root/build/nginx-src";
my $module_src = $ENV{TEST_MIXPANEL_MODULE_SRC} || "$root/ngx_mixpanel_module";
my $cases = "$root/t/ua/cases.txt";

plan skip_all => 'run make first'
    unless -f "$ngx/objs/ngx_auto_config.h";

my @incs = nginx_includes($ngx);
my $cc = $ENV{CC} || 'cc';
my @extra = split ' ', ($ENV{TEST_MIXPANEL_CFLAGS} // '');
my $dir = tempdir(CLEANUP => 1);
my $bin = "$dir/ua_test";

my @cflags = (qw(-O2 -g -W -Wall -Wpointer-arith -Wno-unused-parameter
                 -Werror));
my @srcs = ("$root/t/ua/ua_test.c",
            "$module_src/ngx_http_mixpanel_ua.c",
            "$module_src/ngx_http_mixpanel_cache.c",
            "$module_src/ngx_http_mixpanel_number.c");

# under AddressSanitizer when the compiler has it: a read past the input
# then fails the run instead of passing by luck

my @asan = ('-fsanitize=address,undefined', '-fno-omit-frame-pointer',
            '-fno-sanitize-recover=all');
my $sanitized = compile(@cflags, @asan) == 0 && runs();

if (!$sanitized) {
    compile(@cflags) == 0
        or BAIL_OUT("cannot compile ua_test.c:\n" . slurp("$dir/cc.log"));
}

note($sanitized ? 'built with ASan and UBSan' : 'built without sanitizers');

my $expected = count_cases($cases);

$ENV{ASAN_OPTIONS} = 'detect_leaks=0';

open(my $run, '-|', $bin, $cases) or die "cannot run $bin: $!";

my ($seen, $reported) = (0, undef);

while (my $line = <$run>) {
    chomp $line;

    if ($line =~ /^cases\t(\d+)$/) {
        $reported = $1;
        next;
    }

    my ($status, $desc, $err) = split /\t/, $line, 3;

    if (!defined $desc || $status !~ /^(?:ok|not ok)$/) {
        fail("unexpected output: $line");
        next;
    }

    $seen++ if $desc =~ /^line \d+:/;

    ok($status eq 'ok', $desc) or diag($err // '');
}

close($run);

is($? >> 8, 0, 'ua_test exits 0 (no failure, no sanitizer report)');
is($reported, $expected, "the driver read all $expected cases");
is($seen, $expected, 'each case was reported');

sdk_parity();
markers_covered();

done_testing();


# Every marker of the parser's table is in some case, and one matched in
# any case (ngx_ua_pi) also in another case than the table's: a marker no
# User-Agent has can be lost, or made case-sensitive, and pass.

sub markers_covered {
    my $src = slurp("$module_src/ngx_http_mixpanel_ua.c");
    my @uas = map { unescape((split /\t/, $_, 2)[0]) } lines($cases);

    for my $line (lines("$root/t/parity/user-agents.txt")) {
        push @uas, (split /\t/, $line, 2)[1];
    }

    my @missing;
    my $n = 0;

    while ($src =~ /^\s*ngx_ua_p(i?v?)\("((?:[^"\\]|\\.)*)",/mg) {
        my ($kind, $m) = ($1, $2);
        $m =~ s/\\(.)/$1/g;
        $n++;

        my @in = grep { index(lc $_, lc $m) >= 0 } @uas;

        if (!@in) {
            push @missing, "$m: in no User-Agent";

        } elsif ($kind =~ /i/ && !grep { index($_, $m) < 0 } @in) {
            push @missing, "$m: only as the table writes it";
        }
    }

    cmp_ok($n, '>', 60, "the parser's markers read ($n)");
    is(join("\n", @missing), "",
       "each marker in a User-Agent, each of any case in another case too");
}


# the parser against mixpanel-browser itself, User-Agent by User-Agent

sub sdk_parity {
    if (!grep { -x "$_/node" } split /:/, $ENV{PATH}) {
        note('node is not installed: not compared with mixpanel-browser');
        return;
    }

    if (system("$root/tools/install-mixpanel-browser") != 0) {
        fail('mixpanel-browser is installed (tools/install-mixpanel-browser)');
        return;
    }

    # the User-Agents, escaped as in cases.txt

    my @uas;

    for my $line (lines($cases)) {
        push @uas, (split /\t/, $line, 2)[0];
    }

    for my $line (lines("$root/t/parity/user-agents.txt")) {
        my $ua = (split /\t/, $line, 2)[1];
        $ua =~ s/\\/\\\\/g;
        push @uas, $ua;
    }

    open(my $list, '>', "$dir/uas.txt") or die $!;
    print $list "$_\n" for @uas;
    close($list);

    open(my $json, '>', "$dir/uas.jsonl") or die $!;

    for my $i (0 .. $#uas) {
        print $json JSON::PP->new->ascii->encode({
            id => $i, ua => unescape($uas[$i]), url => "http://localhost/",
            referrer => "", navigation => JSON::PP::true }), "\n";
    }

    close($json);

    my @module = map { chomp; [split /\t/] }
                 qx($bin --dump $dir/uas.txt);
    is($? >> 8, 0, 'ua_test --dump exits 0');

    my @sdk;

    for (qx(node $root/t/parity/sdk.js < $dir/uas.jsonl)) {
        my $e = JSON::PP->new->decode($_);

        # the version as the SDK writes it, which decoding would lose:
        # the same double can be written in more than one way

        ($e->{version_text}) = /"\$browser_version":([^,}]+)/;
        undef $e->{version_text}
            if defined $e->{version_text} && $e->{version_text} eq 'null';
        $sdk[$e->{id}] = $e;
    }

    is($? >> 8, 0, 't/parity/sdk.js exits 0');

    is(scalar @module, scalar @uas, 'the parser read every User-Agent');
    is(scalar(grep { defined } @sdk), scalar @uas,
       'the SDK read every User-Agent');

    my ($equal, $total) = (0, 0);

    for my $i (0 .. $#uas) {
        my $f = $sdk[$i]{fields};
        my @want = ($f->{'$browser'}, $sdk[$i]{version_text}, $f->{'$os'},
                    $f->{'$device'}, $sdk[$i]{blocked} ? 'bot' : undef);
        my @have = map { !defined $_ || $_ eq '-' ? undef : $_ }
                   @{ $module[$i] // [] }[0 .. 4];

        for my $k (0 .. 4) {
            my ($w, $h) = ($want[$k], $have[$k]);

            my $same = (!defined $w && !defined $h)
                       || (defined $w && defined $h && $w eq $h);

            $total++;

            if ($same) {
                $equal++;
                next;
            }

            diag(sprintf "%s: SDK %s, parser %s\n  %s",
                 (qw(browser version os device bot))[$k], $w // '(none)',
                 $h // '(none)', substr($uas[$i], 0, 200));
        }
    }

    note("parser parity: $equal of $total values equal ("
         . scalar(@uas) . " User-Agents)");

    is($equal, $total, 'the parser computes what mixpanel-browser does');
}


sub lines {
    my ($file) = @_;

    open(my $fh, '<', $file) or die "$file: $!";

    return grep { !/^#/ && !/^\r?$/ } map { chomp; $_ } <$fh>;
}


# the escapes of cases.txt, as ua_test.c reads them

sub unescape {
    my ($s) = @_;
    my $out = '';

    while (length $s) {
        if ($s =~ s/^\\R\{(\d+)\}\{([^}]*)\}//) {
            $out .= unescape($2) x $1;

        } elsif ($s =~ s/^\\x([0-9a-fA-F]{2})//) {
            $out .= chr(hex($1));

        } elsif ($s =~ s/^\\([\\trn0])//) {
            $out .= { '\\' => '\\', t => "\t", r => "\r", n => "\n",
                      0 => "\0" }->{$1};

        } else {
            $s =~ s/^(.)//s;
            $out .= $1;
        }
    }

    return $out;
}


sub compile {
    my @flags = @_;

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        open(STDOUT, '>', "$dir/cc.log") or exit 127;
        open(STDERR, '>&', \*STDOUT) or exit 127;
        exec($cc, @extra, @flags, @incs, '-o', $bin, @srcs) or exit 127;
    }

    waitpid($pid, 0);

    return $?;
}


# the include path nginx built with, else the usual directories

sub nginx_includes {
    my ($src) = @_;

    my @dirs;

    if (open(my $mk, '<', "$src/objs/Makefile")) {
        my $text = do { local $/; <$mk> };

        if ($text =~ /^ALL_INCS\s*=\s*((?:.*\\\n)*.*)$/m) {
            (my $list = $1) =~ s/\\\n/ /g;
            @dirs = $list =~ /-I\s*(\S+)/g;
        }
    }

    @dirs = (qw(src/core src/event src/event/modules src/os/unix objs
                src/http src/http/modules src/http/v2))
        unless @dirs;

    # ours first: the tree may have been configured with another checkout

    return ('-I', $module_src),
           map { ('-I', m{^/} ? $_ : "$src/$_") } @dirs;
}


# a sanitized binary that cannot start (no shadow memory in some
# containers) is rebuilt without

sub runs {
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        open(STDOUT, '>', '/dev/null') or exit 127;
        open(STDERR, '>&', \*STDOUT) or exit 127;
        exec($bin) or exit 127;
    }

    waitpid($pid, 0);

    return ($? >> 8) == 2;
}


sub count_cases {
    my ($file) = @_;

    open(my $fh, '<', $file) or die "$file: $!";

    return scalar grep { !/^#/ && !/^\r?$/ } <$fh>;
}


sub slurp {
    my ($file) = @_;

    open(my $fh, '<', $file) or return '';
    local $/;

    return <$fh>;
}
