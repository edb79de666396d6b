# Parity with the Mixpanel JavaScript SDK: for a corpus of real User-Agents
# (t/parity/user-agents.txt), of URLs with every campaign key and click id
# (t/parity/urls.txt) and of Referers (t/parity/referers.txt), the
# properties the module sends through real nginx (file: sink) equal what
# mixpanel-browser (npm, pinned in t/parity/package.json) computes for the
# same request in node (t/parity/sdk.js): $browser, $browser_version, $os,
# $device, the 20 campaign keys and click ids, $referrer,
# $referring_domain, $current_url, $search_engine and mp_keyword.  A
# property one side leaves out must be left out by the other.
#
# A plain Test::More file: it sends a few hundred requests, each with its
# own headers, to one nginx, and compares once the sink is complete.
#
#   tools/install-mixpanel-browser && prove t/082-sdk-parity.t

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use B ();
use JSON::PP ();
use File::Temp ();
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib abs_path(dirname(__FILE__) . '/..');
use t::Mixpanel;
use t::Seeded;

my $root = abs_path(dirname(__FILE__) . '/..');

plan skip_all => 'node is not installed (make test-deps)'
    unless grep { -x "$_/node" } split /:/, $ENV{PATH};

if (system("$root/tools/install-mixpanel-browser") != 0) {
    fail('mixpanel-browser is installed (tools/install-mixpanel-browser)');
    done_testing();
    exit;
}

my @FIELDS = (qw($browser $browser_version $os $device),
              qw(utm_source utm_medium utm_campaign utm_content utm_term
                 utm_id utm_source_platform utm_campaign_id
                 utm_creative_format utm_marketing_tactic),
              qw(dclid fbclid gclid ko_click_id li_fat_id msclkid sccid
                 ttclid twclid wbraid),
              qw($referrer $referring_domain $current_url $search_engine
                 mp_keyword));

my $json = JSON::PP->new->utf8->canonical;


# the corpus, as cases: one request each

my @uas = corpus("user-agents.txt");
my @urls = corpus("urls.txt");
my @referers = corpus("referers.txt");

my $default_ua = $uas[0][1];
my @cases;

for my $u (@uas) {
    push @cases, { kind => $u->[0], ua => $u->[1], target => "/p",
                   mode => undef, referer => undef };
}

for my $u (@urls) {
    push @cases, { kind => "url", ua => $default_ua, target => $u->[0],
                   mode => undef, referer => undef };
}

for my $r (@referers) {
    my ($mode, $referer) = @$r;
    push @cases, { kind => "referer", ua => $default_ua,
                   target => "/p?utm_source=ref",
                   mode => $mode eq '-' ? undef : $mode,
                   referer => $referer eq '-' ? undef : $referer };
}

# and generated ones: URLs and Referers put together from pieces a corpus
# written by hand pairs only in some ways (an empty key first, a key
# twice, escapes at a value's ends, a search engine's key among others),
# the same every run (a fixed seed, a generator of our own)

my $gen = t::Seeded->new(82);

for my $ua (generated_user_agents(300)) {
    push @cases, { kind => "generated-ua", ua => $ua, target => "/p",
                   mode => undef, referer => undef };
}

for my $target (generated_urls(300)) {
    push @cases, { kind => "generated-url", ua => $default_ua,
                   target => $target, mode => undef, referer => undef };
}

for my $r (generated_referers(300)) {
    push @cases, { kind => "generated-referer", ua => $default_ua,
                   target => "/p?utm_source=ref", mode => $r->[0],
                   referer => $r->[1] };
}

$cases[$_]{id} = $_ + 1 for 0 .. $#cases;

for my $c (@cases) {
    $c->{target} = unescape($c->{target});
}


# what the SDK computes

my $dir = File::Temp::tempdir(CLEANUP => 1);

open my $in, '>', "$dir/cases.jsonl" or die $!;

for my $c (@cases) {
    my $url = "http://parity.example" . $c->{target};
    utf8::decode($url);

    print $in $json->encode({
        id => $c->{id}, ua => $c->{ua}, url => $url,
        referrer => $c->{referer} // "",
        navigation => (!defined $c->{mode} || $c->{mode} eq 'navigate')
                      ? JSON::PP::true : JSON::PP::false,
        navigate => (defined $c->{mode} && $c->{mode} eq 'navigate')
                    ? JSON::PP::true : JSON::PP::false,
    }), "\n";
}

close $in;

my %expected;

open my $sdk, '-|', "node $root/t/parity/sdk.js < $dir/cases.jsonl"
    or die "node: $!";

while (my $line = <$sdk>) {
    my $e = JSON::PP->new->utf8->decode($line);
    $expected{$e->{id}} = $e;
}

close $sdk;

is(scalar keys %expected, scalar @cases, "the SDK computed every case")
    or BAIL_OUT("t/parity/sdk.js failed");


# what the module sends: crawlers are tracked here when the build knows
# mixpanel_track_bots, so that their properties are compared too (which
# User-Agents are crawlers is compared in t/080-user-agent-unit.t)

my $bots = knows_directive("mixpanel_track_bots on;")
           ? "mixpanel_track_bots on;" : "";

my $nginx = start_nginx(conf => <<"_EOC_");
worker_processes 1;
error_log logs/error.log warn;

events {
    worker_connections 64;
}

http {
    access_log off;

    mixpanel_api file:%PREFIX%/logs/events.jsonl;
    mixpanel_token tok-parity;
    mixpanel_flush_interval 100ms;
    mixpanel_ip off;
    mixpanel_request_properties off;
    $bots

    server {
        listen 127.0.0.1:%PORT%;

        location / {
            mixpanel track;
            mixpanel_property parity_case \$http_x_parity_case;
            return 200 "ok\\n";
        }

        location = /ready {
            return 200 "ok\\n";
        }
    }
}
_EOC_

ok(wait_until(10, sub { (request($nginx, "/ready", {}) // '') =~ / 200 / }),
   "nginx answers");

my $answered = 0;

for my $c (@cases) {
    my %h = ("X-Parity-Case" => $c->{id});
    $h{"User-Agent"} = $c->{ua} if length $c->{ua};
    $h{"Referer"} = $c->{referer} if defined $c->{referer};
    $h{"Sec-Fetch-Mode"} = $c->{mode} if defined $c->{mode};

    $answered++ if (request($nginx, $c->{target}, \%h) // '') =~ / 200 /;
}

is($answered, scalar @cases, "every request was answered");

ok(stop_nginx($nginx), "nginx quits, the sender writes what it holds");

my %got;

if (open my $sink, '<', "$nginx->{prefix}/logs/events.jsonl") {
    while (my $line = <$sink>) {
        my $call = JSON::PP->new->utf8->decode($line);

        for my $event (@{ $call->{body} }) {
            my $id = $event->{properties}{parity_case} // next;
            $got{$id} = $event->{properties};
        }
    }
}

is(scalar keys %got, scalar @cases, "one event for each request");


# field by field

my ($total, $equal, %by_kind) = (0, 0);

for my $c (@cases) {
    my $want = $expected{$c->{id}}{fields} // {};
    my $have = $got{$c->{id}} // {};
    my $k = $by_kind{$c->{kind}} //= [0, 0];

    for my $f (@FIELDS) {
        my $same = same($want->{$f}, $have->{$f});

        $total++;
        $k->[1]++;

        if ($same) {
            $equal++;
            $k->[0]++;
            next;
        }

        diag(sprintf "case %d (%s) %s: SDK %s, module %s\n  UA %s\n  URL %s",
             $c->{id}, $c->{kind}, $f, show($want->{$f}), show($have->{$f}),
             $c->{ua}, $c->{target});
    }
}

for my $kind (sort keys %by_kind) {
    note(sprintf "%-16s %5d of %5d fields equal", $kind, @{ $by_kind{$kind} });
}

note(sprintf "parity: %d of %d fields equal (%d requests, %d fields each)",
     $equal, $total, scalar @cases, scalar @FIELDS);

is($equal, $total, "parity: every field equals the SDK's");

done_testing();


sub corpus {
    my ($name) = @_;

    open my $fh, '<', "$root/t/parity/$name" or die "$name: $!";

    my @rows;

    while (my $line = <$fh>) {
        chomp $line;
        next if $line =~ /^#/ || $line =~ /^\s*$/;
        push @rows, [split /\t/, $line, -1];
    }

    return @rows;
}


sub rnd { return $gen->rnd(@_) }
sub pick { return $gen->pick(@_) }


sub value_pieces {
    return ("", "a", "b1", "x-y", "+", "%20", "%2B", "%2b", "%25",
            "%", "%z", "%zz", "%4", "%41", "%E2%82%AC", "%C3",
            "%C3%A9", "%E2%82", "%ED%A0%80", "%00", "=", "?", "/",
            ".", "~", "_", "running+shoes", "%26", "%3D");
}

sub value {
    return join "", map { pick(value_pieces()) } 1 .. rnd(4);
}

sub query {
    my ($keys, $most) = @_;
    my @params;

    for (1 .. 1 + rnd($most)) {
        my $key = pick(@$keys);
        my $form = rnd(8);

        push @params, $form == 0 ? $key
                      : $form == 1 ? "$key=="  . value()
                      : "$key=" . value();
    }

    my $q = "";

    for my $p (@params) {
        $q .= $q eq "" ? "" : pick("&", "&", "&", "&&");
        $q .= $p;
    }

    return (rnd(8) == 0 ? "&" : "") . $q . (rnd(10) == 0 ? "&" : "");
}


sub generated_user_agents {
    my ($n) = @_;
    my @platforms = ("Windows NT 10.0; Win64; x64", "Windows NT 6.1",
                     "Windows Phone 10.0; Android 6.0.1",
                     "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64",
                     "X11; Ubuntu; Linux i686", "Linux; Android 13; Pixel 7",
                     "Linux; U; Android 4.4.2; en-us; SM-T530",
                     "iPhone; CPU iPhone OS 17_0 like Mac OS X",
                     "iPad; CPU OS 16_6 like Mac OS X",
                     "iPod touch; CPU iPhone OS 12_5 like Mac OS X",
                     "X11; CrOS x86_64 14541.0.0", "BlackBerry; U; BlackBerry 9900",
                     "BB10; Touch", "Linux; Android 9; KFTRWI",
                     "compatible; MSIE 10.0; Windows NT 6.2",
                     "Windows NT 10.0; Trident/7.0; rv:11.0",
                     "Mobile; rv:48.0", "X11; FreeBSD amd64");
    my @tokens = ("AppleWebKit/537.36 (KHTML, like Gecko)",
                  "Chrome/120.0.6099.109", "Chrome/49.0", "Safari/537.36",
                  "Safari/604.1", "Version/17.0", "Version/4.0",
                  "Mobile/15E148", "Mobile", "Edg/120.0.2210.91",
                  "Edge/18.19045", "EdgA/120.0", "EdgiOS/120.0",
                  "OPR/105.0.0.0", "Opera/9.80", "Opera Mini/36.2",
                  "OPiOS/16.0", "Firefox/121.0", "FxiOS/121.0",
                  "Focus/1.0", "CriOS/120.0.6099.119",
                  "SamsungBrowser/23.0", "UCBrowser/13.4.0.1306",
                  "Konqueror/5.0", "Gecko/20100101", "rv:121.0",
                  "YaBrowser/23.11", "Whale/3.24", "Brave Chrome/120",
                  "BlackBerry", "Silk/120", "Kindle/3.0", "Nexus 7",
                  "Windows Phone", "IEMobile/11.0", "wv", "Electron/28.0",
                  "Bot", "googlebot", "Headless");
    my @uas;

    for (1 .. $n) {
        my $ua = pick("Mozilla/5.0 ", "Mozilla/5.0 ", "Opera/9.80 ", "")
                 . "(" . pick(@platforms) . ")";

        $ua .= " " . pick(@tokens) for 1 .. 1 + rnd(5);

        push @uas, $ua;
    }

    return @uas;
}


sub generated_urls {
    my ($n) = @_;
    my @keys = (qw(utm_source utm_medium utm_campaign utm_content utm_term
                   utm_id utm_source_platform utm_campaign_id
                   utm_creative_format utm_marketing_tactic dclid fbclid
                   gclid ko_click_id li_fat_id msclkid sccid ttclid twclid
                   wbraid),
                qw(utm_source utm_medium gclid fbclid q x UTM_SOURCE
                   utm_sourcex xutm_source Gclid utm_ utm));
    my @urls;

    for (1 .. $n) {
        my $path = pick("/p", "/a/b", "/p/", "/x.html", "/");
        push @urls, rnd(10) == 0 ? $path : "$path?" . query(\@keys, 6);
    }

    return @urls;
}


sub generated_referers {
    my ($n) = @_;
    my @keys = qw(q p wd text query oq aq Q P hl x utm_source utm_medium
                  gclid q q p);
    my @hosts = qw(www.google.com google.co.uk www.google.de
                   images.google.com www.bing.com bing.com search.yahoo.com
                   yahoo.com duckduckgo.com yandex.ru www.yandex.com
                   www.baidu.com baidu.com example.com app.example.com
                   google.example.com notgoogle.com www.google.com:8443
                   GOOGLE.COM Bing.Com);
    my @refs;

    for (1 .. $n) {
        my $ref = pick("https://", "http://") . pick(@hosts)
                  . pick("/", "/search", "", "/s", "/url", "/a/b");

        $ref .= "?" . query(\@keys, 4) if rnd(5) != 0;
        $ref .= "#" . pick("", "top", "q=frag", "a&q=x") if rnd(5) == 0;

        push @refs, [ pick("navigate", "navigate", undef, undef, "cors",
                           "no-cors", "same-origin"), $ref ];
    }

    return @refs;
}


# \xHH in the corpus: raw bytes

sub unescape {
    my ($s) = @_;
    $s =~ s/\\x([0-9a-fA-F]{2})/chr(hex($1))/ge;
    return $s;
}


sub request {
    my ($nginx, $target, $headers) = @_;

    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
                                     PeerPort => $nginx->{port},
                                     Timeout => 10)
        or return undef;

    my $req = "GET $target HTTP/1.0\r\nHost: parity.example\r\n";
    $req .= "$_: $headers->{$_}\r\n" for sort keys %$headers;
    $req .= "\r\n";

    print $sock $req;

    local $/;
    my $res = <$sock>;
    close $sock;

    return $res;
}


# nginx -t of a configuration with the directive

sub knows_directive {
    my ($directive) = @_;

    my $prefix = File::Temp::tempdir(CLEANUP => 1);
    mkdir "$prefix/conf";
    mkdir "$prefix/logs";

    open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
    print $fh join("", map { "load_module $_;\n" }
                       split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // "")),
              "error_log logs/error.log;\nevents {}\n",
              "http { mixpanel_token t; $directive }\n";
    close $fh;

    my $binary = $ENV{TEST_NGINX_BINARY} || "nginx";

    return system("$binary -t -q -p $prefix/ -c conf/nginx.conf "
                  . ">/dev/null 2>&1") == 0;
}


# numbers by value, strings by characters; left out and null alike

sub same {
    my ($a, $b) = @_;

    return !defined $b if !defined $a;
    return 0 if !defined $b;

    my $na = JSON::PP::is_bool($a) ? undef
             : (B::svref_2object(\$a)->FLAGS & (B::SVf_IOK | B::SVf_NOK));
    my $nb = JSON::PP::is_bool($b) ? undef
             : (B::svref_2object(\$b)->FLAGS & (B::SVf_IOK | B::SVf_NOK));

    return 0 if !$na != !$nb;
    return $na ? $a == $b : $a eq $b;
}


sub show {
    my ($v) = @_;

    return "(left out)" if !defined $v;

    return JSON::PP->new->allow_nonref->encode($v);
}
