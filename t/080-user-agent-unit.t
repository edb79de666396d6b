use Test::More;

# ngx_http_mixpanel_ua_parse() on its own: t/ua/ua_test.c and the parser
# are compiled against the headers of the configured nginx tree (nothing of
# nginx is linked) and run over t/ua/cases.txt, one test per case, plus
# the driver's built-in checks (NULL input, random inputs).
#
#   prove t/080-user-agent-unit.t
#
# TEST_NGINX_SRC names another configured nginx tree; CC another compiler.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);

my $root = abs_path(dirname(__FILE__) . '/..');
my $ngx = $ENV{TEST_NGINX_SRC} || "$root/build/nginx-src";
my $cases = "$root/t/ua/cases.txt";

plan skip_all => 'run make first'
    unless -f "$ngx/objs/ngx_auto_config.h";

my @incs = nginx_includes($ngx);
my $cc = $ENV{CC} || 'cc';
my $dir = tempdir(CLEANUP => 1);
my $bin = "$dir/ua_test";

my @cflags = (qw(-O2 -g -W -Wall -Wpointer-arith -Wno-unused-parameter
                 -Werror));
my @srcs = ("$root/t/ua/ua_test.c",
            "$root/ngx_mixpanel_module/ngx_http_mixpanel_ua.c");

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

done_testing();


sub compile {
    my @flags = @_;

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        open(STDOUT, '>', "$dir/cc.log") or exit 127;
        open(STDERR, '>&', \*STDOUT) or exit 127;
        exec($cc, @flags, @incs, '-o', $bin, @srcs) or exit 127;
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

    return ('-I', "$root/ngx_mixpanel_module"),
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
