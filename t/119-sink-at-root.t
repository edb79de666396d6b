# mixpanel_api file:PATH where PATH's directory is "/" itself: nginx -t
# checks that the directory is writable ("/", not "/m..."), and accepts
# it; a file whose directory does not exist is refused (the control).
# Needs root (the file is created in "/", and removed).

use strict;
use warnings;
use Test::More;
use File::Temp ();

plan skip_all => "needs root" if $> != 0;

my $binary = $ENV{TEST_NGINX_BINARY} || "nginx";
my $prefix = File::Temp::tempdir(CLEANUP => 1);
mkdir "$prefix/$_" for "conf", "logs";

sub nginx_t {
    my ($sink) = @_;
    open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
    print $fh join("", map { "load_module $_;\n" }
                       split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // "")),
              "error_log logs/error.log;\nevents {}\n",
              "http { mixpanel_api file:$sink; mixpanel_token t;\n",
              "  server { listen 127.0.0.1:1; ",
              "location / { mixpanel track; } } }\n";
    close $fh;
    my $out = `$binary -p $prefix/ -c conf/nginx.conf -t 2>&1`;
    return ($? >> 8, $out);
}

my $sink = "/mp-sink-root-test-$$.jsonl";
my ($rc, $out) = nginx_t($sink);
unlink $sink;

is($rc, 0, "a sink file in / is accepted") or diag($out);

($rc, $out) = nginx_t("/mp-no-such-dir-$$/events.jsonl");
isnt($rc, 0, "a sink file in a directory that does not exist is refused");
like($out, qr/mp-no-such-dir-\d+/, "naming the directory");

done_testing();
