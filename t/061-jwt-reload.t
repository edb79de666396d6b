# A key rotated in the key file and nginx -s reload: a token that the old
# key verified (and the worker remembered) is not served by the new
# configuration, a token of the new key is.  A plain Test::More file: it
# drives the master with signals, which Test::Nginx blocks don't.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use FindBin;
use lib "$FindBin::Bin/data";
use TestJWT qw(jwt b64u);
use File::Temp qw(tempdir);
use t::Mixpanel;

# written before nginx starts, which reads it
my $keys = tempdir(CLEANUP => 1) . "/keys.json";

sub keys_file {
    my ($secret) = @_;
    open my $f, '>', $keys or die $!;
    print $f '{"keys":[{"kty":"oct","kid":"k","k":"', b64u($secret), '"}]}';
    close $f;
}

my $old = 'o' x 32;
my $new = 'n' x 32;
my $t_old = jwt('HS256', \$old, { sub => 'old-key' }, kid => 'k');
my $t_new = jwt('HS256', \$new, { sub => 'new-key' }, kid => 'k');

keys_file($old);

my $nginx = start_nginx(conf => <<"_EOC_");
worker_processes 1;
error_log logs/error.log info;

events {
    worker_connections 64;
}

http {
    access_log off;

    mixpanel_jwt_claim_set \$jwt_sub sub;

    server {
        listen 127.0.0.1:%PORT%;

        location = /t {
            mixpanel_jwt \$arg_t;
            mixpanel_jwt_key_file $keys;
            return 200 "sub=\$jwt_sub\\n";
        }
    }
}
_EOC_

my ($pid, $prefix, $base) = @$nginx{qw(pid prefix base)};

# a new connection each time: an old worker keeps serving its own
sub sub_of {
    my ($token) = @_;
    my $res = HTTP::Tiny->new(timeout => 5, keep_alive => 0)
                        ->get("$base/t?t=$token");
    return $res->{success} ? $res->{content} : "status $res->{status}\n";
}

ok(wait_until(10, sub { sub_of($t_old) eq "sub=old-key\n" }),
   "the old key verifies");
is(sub_of($t_old), "sub=old-key\n", "again, from the worker's cache");
is(sub_of($t_new), "sub=\n", "the new key is not known yet");

keys_file($new);
kill 'HUP', $pid;

ok(wait_until(10, sub { sub_of($t_new) eq "sub=new-key\n" }),
   "after the reload the new key verifies");

# until it exits, the old worker may still take a connection and answer
# with its configuration, the old key's
ok(wait_until(20, sub {
       open my $f, '<', "$prefix/logs/error.log" or return 0;
       grep { /worker process \d+ exited with code 0/ } <$f>;
   }), "the old worker exited");
is(sub_of($t_old), "sub=\n", "a token of the rotated key is not served")
    for 1 .. 3;

ok(stop_nginx($nginx), "nginx quits");

open my $l, '<', "$prefix/logs/error.log" or die $!;
my @alerts = grep { /\[(alert|crit|emerg)\]/ } <$l>;
is(scalar @alerts, 0, "no alert") or diag @alerts;

done_testing();
