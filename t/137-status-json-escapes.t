# The JSON status page stays JSON whatever last_error says: a file: sink
# whose name has a double quote, a backslash and a tab in it, linked to
# /dev/full, fails every write(); last_error names the file, and the page
# decodes, with the name given back as the log writes it (the tab as \x09).
# A plain Test::More file.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

my $n = dn_nginx(port => $port, before => sub {
    symlink "/dev/full", "$_[0]/logs/a\"b\\c\t.jsonl" or die "symlink: $!";
}, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api "file:%PREFIX%/logs/a\"b\\c\t.jsonl";
    mixpanel_token tok-escapes;
    mixpanel_flush_interval 50ms;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t {
            mixpanel track;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 10);
is($http->get("$n->{base}/t")->{status}, 200, "a tracked request");

my ($body, $st);
ok(dn_wait(20, sub {
    $body = $http->get("$n->{base}/status")->{content};
    $st = eval { JSON::PP::decode_json($body) };
    return $st && ($st->{last_error} // "") ne "";
}), "the status page decodes and has a last_error") or diag($body);

is($st->{last_error}, "write() to \"$n->{prefix}/logs/a\"b\\c\\x09.jsonl\" failed",
   "last_error names the file as it is, the tab as \\x09 (as the log)");
like($body, qr/"last_error":"write\(\) to \\"[^"]*a\\"b\\\\c\\\\x09\.jsonl\\" failed"/,
     "the quotes and the backslashes escaped");

dn_stop($n);
done_testing();
