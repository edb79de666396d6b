# tools/mutate, the mutation runner of "make mutate" (docs/testing.md), on
# its own fixture t/data/mutate: the mutants its operators make, site by
# site; its seeded sampling; its verdicts (killed, survived, invalid,
# equivalent, a timeout, a check that fails unmutated) on mutants built
# with cc and run against small checks; its reports.  No nginx involved.

use strict;
use warnings;
use FindBin;

for my $tool (qw(cc objcopy python3)) {
    next if grep { -x "$_/$tool" } split /:/, $ENV{PATH};
    print "1..0 # SKIP $tool is not installed\n";
    exit 0;
}

exec "python3", "$FindBin::Bin/../tools/mutate", "--selftest"
    or die "exec: $!";
