# The documentation covers what the code defines: every directive of the
# modules' command tables has a "### name" section in docs/directives.md
# with Syntax, Default and Context lines, whose contexts match the
# command's; every variable the module defines is documented.

use strict;
use warnings;

use Test::More;
use FindBin;

my $repo = "$FindBin::Bin/..";

sub slurp {
    my ($path) = @_;
    open my $f, '<', $path or die "$path: $!";
    local $/;
    return <$f>;
}

# -- what the code defines ------------------------------------------------

my (%directives, %variables);

for my $file (glob "$repo/ngx_mixpanel_module/*.c") {
    my $c = slurp($file);

    # { ngx_string("mixpanel_..."), NGX_HTTP_MAIN_CONF|...,
    while ($c =~ /\{\s*ngx_string\("(mixpanel\w*)"\),\s*([A-Z0-9_|\s]+?),/g) {
        my ($name, $flags) = ($1, $2);
        if ($flags =~ /NGX_HTTP_\w+_CONF/) {
            my @ctx;
            push @ctx, "http" if $flags =~ /NGX_HTTP_MAIN_CONF/;
            push @ctx, "server" if $flags =~ /NGX_HTTP_SRV_CONF/;
            push @ctx, "location" if $flags =~ /NGX_HTTP_LOC_CONF/;
            $directives{$name} = join ", ", @ctx;
        } else {
            $variables{$name} = 1;    # a variable table entry
        }
    }
}

cmp_ok(scalar keys %directives, '>=', 30, "the command tables were read")
    or diag(join " ", sort keys %directives);
ok($variables{mixpanel_device_id}, "the variable table was read");

# -- docs/directives.md ---------------------------------------------------

my $doc = slurp("$repo/docs/directives.md");

# "### name" sections; a heading may name several directives
# ("### mixpanel_people_set, mixpanel_people_set_once") or qualify one
# ("### mixpanel (identity actions)")
my %sections;
my @parts = split /^### +/m, $doc;
shift @parts;
for my $part (@parts) {
    my ($heading, $body) = split /\n/, $part, 2;
    $body = (split /^#{1,3} /m, $body // "")[0];
    $heading =~ s/\s*\(.*\)\s*$//;
    for my $name (split /\s*,\s*/, $heading) {
        push @{ $sections{$name} }, $body;
    }
}

for my $name (sort keys %directives) {
    my $secs = $sections{$name};
    ok($secs, "$name has a ### section in docs/directives.md") or next;

    # the section whose Syntax names the directive
    my ($body) = grep { /^\s+(?:Syntax:\s+)?\Q$name\E(?:\s|;)/m } @$secs;
    ok($body, "$name: a Syntax line names it") or next;
    like($body, qr/^\s+Syntax:\s+\S/m, "$name: Syntax line");
    like($body, qr/^\s+Default:\s+\S/m, "$name: Default line");
    my ($ctx) = $body =~ /^\s+Context:\s+(.+?)\s*$/m;
    is($ctx, $directives{$name}, "$name: the Context line is the code's");
}

# no documented directive that the code lacks
for my $name (sort keys %sections) {
    next unless $name =~ /^mixpanel\w*$/;
    ok($directives{$name}, "documented $name exists in the code");
}

# -- variables ------------------------------------------------------------

my $identity = slurp("$repo/docs/identity.md");
my ($vars_section) = $doc =~ /^## Variables\n(.*?)(?=^## |\z)/ms;
ok($vars_section, "docs/directives.md has a Variables section");

for my $var (sort keys %variables) {
    like($vars_section // "", qr/\$\Q$var\E\b/,
         "\$$var is listed in directives.md's Variables");
    like($identity, qr/^\|\s*`\$\Q$var\E`\s*\|/m,
         "\$$var is described in identity.md's variable table");
}

# every $mixpanel_* name the docs use as a variable is a real one
my %mentioned;
for my $file (glob("$repo/docs/*.md"), "$repo/README.md") {
    my $text = slurp($file);
    $mentioned{$1}{ $file =~ s{.*/}{}r } = 1
        while $text =~ /\$(mixpanel_\w+)/g;
}
for my $var (sort keys %mentioned) {
    ok($variables{$var} || $var =~ /^mixpanel_(?:off|project)$/,
       "\$$var used in " . join(", ", sort keys %{ $mentioned{$var} })
       . " is a module variable or an example's own");
}

done_testing();
