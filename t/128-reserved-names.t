# Every name docs/directives.md says is refused, refused at nginx -t by
# each directive it names, with the reason; the names it does not refuse
# there accepted (the controls).  From the docs' lists, not the C table:
# a name dropped from the table would let a configured value become a
# second key of the same name (previous_profile_id on Switch Profile, an
# /engage operation in a people update).  A plain Test::More file.

use strict;
use warnings;
use Test::More;
use File::Temp ();

my $binary = $ENV{TEST_NGINX_BINARY} || "nginx";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // "");
my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
my $dir = File::Temp::tempdir(CLEANUP => 1);
mkdir "$dir/$_" for "conf", "logs";

my @ids = qw(distinct_id $device_id $user_id $identified_id $anon_id);
my @sent = qw(token time ip $insert_id mp_lib $lib_version account_id
              active_profile_id previous_profile_id);
my @mixpanel = qw($distinct_id $time $anon_distinct_id $distinct_ids alias
                  $event_name $bucket bucket $distinct_id_before_identity
                  $is_reshuffled $preshuffle_distinct_id
                  mp_original_distinct_id mp_original_event_name);
my @engage = qw($token $distinct_id $ip $time $ignore_time $ignore_alias
                $set $set_once $add $append $union $remove $unset $delete);

my $SENT = "the module sends it itself, choose another name";
my $RESERVED = "Mixpanel reserves it for identity merging and ingestion, "
               . "choose another name";
my $ENGAGE = "it is a parameter or an operation of Mixpanel's /engage, "
             . "choose another name";

# names that begin a refused one or that one begins: names of their own
# (with the default properties' groups on, their names too)
my @beginnings = qw(distinct distinct_idx $devic $user_ids tim times
                    $insert mp_li account active_profile_ids $bucke bucke
                    alia aliases http_meth http_methods duration $browse
                    $browsers utm_sour utm_sources gcli gclids mp_keywor
                    $current_ur $referrer_x);

# directive => [refused name => reason], [accepted names]
my %case = (
    mixpanel_property => [
        { (map { $_ => $SENT } @ids, @sent),
          (map { $_ => $RESERVED } @mixpanel) },
        [qw(plan event $created $set $token $ignore_time), @beginnings] ],
    mixpanel_people_set => [
        { (map { $_ => $SENT } @ids, qw(account_id active_profile_id)),
          (map { $_ => $ENGAGE } grep { $_ ne '$distinct_id' } @engage),
          '$distinct_id' => $ENGAGE },
        [qw(plan $created previous_profile_id token time ip alias $se $sets
            $ignore $distinct), @beginnings] ],
    mixpanel_people_set_once => [
        { (map { $_ => $SENT } @ids, '$created'),
          (map { $_ => $ENGAGE } @engage) },
        [qw(plan account_id active_profile_id previous_profile_id)] ],
    mixpanel_people_add => [
        { (map { $_ => $SENT } @ids), (map { $_ => $ENGAGE } @engage) },
        [qw(logins account_id $created previous_profile_id)] ],
    mixpanel_people_unset => [
        { (map { $_ => $SENT } @ids), (map { $_ => $ENGAGE } @engage) },
        [qw(plan account_id $created)] ],
);

sub directive {
    my ($d, $name) = @_;
    my $q = "'$name'";
    return $d eq 'mixpanel_people_unset' ? "$d $q;"
         : $d eq 'mixpanel_people_add' ? "$d $q 1;"
         : "$d $q \$http_x_v;";
}

# nginx -t; returns its stderr and whether it passed
sub check {
    my ($line) = @_;
    open my $fh, '>', "$dir/conf/nginx.conf" or die $!;
    print $fh join("", map { "load_module $_;\n" } @modules), <<"_EOC_";
pid logs/nginx.pid;
error_log logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_token tok-reserved;
    server {
        listen 127.0.0.1:$port;
        location = /login {
            mixpanel login;
            mixpanel_account_id \$http_x_account;
            $line
            return 200 "ok\\n";
        }
    }
}
_EOC_
    close $fh;
    my $out = `"$binary" -t -p "$dir/" -c conf/nginx.conf \\
                          -e logs/error.log 2>&1`;
    return ($out, $? == 0);
}

for my $d (sort keys %case) {
    my ($refused, $accepted) = @{ $case{$d} };

    for my $name (sort keys %$refused) {
        my ($out, $ok) = check(directive($d, $name));
        my $want = "[emerg] reserved property name \"$name\" in \"$d\": "
                   . $refused->{$name};
        ok(!$ok && index($out, $want) >= 0, "$d $name: refused")
            or diag($out);
    }

    for my $name (@$accepted) {
        my ($out, $ok) = check(directive($d, $name));
        ok($ok, "$d $name: accepted") or diag($out);
    }
}

done_testing();
