# make demo end to end: tools/demo starts the emulator, the sample API and
# nginx with examples/nginx.conf, plays the customer's journeys and prints
# the report.  It must show one Mixpanel user per account, both devices in
# the first account's cluster, no problem, and leave no process behind.
# Runs against the nginx and module under test (TEST_NGINX_BINARY,
# TEST_NGINX_LOAD_MODULES), so "make test" checks both nginx versions.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use FindBin;
use JSON::PP ();

my $repo = "$FindBin::Bin/..";
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $modules = $ENV{TEST_NGINX_LOAD_MODULES}
              || "$repo/build/ngx_http_mixpanel_module.so";

for my $m (split ' ', $modules) {
    plan skip_all => "no module at $m (make module)" unless -f $m;
}
plan skip_all => "no nginx at $nginx" unless -x $nginx;
plan skip_all => "curl is needed" unless grep { -x "$_/curl" }
                                         split /:/, $ENV{PATH};

my $tmp = tempdir(CLEANUP => 1);
my $json = "$tmp/report.json";
my $pids = "$tmp/pids";

local $ENV{DEMO_NGINX} = $nginx;
local $ENV{DEMO_MODULES} = $modules;
local $ENV{DEMO_JSON} = $json;
local $ENV{DEMO_PID_FILE} = $pids;
delete local $ENV{DEMO_KEEP};
delete local $ENV{DEMO_QUIET};

my $started = time;
my $out = `"$repo/tools/demo" 2>&1`;
my $rc = $? >> 8;
my $took = time - $started;

is($rc, 0, "tools/demo exits 0") or diag($out);
cmp_ok($took, '<', 60, "it takes under a minute ($took s)");
like($out, qr/^Mixpanel emulator report$/m, "it prints the report");
like($out, qr/^No problems found\.$/m, "the report flags no problem");
unlike($out, qr/^Problems \(/m, "no problem section");
unlike($out, qr/\[(?:alert|emerg|crit|error)\]/,
       "nginx logged no error");

# no process the demo started survives it (zombies aside: they are gone,
# only not yet reaped by whoever adopted them)
my @pids = do { open my $f, '<', $pids or die "$pids: $!"; map { chomp; $_ }
                <$f> };
cmp_ok(scalar @pids, '>=', 4,
       "the demo started the emulator, the API, nginx and a worker");
my @alive = grep { running($_) } @pids;
is("@alive", "", "every process it started is gone");

sub running {
    my ($pid) = @_;
    open my $f, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$f>;
    return $stat !~ /^\d+ \(.*\) Z /;
}

# what Mixpanel would now show
if (!-s $json) {
    fail("the demo wrote its JSON report");
    done_testing();
    exit;
}

my $report = do {
    open my $f, '<', $json or die "$json: $!";
    local $/;
    JSON::PP::decode_json(<$f>);
};

is(scalar @{ $report->{projects} }, 1, "one project");
my $project = $report->{projects}[0];

is($project->{identity}, "original", "Original ID Merge");
is_deeply($project->{problems}, [], "no problems in the JSON report")
    or diag(explain($project->{problems}));
is_deeply($project->{anonymous}, [], "no anonymous cluster left over");

# the accounts the API created, as the events name them
my %accounts;
for my $user (@{ $project->{users} }) {
    for my $e (@{ $user->{events} }) {
        my $a = $e->{all_properties}{account_id};
        $accounts{$a}{ $user->{canonical} } = 1 if defined $a;
    }
}
is_deeply([ sort keys %accounts ], [ "acc_1001", "acc_1002" ],
          "two accounts were used");
for my $a (sort keys %accounts) {
    is_deeply([ keys %{ $accounts{$a} } ], [ $a ],
              "account $a is one user, whose id is the account id");
}
is(scalar @{ $project->{users} }, 2, "two users, one per account");

my ($ana) = grep { $_->{canonical} eq "acc_1001" } @{ $project->{users} };
my ($ben) = grep { $_->{canonical} eq "acc_1002" } @{ $project->{users} };

sub devices {
    my ($user) = @_;
    my %d = map { $_->{properties}{'$device_id'} => 1 }
            grep { defined $_->{properties}{'$device_id'} }
            @{ $user->{events} };
    return sort keys %d;
}

sub anonymous_ids {
    my ($user) = @_;
    return sort map { $_->{id} } grep { $_->{role} eq "anonymous" }
                                 @{ $user->{ids} };
}

my @ana_devices = devices($ana);
is(scalar @ana_devices, 2, "the first account used two devices");
is_deeply([ anonymous_ids($ana) ], \@ana_devices,
          "both devices are in the first account's cluster");
my @ben_devices = devices($ben);
is(scalar @ben_devices, 1, "the second account used one device");
is_deeply([ anonymous_ids($ben) ], \@ben_devices,
          "its device is in its cluster");
ok(!(grep { my $d = $_; grep { $_ eq $d } @ana_devices } @ben_devices),
   "the second person on the first phone got a fresh device id");

# the active profile on events, the profile's demographics on the user
my @switches = grep { $_->{event} eq "Switch Profile" } @{ $ana->{events} };
is(scalar @switches, 2, "two profile switches");
is($switches[0]{properties}{active_profile_id}, "acc_1001_partner",
   "the switch on the phone names the partner profile");
is($switches[1]{properties}{previous_profile_id}, undef,
   "the tablet had no previous profile");
my ($update) = grep { $_->{event} eq "Update Profile" } @{ $ana->{events} };
is($update->{properties}{active_profile_id}, "acc_1001_partner",
   "the update happened on the partner profile");
is($ana->{profile}{active_profile_id}, "acc_1001_solo",
   "the user profile shows the profile active last");
is($ana->{profile}{profile_type}, "solo", "with its type");
is($ana->{profile}{age}, 31, "and its age");
is($ben->{profile}{active_profile_id}, "acc_1002_solo",
   "the second account's profile shows its solo profile");
ok(!(grep { $_->{event} =~ /^\$identify$/
            && ($_->{properties}{'$identified_id'} // '') ne $_->{distinct_id} }
     map { @{ $_->{events} } } @{ $project->{users} }),
   "every \$identify names its own user");

done_testing();
