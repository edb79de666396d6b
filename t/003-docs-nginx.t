# Every ```nginx block of README.md and docs/*.md passes "nginx -t" with
# the module loaded, as a reader would paste it.
#
# A block with "events", or "load_module" and "http", at its top level is
# a complete configuration and is tested as written.  Any other block is a
# fragment: "load_module" lines alone are the main context's,
# "http { ... }" gives the content of the http block, top-level "server"
# blocks make an http-level fragment, top-level "location" blocks a
# server-level one, and directives alone go where nginx accepts them all
# (http, then server, then location).  A fragment is wrapped in what a
# reader already has, declared once: a block of the same file holding a
# line "..." is that file's frame (recipes.md: "the snippets leave out
# what every setup has"), otherwise the default frame below, each of whose
# parts is left out when the block declares it itself (a block's
# mixpanel_token, mixpanel_api or mixpanel_identity replaces the frame's).
#
# A framed file's blocks are meant to be combined: no variable or upstream
# may be defined by two of them (nginx would stop at the second).
#
# Absolute paths of files the configuration opens (/etc/nginx/jwks.json,
# file: sinks, the spool) are moved under a temporary root, where the key
# files of t/data wait.  A "[warn]" fails a block unless a comment of the
# block says "nginx -t warns".  A block opts out only with the line
# "<!-- nginx-t: skip: REASON -->" right before its fence.

use strict;
use warnings;

use Test::More;
use FindBin;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use Cwd qw(abs_path);

my $repo = abs_path("$FindBin::Bin/..");
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                          || "$repo/build/ngx_http_mixpanel_module.so");

plan skip_all => "no nginx binary $nginx" unless -x $nginx;
plan skip_all => "no module @modules" unless -f $modules[0];

sub slurp {
    my ($path) = @_;
    open my $f, '<', $path or die "$path: $!";
    local $/;
    return <$f>;
}

# -- the blocks -----------------------------------------------------------

sub blocks_of {
    my ($file) = @_;
    my @lines = split /\n/, slurp($file), -1;
    my (@blocks, $cur, $prev);

    for my $i (0 .. $#lines) {
        my $l = $lines[$i];

        if ($cur) {
            if ($l =~ /^\s*```\s*$/) {
                push @blocks, $cur;
                undef $cur;
            } else {
                $cur->{text} .= "$l\n";
            }

        } elsif ($l =~ /^\s*```nginx\s*$/) {
            $cur = { file => $file =~ s{^\Q$repo\E/}{}r, line => $i + 1,
                     text => "" };
            if (defined $prev
                && $prev =~ /^<!-- nginx-t: skip:\s*(.*?)\s*-->\s*$/)
            {
                $cur->{skip} = $1;
            }
        }

        $prev = $l if $l =~ /\S/;
    }

    die "$file: unclosed ```nginx block\n" if $cur;

    return @blocks;
}

# -- a small nginx configuration parser -----------------------------------

# statements: { name, args, start, end, body => [statements],
#               body_start, body_end } with character offsets

sub parse {
    my ($text) = @_;
    my @tok;

    while ($text =~ /\G(?:\s+|\#[^\n]*
                       |("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
                       |([{};])
                       |([^\s{};"'#][^\s{};]*))/gcx)
    {
        my $end = pos($text);
        if (defined $1) {
            push @tok, [ 'w', substr($1, 1, -1), $end - length $1, $end ];
        } elsif (defined $2) {
            push @tok, [ $2, $2, $end - 1, $end ];
        } elsif (defined $3) {
            push @tok, [ 'w', $3, $end - length $3, $end ];
        }
    }

    die "cannot tokenize near: " . substr($text, pos($text) // 0, 40) . "\n"
        if (pos($text) // 0) != length $text;

    my $i = 0;
    my $list = parse_list(\@tok, \$i, $text);
    die "unbalanced \"}\"\n" if $i < @tok;
    return $list;
}

sub parse_list {
    my ($tok, $i, $text) = @_;
    my @list;

    while ($$i < @$tok) {
        my $t = $tok->[$$i];
        return \@list if $t->[0] eq '}';

        my %st = (start => $t->[2], args => []);
        die "a statement starts with \"$t->[1]\"\n" if $t->[0] ne 'w';
        $st{name} = $t->[1];
        $$i++;

        while ($$i < @$tok && $tok->[$$i][0] eq 'w') {
            push @{ $st{args} }, $tok->[$$i][1];
            $$i++;
        }

        die "\"$st{name}\" is not terminated\n" if $$i >= @$tok;
        $t = $tok->[$$i++];

        if ($t->[0] eq '{') {
            $st{body_start} = $t->[3];
            $st{body} = parse_list($tok, $i, $text);
            die "\"$st{name}\" block is not closed\n"
                if $$i >= @$tok || $tok->[$$i][0] ne '}';
            $st{body_end} = $tok->[$$i][2];
            $st{end} = $tok->[$$i][3];
            $$i++;
        } elsif ($t->[0] eq ';') {
            $st{end} = $t->[3];
        } else {
            die "unexpected \"$t->[1]\" after \"$st{name}\"\n";
        }

        push @list, \%st;
    }

    return \@list;
}

sub walk {
    my ($list, $cb) = @_;
    for my $st (@$list) {
        $cb->($st);
        walk($st->{body}, $cb) if $st->{body};
    }
}

sub has_directive {
    my ($list, $name) = @_;
    my $found = 0;
    walk($list, sub { $found = 1 if $_[0]{name} eq $name });
    return $found;
}

# variables and upstreams a block defines: what two pasted blocks collide on
sub definitions {
    my ($list) = @_;
    my @defs;
    walk($list, sub {
        my $st = shift;
        my $n = $st->{name};
        if ($n =~ /^(?:mixpanel_jwt_claim_set|mixpanel_json_set)$/) {
            push @defs, $st->{args}[0];
        } elsif ($n =~ /^(?:map|geo|split_clients)$/ && $st->{body}) {
            push @defs, $st->{args}[-1];
        } elsif ($n eq 'upstream') {
            push @defs, "upstream $st->{args}[0]";
        }
    });
    return grep { defined } @defs;
}

# -- running nginx -t -----------------------------------------------------

my $tmp = tempdir(CLEANUP => 1);
my $root = "$tmp/root";
my $confdir = "$root/etc/nginx";
# nginx built from source logs to PREFIX/logs by default
make_path($confdir, "$root/prefix/logs");

copy("$repo/t/data/jwks.json", "$confdir/jwks.json") or die $!;

my $load = join "", map { "load_module $_;\n" } @modules;

# files the configuration opens: moved under $root
sub relocate {
    my ($conf) = @_;

    $conf =~ s{^\s*load_module\s+[^;]*;[^\n]*\n}{}mg;

    $conf =~ s{\bfile:(/[^\s;]*)}{"file:" . under_root($1)}ge;
    $conf =~ s{^(\s*(?:mixpanel_spool|mixpanel_jwt_key_file
                     |mixpanel_ssl_trusted_certificate|access_log
                     |error_log)\s+)(/[^\s;]*)}
              {$1 . under_root($2)}gmxe;

    return $conf;
}

sub under_root {
    my ($path) = @_;
    (my $dir = "$root$path") =~ s{/[^/]*$}{};
    make_path($dir);
    return "$root$path";
}

sub nginx_t {
    my ($conf) = @_;

    open my $f, '>', "$confdir/nginx.conf" or die $!;
    print $f $conf;
    close $f;

    my $out = `$nginx -t -p $root/prefix/ -c $confdir/nginx.conf \\
               -e $tmp/error.log -g 'pid $tmp/nginx.pid;' 2>&1`;
    my $ok = $? == 0;
    $out =~ s{\Q$root\E}{}g;
    return ($ok, $out);
}

# -- the frames -----------------------------------------------------------

sub indent {
    my ($text, $n) = @_;
    my $pad = " " x $n;
    return join "", map { /\S/ ? "$pad$_\n" : "\n" } split /\n/, $text;
}

# the block's text placed at a level, inside an http block's content
sub at_level {
    my ($level, $text) = @_;
    return $text if $level eq 'http';
    return "server {\n    listen 127.0.0.1:8080;\n" . indent($text, 4)
           . "}\n" if $level eq 'server';
    return "server {\n    listen 127.0.0.1:8080;\n    location / {\n"
           . indent($text, 8) . "    }\n}\n";
}

sub default_frame {
    my ($list, $http, $main) = @_;
    my $pre = "";

    $pre .= "mixpanel_token 0123456789abcdef0123456789abcdef;\n"
        unless has_directive($list, 'mixpanel_token');
    $pre .= "upstream app {\n    server 127.0.0.1:3000;\n}\n"
        unless grep { $_ eq 'upstream app' } definitions($list);
    $pre .= "mixpanel_jwt_claim_set \$jwt_sub sub;\n"
        unless grep { $_ eq '$jwt_sub' } definitions($list);
    $pre .= "mixpanel_jwt \$http_authorization;\n"
        unless has_directive($list, 'mixpanel_jwt');
    $pre .= "mixpanel_jwt_key_file jwks.json;\n"
        unless has_directive($list, 'mixpanel_jwt_key_file');

    return $load . $main . "events {\n}\n\nhttp {\n" . indent($pre, 4)
           . "\n" . indent($http, 4) . "}\n";
}

# a block that sets the token, the API or the identity mode replaces the
# frame's line, as a reader would
sub file_frame {
    my ($frame, $list, $http, $main) = @_;
    my $conf = relocate($frame->{text});

    for my $d (qw(mixpanel_token mixpanel_api mixpanel_identity)) {
        $conf =~ s/^[ \t]*$d\s[^;]*;[^\n]*\n//mg if has_directive($list, $d);
    }
    my ($pad) = $conf =~ /^([ \t]*)\.\.\.[ \t]*$/m;
    $conf =~ s{^[ \t]*\.\.\.[ \t]*\n}{indent($http, length $pad)}me;
    return $load . $main . $conf;
}

# -- the test -------------------------------------------------------------

my @files = ("$repo/README.md", sort glob "$repo/docs/*.md");
my $tested = 0;

for my $file (@files) {
    my ($frame, %defined);

    for my $b (blocks_of($file)) {
        my $where = "$b->{file}:$b->{line}";

        if (defined $b->{skip}) {
            ok(length $b->{skip} > 10, "$where: skipped, with a reason")
                or diag("the skip marker needs a reason");
            next;
        }

        my $text = $b->{text};
        my $list = eval { parse($text =~ s/^[ \t]*\.\.\.[ \t]*\n//mgr) };
        if (!$list) {
            fail("$where: parses");
            diag($@);
            next;
        }

        # blocks of a framed file are combined: each name defined once
        if ($frame) {
            for my $d (definitions($list)) {
                ok(!$defined{$d}, "$where: \"$d\" is not already defined")
                    or diag("$d is defined at $defined{$d} too: pasting "
                            . "both gives a duplicate");
                $defined{$d} //= $where;
            }
        }

        my %top = map { $_->{name} => $_ } @$list;
        my @tries;

        if ($text =~ /^[ \t]*\.\.\.[ \t]*$/m) {
            (my $t = $text) =~ s/^[ \t]*\.\.\.[ \t]*\n//mg;
            @tries = ([ 'complete', $load . relocate($t) ]);
            $frame = $b;
            $defined{$_} = $where for definitions($list);

        } elsif ($top{events} || ($top{load_module} && $top{http})) {
            @tries = ([ 'complete', $load . relocate($text) ]);

        } else {
            my ($http, $main) = ("", "");

            if (!grep { $_->{name} ne 'load_module' } @$list) {
                @tries = ([ 'main', "" ]);

            } elsif ($top{http}) {
                for my $st (@$list) {
                    my $s = substr($text, $st->{start},
                                   $st->{end} - $st->{start});
                    if ($st->{name} eq 'http') {
                        $http .= substr($text, $st->{body_start},
                                        $st->{body_end} - $st->{body_start});
                    } else {
                        $main .= "$s\n";
                    }
                }
                $http =~ s/^\n+//;
                $http =~ s/^    //mg;
                @tries = ([ 'http', $http ]);

            } elsif ($top{server}) {
                @tries = ([ 'http', $text ]);
            } elsif ($top{location}) {
                @tries = ([ 'server', at_level('server', $text) ]);
            } else {
                @tries = map { [ $_, at_level($_, $text) ] }
                         qw(http server location);
            }

            for my $t (@tries) {
                my $content = relocate($t->[1]);
                $t->[1] = $frame
                          ? file_frame($frame, $list, $content,
                                       relocate($main))
                          : default_frame($list, $content, relocate($main));
            }
        }

        my @failures;
        my $passed;

        for my $t (@tries) {
            my ($ok, $out) = nginx_t($t->[1]);

            if ($ok && $out =~ /\[warn\]/
                && $text !~ /#[^\n]*nginx -t warns/)
            {
                $ok = 0;
                $out .= "(a warning the block does not announce with a "
                        . "comment \"nginx -t warns\")\n";
            }

            if ($ok) {
                $passed = $t->[0];
                last;
            }

            push @failures, "--- as $t->[0]:\n$out\n--- configuration:\n"
                            . $t->[1];
        }

        $tested++;
        ok($passed, "$where: nginx -t passes"
                    . ($passed ? " ($passed)" : ""))
            or diag(join "\n", @failures);
    }
}

cmp_ok($tested, '>=', 40, "the docs' nginx blocks were found and tested");

done_testing();
