# JWT claims as variables: mixpanel_jwt, mixpanel_jwt_key_file,
# mixpanel_jwt_verify, mixpanel_jwt_leeway, mixpanel_jwt_claim_set.
# Tokens are signed here with the openssl command line and the keys of
# t/data (made once by tools/make-test-keys).  A token that cannot be
# used gives empty variables; the request is always served.

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/data";
use TestJWT qw(jwt tamper b64u data_dir);

$ENV{TEST_NGINX_DATA} = data_dir();

our @ALGS = qw(HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512
               ES256 ES384 ES512);

our %KEY = (HS => 'hs', RS => 'rsa1', PS => 'rsa1',
            ES256 => 'ec256', ES384 => 'ec384', ES512 => 'ec521');

sub key_of { $KEY{$_[0]} // $KEY{ substr $_[0], 0, 2 } }

our (%T, @GARBAGE);

for my $alg (@ALGS) {
    my $key = key_of($alg);
    $T{$alg} = jwt($alg, $key, { sub => "user-$alg" },
                   kid => $key, exp_in => 3600);
    $T{"tampered-$alg"} = tamper($T{$alg}, { sub => "admin" });
}

our %FILE;

for my $name (qw(rsa1.pub ec256.crt jwks.json)) {
    open my $f, '<', data_dir() . "/$name" or die "$name: $!";
    local $/;
    $FILE{$name} = <$f>;
}

# rsa1's JWK bound to an "alg" that begins with RS256, and to RS256
{
    my $json = JSON::PP->new->canonical;
    my ($rsa1) = grep { ($_->{kid} // '') eq 'rsa1' }
                 @{ $json->decode($FILE{'jwks.json'})->{keys} };
    $FILE{'alg-bound.json'} = $json->encode({ keys => [
        { %$rsa1, kid => 'odd', alg => 'RS2560' },
        { %$rsa1, kid => 'even', alg => 'RS256' } ] });
}

my $hs = \$FILE{'rsa1.pub'};

# an unverified token of exactly $len bytes: its signature pads it
sub sized {
    my ($len) = @_;
    my $t = b64u('{"alg":"HS256","typ":"JWT"}') . '.'
            . b64u('{"sub":"sized"}') . '.';
    return $t . ('s' x ($len - length $t));
}

# an unverified token whose claims the worker keeps (only "sub" here, no
# "exp" nor "nbf") are $len bytes
sub claims_of {
    my ($len) = @_;
    return b64u('{"alg":"HS256","typ":"JWT"}') . '.'
           . b64u('{"sub":"' . ('c' x $len) . '"}') . '.sig';
}

%T = (%T,
    key2048   => sized(2048),
    key2049   => sized(2049),
    claims1024 => claims_of(1024),
    claims1025 => claims_of(1025),
    bearer    => jwt('RS256', 'rsa1', { sub => 'bearer-user' }, kid => 'rsa1'),
    expired   => jwt('ES256', 'ec256', { sub => 'late' }, kid => 'ec256',
                     exp_in => -60),
    early     => jwt('RS256', 'rsa1', { sub => 'early' }, kid => 'rsa1',
                     nbf_in => 1800, exp_in => 7200),
    wrong_kid => jwt('RS256', 'rsa2', { sub => 'x' }, kid => 'rsa1'),
    no_kid    => jwt('RS256', 'rsa2', { sub => 'x' }, kid => 'nope'),
    kid_rsa   => jwt('RS256', 'rsa1', { sub => 'kid-rsa' }, kid => 'rsa'),
    kid_rsa12 => jwt('RS256', 'rsa1', { sub => 'kid-rsa12' }, kid => 'rsa12'),
    kid_RSA1  => jwt('RS256', 'rsa1', { sub => 'kid-RSA1' }, kid => 'RSA1'),
    kid_h     => jwt('HS256', 'hs', { sub => 'kid-h' }, kid => 'h'),
    alg_odd   => jwt('RS256', 'rsa1', { sub => 'alg-odd' }, kid => 'odd'),
    alg_even  => jwt('RS256', 'rsa1', { sub => 'alg-even' }, kid => 'even'),
    rsa2      => jwt('RS256', 'rsa2', { sub => 'rsa2-user' }, kid => 'rsa2'),
    rsa2_ps   => jwt('PS256', 'rsa2', { sub => 'x' }, kid => 'rsa2'),
    enc_key   => jwt('RS256', 'rsa3', { sub => 'x' }, kid => 'rsa3-enc'),
    none      => jwt('none', undef, { sub => 'nobody' }),
    none_sig  => jwt('none', undef, { sub => 'nobody' }) . 'c2ln',
    none_kid  => jwt('none', undef, { sub => 'nobody' }, kid => 'hs'),
    confusion => jwt('HS256', $hs, { sub => 'attacker' }, kid => 'rsa1'),
    confusion_nokid => jwt('HS256', $hs, { sub => 'attacker' }),
    rsa1_nokid   => jwt('RS256', 'rsa1', { sub => 'one' }),
    rsa2_nokid   => jwt('RS512', 'rsa2', { sub => 'two' }),
    ec256_nokid  => jwt('ES256', 'ec256', { sub => 'three' }),
    ec384_nokid  => jwt('ES384', 'ec384', { sub => 'four' }),
    ec384_kid    => jwt('ES384', 'ec384', { sub => 'single' }, kid => 'ec384'),
    padded    => jwt('PS512', 'rsa1', { sub => 'padded-user', x => 'ab' },
                     kid => 'rsa1', pad => 1),
    claims    => jwt('HS256', 'hs', {
                     sub => 'u-1',
                     org => { id => 'org-9', plan => { tier => 'gold' } },
                     roles => [ 'admin', 'dev' ],
                     n => 42, neg => -7, f => 1.5, big => 1e300,
                     b => JSON::PP::true, nul => undef,
                     ids => [ 1, 2.5, 'three', JSON::PP::false, undef,
                              { a => 1 }, [ 9 ] ],
                     'a.b' => 'dotted',
                 }, kid => 'hs'),
    exp_string  => jwt('HS256', 'hs', { sub => 'x', exp => 'tomorrow' }),
    exp_float   => jwt('HS256', 'hs', { sub => 'float',
                                        exp => time + 3600.5 }),
    exp_null    => jwt('HS256', 'hs', undef,
                       payload_json => '{"sub":"null","exp":null}'),
    exp_object  => jwt('HS256', 'hs', undef,
                       payload_json => '{"sub":"obj","exp":{}}'),
    exp_array   => jwt('HS256', 'hs', undef,
                       payload_json => '{"sub":"arr","exp":[]}'),
    exp_empty   => jwt('HS256', 'hs', undef,
                       payload_json => '{"sub":"empty","exp":""}'),
    nbf_null    => jwt('HS256', 'hs', undef,
                       payload_json => '{"sub":"nbfnull","nbf":null}'),
    nbf_string  => jwt('HS256', 'hs', { sub => 'x', nbf => 'soon' }),
    nbf_past    => jwt('HS256', 'hs', { sub => 'nbfpast',
                                        nbf => time - 60 }),
    nbf_huge    => jwt('HS256', 'hs', undef,
                       payload_json => '{"sub":"nbfhuge",'
                                       . '"nbf":10000000000000000000.0}'),
    exp_huge    => jwt('HS256', 'hs', undef,
                       payload_json => '{"sub":"exphuge",'
                                       . '"exp":10000000000000000000.0}'),
    exp_numstr  => jwt('HS256', 'hs', { sub => 'numstr',
                                        exp => '' . (time + 3600) }),
    crit      => jwt('HS256', 'hs', { sub => 'x' },
                     header => { crit => [ 'exp' ], exp => 1 }),
    dup_claim => jwt('HS256', 'hs', undef,
                     payload_json => '{"sub":"a","sub":"b"}'),
    not_json  => jwt('HS256', 'hs', undef, payload_json => 'sub=a'),
    array_payload => jwt('HS256', 'hs', undef, payload_json => '["a"]'),
    cookie    => jwt('ES512', 'ec521', { sub => 'cookie-user' },
                     kid => 'ec521'),
    big       => jwt('HS256', 'hs', { sub => 'big', pad => 'x' x 11000 }),
    forged    => jwt('HS256', \'not-the-secret', { sub => 'forged' }),
    edges     => jwt('HS256', 'hs', { sub => 'edges-9' }, kid => 'hs'),
    skipped   => jwt('HS256', 'hs', { sub => 'skipped',
                                      ids => [ undef, { a => 1 }, [ 9 ], '',
                                               'x', undef, 'y' ] },
                     kid => 'hs'),
);

# every edge of the base64url alphabet is in the "edges" token; a
# character just past an edge replaces one in its header, its payload or
# its signature (each segment's own check), or a base64 one ('+', '/')
die "the edges token lost an edge\n"
    if grep { index($T{edges}, $_) < 0 } qw(A Z a z 0 9 - _);

our @PAST = do {
    my @seg = split /\./, $T{edges};
    my $i = 0;
    map {
        my @s = @seg;
        my $k = $i++ % 3;
        substr($s[$k], 5, 1) = $_;
        join '.', @s;
    } ('@', '[', '`', '{', '/', ':', '+');
};

@GARBAGE = (
    'abc',
    'a.b',
    'a.b.c.d',
    '...',
    '..',
    'AAAAA=.AAAA.AAAA',
    'AAAAAA=.AAAA.AAAA',
    'AAAA==.AAAA.AAAA',
    'AA=A.AAAA.AAAA',
    'A===.AAAA.AAAA',
    '%ZZ.AAAA.AAAA',
    b64u('[]') . '.' . b64u('{}') . '.AAAA',
    b64u('{"alg":"HS256"') . '.' . b64u('{}') . '.AAAA',
    b64u('{"alg":"HS256","alg":"none"}') . '.' . b64u('{}') . '.AAAA',
    b64u('{"alg":"HS256"}') . '.' . b64u('{"sub":"x"}') . '.',
    b64u('{"alg":"HS256"}') . '.' . b64u('{"sub":"x"}') . '.AAAA',
    b64u('{"alg":"RS256"}') . '.' . b64u('{"sub":"x"}') . '.AAAA',
    b64u('{"alg":"ES256"}') . '.' . b64u('{"sub":"x"}') . '.AAAA',
    b64u('{"alg":"PS256"}') . '.' . b64u('{"sub":"x"}') . '.' . 'A' x 400,
    b64u('{"alg":"ES512"}') . '.' . b64u('{"sub":"x"}') . '.' . 'A' x 600,
    b64u('{"alg":256}') . '.' . b64u('{"sub":"x"}') . '.AAAA',
    b64u('{"alg":"HS256"}') . '.' . b64u("\x00\xff") . '.AAAA',
    (substr $T{HS256}, 0, 40),
    $T{RS256} . 'A',
    "eyJ.eyJ.eyJ",
);

my $HsSecret = do {
    open my $f, '<', data_dir() . '/hs.hex' or die;
    pack 'H*', (split /\s+/, scalar <$f>)[0];
};

# the "hs" key of t/data/jwks.json alone, padded with spaces to $size bytes
sub hs_jwks_of_size {
    my ($size) = @_;
    my $json = '{"keys":[{"kty":"oct","kid":"hs","k":"' . b64u($HsSecret)
               . '"}]}';
    return $json . (' ' x ($size - length $json));
}

# a valid HS256 token of exactly $size bytes: a padding claim and, since a
# base64url segment cannot have every length, an extra header field
sub jwt_of_size {
    my ($size) = @_;
    for my $h ('', 'x', 'xy') {
        for my $n (($size - 400) * 3 / 4 .. $size * 3 / 4) {
            my $t = jwt('HS256', 'hs', { sub => "size-$size", p => 'x' x $n },
                        kid => 'hs', $h ? (header => { h => $h }) : ());
            return $t if length $t == $size;
            last if length $t > $size;
        }
    }
    die "no token of $size bytes\n";
}

# Tokens a second apart around the edge of "exp" or "nbf", minted just
# before the request (from --- init), all read in one request.
our $Span = 6;

sub boundary_requests {
    my @r;
    my $mint = time;
    for my $c ([ '/t', 'exp', 0 ], [ '/t', 'nbf', 0 ],
               [ '/leeway', 'exp', 3 ], [ '/leeway', 'nbf', 3 ])
    {
        my ($loc, $claim, $leeway) = @$c;
        my @t = map {
            my $v = $mint + $_;
            jwt('HS256', 'hs', { sub => "$v", $claim => $v }, kid => 'hs')
        } -$Span .. $Span;
        push @r, "GET $loc?claim=$claim&leeway=$leeway&mint=$mint&"
                 . join('&', map { "t$_=$t[$_]" } 0 .. $#t);
    }
    return \@r;
}

sub boundary_location {
    my ($name, $leeway) = @_;
    my $c = "    location = $name {\n"
            . ($leeway ? "        mixpanel_jwt_leeway ${leeway}s;\n" : "")
            . "        set \$now \$msec;\n";
    for my $i (0 .. 2 * $Span) {
        $c .= "        set \$tok \$arg_t$i;\n        set \$s$i \$jwt_sub;\n";
    }
    return $c . '        return 200 "$arg_claim $arg_leeway $arg_mint $now'
           . ' $msec' . join('', map { " \$s$_" } 0 .. 2 * $Span)
           . "\\n\";\n    }\n";
}

# The verdict on each token against nginx's own clock (read before and
# after the tokens): the three around the edge ("now - leeway" for exp,
# "now + leeway" for nbf) and any token on the wrong side.
sub verdicts {
    my ($body) = @_;
    chomp $body;
    my ($claim, $leeway, $mint, $t1, $t2, @sub) = split / /, $body, -1;
    return "the clock moved: $t1 $t2\n" if int $t1 != int $t2;
    my $edge = $claim eq 'exp' ? int($t1) - $leeway : int($t1) + $leeway;
    my %got = map { $_ => 1 } grep { length } @sub;
    my $out = '';
    for my $v ($mint - $Span .. $mint + $Span) {
        my $ok = $claim eq 'exp' ? $v > $edge : $v <= $edge;
        $out .= "$claim at edge" . sprintf('%+d', $v - $edge)
                . " is wrongly " . ($got{$v} ? 'accepted' : 'rejected') . "\n"
            if !$ok != !$got{$v};
    }
    for my $d (-1 .. 1) {
        my $v = $edge + $d;
        $out .= sprintf "%s at edge%+d: %s\n", $claim, $d,
            $v < $mint - $Span || $v > $mint + $Span ? 'not minted'
            : $got{$v} ? 'accepted' : 'rejected';
    }
    return $out;
}

our $HttpConfig = <<'_EOC_';
    mixpanel_jwt_claim_set $jwt_sub sub;
    mixpanel_jwt_claim_set $jwt_org org id;
    mixpanel_jwt_claim_set $jwt_tier org plan tier;
    mixpanel_jwt_claim_set $jwt_plan org plan;
    mixpanel_jwt_claim_set $jwt_roles roles;
    mixpanel_jwt_claim_set $jwt_role0 roles 0;
    mixpanel_jwt_claim_set $jwt_role9 roles 9;
    mixpanel_jwt_claim_set $jwt_n n;
    mixpanel_jwt_claim_set $jwt_neg neg;
    mixpanel_jwt_claim_set $jwt_f f;
    mixpanel_jwt_claim_set $jwt_big big;
    mixpanel_jwt_claim_set $jwt_b b;
    mixpanel_jwt_claim_set $jwt_nul nul;
    mixpanel_jwt_claim_set $jwt_ids ids;
    mixpanel_jwt_claim_set $jwt_dotted a.b;
    mixpanel_jwt_claim_set $jwt_missing no such claim;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config",
                      $HttpConfig . ($block->http_config // ""));
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: every algorithm, valid, from a JWKS with kid selection
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ map { "GET /t?t=$::T{$_}" } @::ALGS ]
--- response_body eval
[ map { "sub=user-$_\n" } @::ALGS ]
--- no_error_log
[error]
[alert]
JWT ignored
no "mixpanel_jwt" is set anywhere



=== TEST 2: every algorithm, claims changed under the same signature
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ map { "GET /t?t=$::T{\"tampered-$_\"}" } @::ALGS ]
--- response_body eval
[ map { "sub=\n" } @::ALGS ]
--- no_error_log
[error]
[alert]



=== TEST 3: a bearer token from the Authorization header
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{bearer}"
--- response_body
sub=bearer-user
--- no_error_log
[error]
[alert]



=== TEST 3a: "Bearer " in any case, spaces and tabs around it, or no scheme at all: the token is read; another scheme, or "Bearer" with no space, is no token
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ ("GET /t") x 9 ]
--- more_headers eval
[ "Authorization: bearer $::T{bearer}",
  "Authorization: BEARER $::T{bearer}",
  "Authorization: bEaReR $::T{bearer}",
  "Authorization: \tBearer   $::T{bearer} \t",
  "Authorization: $::T{bearer}",
  "Authorization: Bearer\t$::T{bearer}",
  "Authorization: Bearer$::T{bearer}",
  "Authorization: Basic $::T{bearer}",
  "Authorization: Bearer x$::T{bearer}" ]
--- response_body eval
[ ("sub=bearer-user\n") x 5, ("sub=\n") x 4 ]
--- no_error_log
[error]
[alert]



=== TEST 3b: a tab before "Bearer ", which nginx keeps at the start of a header's value (Test::Nginx's more_headers would not send it): the token is read
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- raw_request eval
"GET /t HTTP/1.0\r\nAuthorization: \t\tBearer $::T{bearer}\t\r\n\r\n"
--- response_body
sub=bearer-user
--- no_error_log
[error]
[alert]



=== TEST 3c: a token from a variable with tabs and spaces before it or before "Bearer ", and after it: read; a tab after "Bearer" or another scheme still is no token
--- http_config
    map $arg_c $tok {
        1  "\t$arg_t";
        2  "\t\tBearer $arg_t\t";
        3  " \t Bearer  $arg_t \t";
        4  "\tBearer\t$arg_t";
        5  "\tBasic $arg_t";
    }
--- config
    mixpanel_jwt $tok;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ map { "GET /t?c=$_&t=$::T{bearer}" } 1 .. 5 ]
--- response_body eval
[ ("sub=bearer-user\n") x 3, ("sub=\n") x 2 ]
--- no_error_log
[error]
[alert]



=== TEST 4: no token at all: empty, and nothing logged
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- response_body
sub=
--- no_error_log
JWT ignored
[error]



=== TEST 5: an expired token is ignored and logged at info
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{expired}"
--- response_body
sub=
--- error_log
[info]
mixpanel: JWT ignored: token expired
--- no_error_log
[error]



=== TEST 5a: bad tokens, three in one second (pipelined on one connection): logged once, a client cannot flood the log (docs/directives.md: at most once a second per worker)
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- raw_request eval
"GET /t?t=aaa.bbb.ccc HTTP/1.1\r\nHost: localhost\r\n\r\n"
. "GET /t?t=ddd.eee.fff HTTP/1.1\r\nHost: localhost\r\n\r\n"
. "GET /t?t=ggg.hhh.iii HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- ignore_response
--- grep_error_log eval
qr/JWT ignored: [^,]+/
--- grep_error_log_out eval
qr/\A(?:JWT ignored: [^\n]+\n){1}\z/



=== TEST 6: an expired token within the leeway is accepted
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
    mixpanel_jwt_leeway 1h;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{expired}"
--- response_body
sub=late
--- no_error_log
JWT ignored



=== TEST 7: a token not yet valid (nbf) is ignored
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{early}"
--- response_body
sub=
--- error_log
JWT ignored: token not yet valid



=== TEST 8: a token not yet valid within the leeway is accepted
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
    mixpanel_jwt_leeway 1h;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{early}"
--- response_body
sub=early
--- no_error_log
JWT ignored



=== TEST 9: the kid selects the key: another key's kid fails
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{wrong_kid}"
--- response_body
sub=
--- error_log
JWT ignored: signature verification failed



=== TEST 10: an unknown kid finds no key
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{no_kid}"
--- response_body
sub=
--- error_log
JWT ignored: no key for the token's "alg" and "kid"



=== TEST 10a: a kid that begins a key's kid ("rsa" of "rsa1", "h" of "hs"), one that a key's kid begins ("rsa12"), or one in another case ("RSA1") names no key, though the token is signed with that key; the token with the key's own kid, for comparison
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ map { "GET /t?t=$::T{$_}" } qw(kid_rsa kid_rsa12 kid_RSA1 kid_h bearer) ]
--- response_body eval
[ ("sub=\n") x 4, "sub=bearer-user\n" ]
--- no_error_log
[error]
JWT ignored: signature verification failed



=== TEST 11: a JWK's "alg" binds it; "use":"enc" keys are skipped
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /t?t=$::T{rsa2}", "GET /t?t=$::T{rsa2_ps}", "GET /t?t=$::T{enc_key}" ]
--- response_body eval
[ "sub=rsa2-user\n", "sub=\n", "sub=\n" ]
--- no_error_log
[error]
[alert]



=== TEST 11b: a JWK bound to an "alg" that begins with the token's ("RS2560", against RS256) does not verify it; the same key bound to RS256 does
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file ../html/alg-bound.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- user_files eval
[ [ "alg-bound.json", $::FILE{'alg-bound.json'} ] ]
--- request eval
[ "GET /t?t=$::T{alg_odd}", "GET /t?t=$::T{alg_even}" ]
--- response_body eval
[ "sub=\n", "sub=alg-even\n" ]
--- no_error_log
[error]



=== TEST 12: alg none is rejected
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{none}"
--- response_body
sub=
--- error_log
JWT ignored: unsupported algorithm



=== TEST 13: alg none in every form is rejected, even unverified
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }

    location = /off {
        mixpanel_jwt_verify off;
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /t?t=$::T{none_sig}", "GET /t?t=$::T{none_kid}",
  "GET /off?t=$::T{none_sig}", "GET /off?t=$::T{none_kid}" ]
--- response_body eval
[ "sub=\n", "sub=\n", "sub=\n", "sub=\n" ]
--- no_error_log
[error]
[alert]



=== TEST 14: algorithm confusion: HS256 with the RSA public key as secret
--- config
    location = /jwks {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
        return 200 "sub=$jwt_sub\n";
    }

    location = /pem {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/rsa1.pub;
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /jwks?t=$::T{confusion}", "GET /jwks?t=$::T{confusion_nokid}",
  "GET /pem?t=$::T{confusion}", "GET /pem?t=$::T{confusion_nokid}",
  "GET /pem?t=$::T{RS256}" ]
--- response_body eval
[ "sub=\n", "sub=\n", "sub=\n", "sub=\n", "sub=user-RS256\n" ]
--- no_error_log
[error]
[alert]



=== TEST 15: garbage never crashes a worker and gives empty claims
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ map { "GET /t?t=$_" } @::GARBAGE ]
--- response_body eval
[ map { "sub=\n" } @::GARBAGE ]
--- no_error_log
[error]
[alert]
[crit]
[emerg]



=== TEST 16: an oversized token is not parsed
--- config
    large_client_header_buffers 4 64k;
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . ("eyJh" x 4200)
--- response_body
sub=
--- error_log
JWT ignored: token too large



=== TEST 17: a large token under the limit is fine
--- config
    large_client_header_buffers 4 64k;
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{big}"
--- response_body
sub=big



=== TEST 18: several keys without kid: each fitting key is tried
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks-nokid.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /t?t=$::T{rsa1_nokid}", "GET /t?t=$::T{rsa2_nokid}",
  "GET /t?t=$::T{ec256_nokid}", "GET /t?t=$::T{ec384_nokid}",
  "GET /t?t=$::T{RS256}" ]
--- response_body eval
[ "sub=one\n", "sub=two\n", "sub=three\n", "sub=\n", "sub=user-RS256\n" ]
--- no_error_log
[error]
[alert]



=== TEST 19: a single JWK instead of a set
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwk-ec384.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /t?t=$::T{ec384_kid}", "GET /t?t=$::T{ES256}" ]
--- response_body eval
[ "sub=single\n", "sub=\n" ]



=== TEST 20: PEM public keys, RSA and EC of each size
--- config
    location = /rsa {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/rsa1.pub;
        return 200 "sub=$jwt_sub\n";
    }

    location = /ec256 {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/ec256.pub;
        return 200 "sub=$jwt_sub\n";
    }

    location = /ec384 {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/ec384.pub;
        return 200 "sub=$jwt_sub\n";
    }

    location = /ec521 {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/ec521.pub;
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /rsa?t=$::T{RS384}", "GET /rsa?t=$::T{PS256}",
  "GET /rsa?t=$::T{ES256}", "GET /ec256?t=$::T{ES256}",
  "GET /ec256?t=$::T{ES384}", "GET /ec384?t=$::T{ES384}",
  "GET /ec521?t=$::T{ES512}", "GET /ec521?t=$::T{RS512}" ]
--- response_body eval
[ "sub=user-RS384\n", "sub=user-PS256\n", "sub=\n", "sub=user-ES256\n",
  "sub=\n", "sub=user-ES384\n", "sub=user-ES512\n", "sub=\n" ]
--- no_error_log
[error]
[alert]



=== TEST 20a: PEM certificates, RSA and EC: their public keys verify (the keys' own tokens accepted, another algorithm's refused)
--- config
    location = /rsa {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/rsa1.crt;
        return 200 "sub=$jwt_sub\n";
    }

    location = /ec256 {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/ec256.crt;
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /rsa?t=$::T{RS256}", "GET /rsa?t=$::T{PS384}",
  "GET /rsa?t=$::T{ES256}", "GET /ec256?t=$::T{ES256}",
  "GET /ec256?t=$::T{RS256}" ]
--- response_body eval
[ "sub=user-RS256\n", "sub=user-PS384\n", "sub=\n", "sub=user-ES256\n",
  "sub=\n" ]
--- no_error_log
[error]
[alert]



=== TEST 20b: key files with white space before their text (a tab, a space, a return, blank lines): a PEM key, a PEM certificate and a JWKS are each read as such
--- config
    location = /pem {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file ../html/tab.pub;
        return 200 "sub=$jwt_sub\n";
    }

    location = /crt {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file ../html/tab.crt;
        return 200 "sub=$jwt_sub\n";
    }

    location = /jwks {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file ../html/tab.json;
        return 200 "sub=$jwt_sub\n";
    }
--- user_files eval
[ [ "tab.pub", "\t\n$::FILE{'rsa1.pub'}" ],
  [ "tab.crt", "\t \r\n\n$::FILE{'ec256.crt'}" ],
  [ "tab.json", "\t\r\n$::FILE{'jwks.json'}" ] ]
--- request eval
[ "GET /pem?t=$::T{RS256}", "GET /pem?t=$::T{ES256}",
  "GET /crt?t=$::T{ES256}", "GET /jwks?t=$::T{PS512}" ]
--- response_body eval
[ "sub=user-RS256\n", "sub=\n", "sub=user-ES256\n", "sub=user-PS512\n" ]
--- no_error_log
[error]
[alert]



=== TEST 21: nested claims, arrays, numbers, booleans
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub org=$jwt_org tier=$jwt_tier plan=$jwt_plan
roles=$jwt_roles role0=$jwt_role0 role9=$jwt_role9
n=$jwt_n neg=$jwt_neg f=$jwt_f big=$jwt_big b=$jwt_b nul=$jwt_nul
ids=$jwt_ids dotted=$jwt_dotted missing=$jwt_missing
";
    }
--- request eval
"GET /t?t=$::T{claims}"
--- response_body
sub=u-1 org=org-9 tier=gold plan=
roles=admin,dev role0=admin role9=
n=42 neg=-7 f=1.5 big=1e+300 b=true nul=
ids=1,2.5,three,false dotted=dotted missing=



=== TEST 21a: an array whose first items give no text (null, an object, an array, "") is joined from its first item that does: no comma before it, none for those after it either (round 21: a comma for each item but the first passed)
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "ids=$jwt_ids\n";
    }
--- request eval
"GET /t?t=$::T{skipped}"
--- response_body
ids=x,y



=== TEST 22: base64url with padding
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
"GET /t?t=$::T{padded}"
--- response_body
sub=padded-user



=== TEST 22a: a token holding every edge of the base64url alphabet (A Z a z 0 9 - _) is read; with one character just past an edge (@ [ ` { : ) or a base64 one (+ /) in its header, payload or signature, it is not
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ map { "GET /t?t=$_" } $::T{edges}, @::PAST ]
--- response_body eval
[ "sub=edges-9\n", map { "sub=\n" } @::PAST ]
--- no_error_log
[error]
[alert]



=== TEST 23: verification off: warned about, claims read unchecked
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_verify off;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /t?t=$::T{'tampered-RS256'}", "GET /t?t=$::T{confusion}",
  "GET /t?t=$::T{expired}" ]
--- response_body eval
[ "sub=admin\n", "sub=attacker\n", "sub=\n" ]



=== TEST 24: verification off is warned about at start-up
--- config
    location = /t {
        mixpanel_jwt $http_authorization;
        mixpanel_jwt_verify off;
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{'tampered-ES256'}"
--- response_body
sub=admin
--- error_log
[warn]
"mixpanel_jwt_verify off": JWT claims are used without checking their signature



=== TEST 25: claims survive internal redirects and are read in any phase
--- http_config
    log_format jwt "sub=$jwt_sub org=$jwt_org";
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        set $early $jwt_sub;
        rewrite ^ /inner last;
    }

    location = /inner {
        access_log logs/jwt.log jwt;
        error_page 418 = @named;
        return 418;
    }

    location @named {
        access_log logs/jwt.log jwt;
        return 200 "early=$early sub=$jwt_sub org=$jwt_org\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{claims}"
--- response_body
early=u-1 sub=u-1 org=org-9
--- no_error_log
[error]



=== TEST 25a: mixpanel_jwt's value changed within a request to the beginning of the token it was (the token less its signature's last byte, less its whole signature): decoded again, refused; a value changed to a longer one too (the token and a byte more)
--- config
    mixpanel_jwt $tok;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        set $tok $arg_t;
        set $first $jwt_sub;
        set $tok $arg_u;
        return 200 "first=$first second=$jwt_sub\n";
    }
--- request eval
my $t = $::T{bearer};
(my $unsigned = $t) =~ s/[^.]*$//;
[ "GET /t?t=$t&u=" . substr($t, 0, -1), "GET /t?t=$t&u=$unsigned",
  "GET /t?t=" . substr($t, 0, -1) . "&u=$t", "GET /t?t=$t&u=${t}A" ]
--- response_body eval
[ "first=bearer-user second=\n", "first=bearer-user second=\n",
  "first= second=bearer-user\n", "first=bearer-user second=\n" ]
--- no_error_log
[error]



=== TEST 26: the claims reach the log phase
--- http_config
    log_format jwt "sub=$jwt_sub roles=$jwt_roles";
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        access_log logs/jwt.log jwt;
        return 200 "ok\n";
    }

    location = /log {
        access_log off;
        mixpanel_jwt off;
        alias logs/jwt.log;
    }
--- request eval
[ "GET /t", "GET /log" ]
--- more_headers eval
"Authorization: Bearer $::T{claims}"
--- response_body eval
[ "ok\n", "sub=u-1 roles=admin,dev\n" ]



=== TEST 27: mixpanel_jwt off in a location, or from a cookie in another
--- config
    mixpanel_jwt $cookie_session;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }

    location = /off {
        mixpanel_jwt off;
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /t", "GET /off" ]
--- more_headers eval
"Cookie: a=b; session=$::T{cookie}; c=d"
--- response_body eval
[ "sub=cookie-user\n", "sub=\n" ]



=== TEST 28: exp must be a NumericDate
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /t?t=$::T{exp_string}", "GET /t?t=$::T{exp_float}",
  "GET /t?t=$::T{exp_numstr}" ]
--- response_body eval
[ "sub=\n", "sub=float\n", "sub=numstr\n" ]
--- no_error_log
[error]



=== TEST 28b: an exp or nbf that is there but no time (null, {}, [], "") makes the token unusable, as a malformed one; the same token without the claim is read
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /t?t=$::T{exp_null}", "GET /t?t=$::T{exp_object}",
  "GET /t?t=$::T{exp_array}", "GET /t?t=$::T{exp_empty}",
  "GET /t?t=$::T{nbf_null}", "GET /t?t=$::T{exp_float}" ]
--- response_body eval
[ "sub=\n", "sub=\n", "sub=\n", "sub=\n", "sub=\n", "sub=float\n" ]
--- no_error_log
[error]



=== TEST 28c: an nbf that is no time, or an nbf or exp of 10^19 s (past any clock), makes the token unusable; an nbf in the past is read
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /t?t=$::T{nbf_string}", "GET /t?t=$::T{nbf_huge}",
  "GET /t?t=$::T{exp_huge}", "GET /t?t=$::T{nbf_past}" ]
--- response_body eval
[ "sub=\n", "sub=\n", "sub=\n", "sub=nbfpast\n" ]
--- no_error_log
[error]



=== TEST 28d: a malformed nbf is logged
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
"GET /t?t=$::T{nbf_huge}"
--- response_body
sub=
--- error_log
JWT ignored: malformed "nbf" claim



=== TEST 29: crit headers, duplicate claims and non-JSON payloads
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /t?t=$::T{crit}", "GET /t?t=$::T{dup_claim}",
  "GET /t?t=$::T{not_json}", "GET /t?t=$::T{array_payload}" ]
--- response_body eval
[ "sub=\n", "sub=\n", "sub=\n", "sub=\n" ]
--- no_error_log
[error]
[alert]



=== TEST 30: a changed claim fails the signature, logged at info
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{'tampered-PS384'}"
--- response_body
sub=
--- error_log
[info]
mixpanel: JWT ignored: signature verification failed



=== TEST 31: the confusion attack finds no HMAC key
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/rsa1.pub;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{confusion}"
--- response_body
sub=
--- error_log
JWT ignored: no key for the token's "alg" and "kid"



=== TEST 32: a malformed exp is logged
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{exp_string}"
--- response_body
sub=
--- error_log
JWT ignored: malformed "exp" claim



=== TEST 33: a crit header is logged
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{crit}"
--- response_body
sub=
--- error_log
JWT ignored: unsupported "crit" header



=== TEST 34: alg none with a signature is an unsupported algorithm
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::T{none_sig}"
--- response_body
sub=
--- error_log
JWT ignored: unsupported algorithm



=== TEST 35: "mixpanel_jwt $jwt_sub" does not loop
--- config
    mixpanel_jwt $jwt_sub;
    mixpanel_jwt_verify off;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- response_body
sub=
--- no_error_log
[error]
[alert]



=== TEST 36: an unreadable key file stops nginx -t
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/no-such-file.json;

    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) ".*no-such-file\.json" failed/



=== TEST 37: a token that an auth_request subrequest hands back
--- config
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /api {
        auth_request /auth;
        auth_request_set $auth_token $upstream_http_x_token;
        mixpanel_jwt $auth_token;
        proxy_set_header X-Sub $jwt_sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/app;
    }

    location = /backend/app {
        return 200 "sub=$http_x_sub\n";
    }

    location = /auth {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/auth;
        proxy_pass_request_body off;
    }

    location = /backend/auth {
        add_header X-Token $http_x_session;
        return 200;
    }
--- request
GET /api
--- more_headers eval
"X-Session: $::T{bearer}"
--- response_body
sub=bearer-user
--- no_error_log
[error]



=== TEST 38: malformed JSON in a key file: the file, the position
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks-broken.json;

    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/jwks-broken\.json": invalid JSON at line 2, column 0: '\]' expected near end of file; it takes a JWKS \(\{"keys":\[\.\.\.\]\}\), a single JWK, or a PEM public key or certificate in /



=== TEST 39: an RSA key without "n"
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks-badkey.json;

    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/jwks-badkey\.json": key 1 has no "n"; an "RSA" key needs "n" and "e" in /



=== TEST 40: an empty key set
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks-empty.json;

    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/jwks-empty\.json": "keys" is an empty array; it takes a JWKS/



=== TEST 41: a file that is neither JWKS nor PEM: the secret is not quoted
jansson quotes the text near an error; the file is an HMAC secret.
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/hs.hex;

    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/hs\.hex": invalid JSON at line 1, column 1: '\[' or '\{' expected; it takes a JWKS/
--- no_error_log
2a9bffcf



=== TEST 42: a token to verify and no key to verify it with
--- config
    mixpanel_jwt $http_authorization;

    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_jwt" is set but no "mixpanel_jwt_key_file" to verify it with



=== TEST 43: a claim variable defined twice
--- http_config
    mixpanel_jwt_claim_set $jwt_sub2 sub;
    mixpanel_jwt_claim_set $jwt_sub2 sub;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
the duplicate "jwt_sub2" variable



=== TEST 43a: "$" alone is no variable name
--- http_config
    mixpanel_jwt_claim_set $ sub;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid variable name "$" in "mixpanel_jwt_claim_set", it takes "$name" and then the claim



=== TEST 43b: a variable of one letter is a name
--- http_config
    mixpanel_jwt_claim_set $s sub;
--- config
    location = /t {
        return 200 "[$s]\n";
    }
--- request
GET /t
--- response_body
[]



=== TEST 44: mixpanel_jwt_claim_set only in the http block
--- config
    mixpanel_jwt_claim_set $x sub;

    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_jwt_claim_set" directive is not allowed here



=== TEST 45: the worker's cache of decoded tokens never crosses key sets
A token decoded once is remembered by the worker; it is found again only
for the same token decoded the same way: unverified claims never make a
token valid where it is verified, nor does one key set's verdict serve
another's.
--- config
    location = /off {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_verify off;
        return 200 "sub=$jwt_sub\n";
    }

    location = /rsa1 {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/rsa1.pub;
        return 200 "sub=$jwt_sub\n";
    }

    location = /rsa2 {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/rsa2.pub;
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /off?t=$::T{'tampered-RS256'}", "GET /rsa1?t=$::T{'tampered-RS256'}",
  "GET /off?t=$::T{'tampered-RS256'}", "GET /rsa1?t=$::T{rsa1_nokid}",
  "GET /rsa1?t=$::T{rsa1_nokid}", "GET /rsa2?t=$::T{rsa1_nokid}",
  "GET /rsa1?t=$::T{rsa1_nokid}", "GET /rsa2?t=$::T{rsa2_nokid}",
  "GET /rsa1?t=$::T{rsa2_nokid}", "GET /rsa2?t=$::T{rsa2_nokid}" ]
--- response_body eval
[ "sub=admin\n", "sub=\n", "sub=admin\n", "sub=one\n", "sub=one\n",
  "sub=\n", "sub=one\n", "sub=two\n", "sub=\n", "sub=two\n" ]
--- no_error_log
[error]
[alert]



=== TEST 46: a remembered token's exp and nbf are checked at every use
The same key set serves both locations, so the second request of each
pair is answered from the cache, with the strict location's leeway.
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /lenient {
        mixpanel_jwt_leeway 1h;
        return 200 "sub=$jwt_sub\n";
    }

    location = /strict {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
[ "GET /lenient?t=$::T{expired}", "GET /strict?t=$::T{expired}",
  "GET /lenient?t=$::T{expired}", "GET /lenient?t=$::T{early}",
  "GET /strict?t=$::T{early}", "GET /lenient?t=$::T{early}" ]
--- response_body eval
[ "sub=late\n", "sub=\n", "sub=late\n", "sub=early\n", "sub=\n",
  "sub=early\n" ]
--- no_error_log
[error]
[alert]



=== TEST 47: no key in scope is never answered from unverified claims
A server's own scope verifies and has no key (its rewrite phase, and a
request that matches no location, are served there; nginx -t allows it,
as a server may leave keys to its locations): a token that an unverified
location decoded first stays unusable there.  The server has no catch-all
location, so it is a virtual server of its own.
--- http_config
    server {
        listen $TEST_NGINX_SERVER_PORT;
        server_name srv.test;

        mixpanel_jwt $arg_t;

        if ($uri = /srv) {
            return 200 "sub=$jwt_sub\n";
        }

        location = /gw {
            mixpanel_jwt_verify off;
            return 200 "sub=$jwt_sub\n";
        }
    }
--- config
    location = /t {
        return 200;
    }
--- more_headers
Host: srv.test
--- request eval
[ "GET /srv?t=$::T{forged}", "GET /gw?t=$::T{forged}",
  "GET /srv?t=$::T{forged}", "GET /gw?t=$::T{forged}",
  "GET /srv?t=$::T{HS256}", "GET /gw?t=$::T{HS256}" ]
--- response_body eval
[ "sub=\n", "sub=forged\n", "sub=\n", "sub=forged\n", "sub=\n",
  "sub=user-HS256\n" ]
--- no_error_log
[error]
[alert]



=== TEST 48: no key in scope: a valid token is ignored, and logged
--- http_config
    server {
        listen $TEST_NGINX_SERVER_PORT;
        server_name srv.test;

        mixpanel_jwt $arg_t;
        return 200 "sub=$jwt_sub\n";
    }
--- config
    location = /t {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
        return 200 "sub=$jwt_sub\n";
    }
--- more_headers
Host: srv.test
--- request eval
"GET /t?t=$::T{HS256}"
--- response_body
sub=
--- error_log
[info]
mixpanel: JWT ignored: no "mixpanel_jwt_key_file"



=== TEST 49: a location that verifies with no key in scope stops nginx -t, with the whole message (no errno after it)
The repro of issue 13: "/other/" verifies (the default) and has no key,
"/gw/" does not verify.
--- config
    mixpanel_jwt $arg_t;

    location /gw/ {
        mixpanel_jwt_verify off;
        return 200 "sub=$jwt_sub\n";
    }

    location /other/ {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /other/
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt" applies in location "\/other\/" with "mixpanel_jwt_verify on" but no "mixpanel_jwt_key_file" is in scope: set a key file there or above, "mixpanel_jwt_verify off" \(a gateway verified the token\) or "mixpanel_jwt off" in \S+nginx\.conf:\d+$/m



=== TEST 50: an "oct" key without "k": the file, the key, its kid
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file ../html/nok.json;

    location = /t {
        return 200;
    }
--- user_files
>>> nok.json
{"keys": [{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"},
          {"kty": "oct", "kid": "hs-secret"}]}
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/nok\.json": key 2 \(kid "hs-secret"\) has no "k"; an "oct" key needs "k", its secret in base64url in /



=== TEST 51: a key that libcjose refuses: the key, its kid, the reason
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file ../html/bad-ec.json;

    location = /t {
        return 200;
    }
--- user_files
>>> bad-ec.json
{"keys": [{"kty": "EC", "crv": "P-256", "x": "AQAB", "y": "AQAB",
           "kid": "bad-ec"}]}
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/bad-ec\.json": key 1 \(kid "bad-ec"\) is invalid \(libcjose: invalid argument\); see RFC 7518 section 6 for the members of each key type in /



=== TEST 52: a key type libcjose does not take
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file ../html/okp.json;

    location = /t {
        return 200;
    }
--- user_files
>>> okp.json
{"kty": "OKP", "crv": "Ed25519", "x": "AQAB"}
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/okp\.json": key 1 has the unsupported "kty" "OKP"; the key types are "oct", "RSA" and "EC" in /



=== TEST 53: only encryption keys: no signature verification key
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file ../html/enc.json;

    location = /t {
        return 200;
    }
--- user_files
>>> enc.json
{"keys": [{"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}]}
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/enc\.json": no signature verification key, every key is "use":"enc" in /



=== TEST 54: a private key is no public key
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/rsa1.key;

    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/rsa1\.key": no PEM public key or certificate; it takes "BEGIN PUBLIC KEY" or "BEGIN CERTIFICATE", never a private key in /



=== TEST 55: invalid JSON around a secret: the position, never the text
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file ../html/leak.json;

    location = /t {
        return 200;
    }
--- user_files
>>> leak.json
{"keys": [{"kty": "oct",
           "k": AAAsecretBBB}]}
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/leak\.json": invalid JSON at line 2, column 28: invalid token; it takes a JWKS /
--- no_error_log
secret



=== TEST 56: JSON that is not an object
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file ../html/array.json;

    location = /t {
        return 200;
    }
--- user_files
>>> array.json
[{"kty": "oct", "k": "AQAB"}]
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/array\.json": not a JSON object; it takes a JWKS \(\{"keys":\[\.\.\.\]\}\), a single JWK, or a PEM public key or certificate in /



=== TEST 56a: a JSON object with neither "keys" nor "kty"
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file ../html/nokeys.json;

    location = /t {
        return 200;
    }
--- user_files
>>> nokeys.json
{"key": {"kty": "oct", "k": "AQAB"}}
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/nokeys\.json": neither a "keys" array nor a "kty"; it takes a JWKS \(\{"keys":\[\.\.\.\]\}\), a single JWK, or a PEM public key or certificate in /



=== TEST 56b: "keys" that is not an array
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file ../html/keysobj.json;

    location = /t {
        return 200;
    }
--- user_files
>>> keysobj.json
{"keys": {"kty": "oct", "k": "AQAB"}}
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/keysobj\.json": "keys" is not an array; it takes a JWKS \(\{"keys":\[\.\.\.\]\}\), a single JWK, or a PEM public key or certificate in /



=== TEST 56c: a JWKS whose second key is not a JSON object (the first is valid)
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file ../html/second.json;

    location = /t {
        return 200;
    }
--- user_files
>>> second.json
{"keys": [{"kty": "oct", "k": "AQAB"}, "AQAB"]}
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/second\.json": key 2 is not a JSON object; it takes a JWKS \(\{"keys":\[\.\.\.\]\}\), a single JWK, or a PEM public key or certificate in /



=== TEST 56d: a PEM Ed25519 public key, a key type the JWS algorithms taken here (HS, RS, PS, ES) do not use
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file ../html/ed25519.pub;

    location = /t {
        return 200;
    }
--- user_files
>>> ed25519.pub
-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEATQCItiDyjSf0s4Uex30FGOZmZHMUp4ecWrta9rJMgsI=
-----END PUBLIC KEY-----
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/ed25519\.pub": unsupported key type; it takes RSA keys and EC keys on P-256, P-384 or P-521 in /



=== TEST 56e: a PEM EC public key on secp256k1, a curve none of ES256, ES384, ES512 uses
--- config
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file ../html/k1.pub;

    location = /t {
        return 200;
    }
--- user_files
>>> k1.pub
-----BEGIN PUBLIC KEY-----
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAELURMyWziLtB8LtYFcVx4wCawtIiJIVrl
5xmwaNhWyQRETgpifZRU7CBwLLKlJSD/CGOIzfBnfTofEM5M7GLVJA==
-----END PUBLIC KEY-----
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/k1\.pub": unsupported elliptic curve; it takes RSA keys and EC keys on P-256, P-384 or P-521 in /



=== TEST 57: a key file of exactly 1 MB is read
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file ../html/big.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- user_files eval
[ [ 'big.json' => ::hs_jwks_of_size(1048576) ] ]
--- request eval
"GET /t?t=$::T{HS256}"
--- response_body
sub=user-HS256
--- no_error_log
[error]
[alert]



=== TEST 58: a key file of 1 MB and one byte is not
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file ../html/big.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- user_files eval
[ [ 'big.json' => ::hs_jwks_of_size(1048577) ] ]
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*"mixpanel_jwt_key_file" ".*\/html\/big\.json" is too large \(1048577 bytes\), it may have at most 1048576 bytes in /



=== TEST 59: an "oct" key made with the command of troubleshooting.md
The command prints the base64url of 32 random bytes; the same bytes sign
the token.
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file ../html/oct.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- user_files eval
my $k = `openssl rand 32 | basenc --base64url | tr -d '=\\n'`;
die "the command failed\n" if $? || $k !~ /^[A-Za-z0-9_-]{43}$/;
(my $b64 = $k) =~ tr/-_/+\//;
$::OctSecret = MIME::Base64::decode_base64($b64);
[ [ 'oct.json' => qq({"keys": [{"kty": "oct", "kid": "mine", "k": "$k"}]}) ] ]
--- request eval
[ "GET /t?t=" . ::jwt('HS256', \$::OctSecret, { sub => 'made' }, kid => 'mine'),
  "GET /t?t=" . ::jwt('HS256', \"another secret", { sub => 'x' }, kid => 'mine') ]
--- response_body eval
[ "sub=made\n", "sub=\n" ]
--- no_error_log
[error]
[alert]



=== TEST 60: exp == now is expired, nbf == now is valid, leeway on both
RFC 7519 4.1.4 (exp: accepted while now < exp) and 4.1.5 (nbf: from now
>= nbf), shifted by the leeway.  Thirteen tokens a second apart, minted
just before the request, are read in one request at one instant; the
filter gives each token's verdict against nginx's own clock.
--- config eval
"    mixpanel_jwt \$tok;\n"
. "    mixpanel_jwt_key_file \$TEST_NGINX_DATA/jwks.json;\n\n"
. ::boundary_location('/t', 0) . "\n" . ::boundary_location('/leeway', 3)
--- init
$block->set_value(request => ::boundary_requests());
--- request eval
[ "GET /t", "GET /t", "GET /t", "GET /t" ]
--- response_body_filters eval
\&::verdicts
--- response_body eval
[ "exp at edge-1: rejected\nexp at edge+0: rejected\nexp at edge+1: accepted\n",
  "nbf at edge-1: accepted\nnbf at edge+0: accepted\nnbf at edge+1: rejected\n",
  "exp at edge-1: rejected\nexp at edge+0: rejected\nexp at edge+1: accepted\n",
  "nbf at edge-1: accepted\nnbf at edge+0: accepted\nnbf at edge+1: rejected\n" ]
--- no_error_log
[error]
[alert]



=== TEST 61: a token of exactly 16384 bytes is read
--- config
    large_client_header_buffers 4 64k;
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . ::jwt_of_size(16384)
--- response_body
sub=size-16384
--- no_error_log
JWT ignored
[error]



=== TEST 62: a token of 16385 bytes is not
--- config
    large_client_header_buffers 4 64k;
    mixpanel_jwt $http_authorization;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . ::jwt_of_size(16385)
--- response_body
sub=
--- error_log
[info]
mixpanel: JWT ignored: token too large



=== TEST 63: claim variables with no mixpanel_jwt anywhere: warned at start
TEST 1 is the control: with a mixpanel_jwt, no warning.
--- config
    location = /t {
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
"GET /t?t=$::T{HS256}"
--- response_body
sub=
--- error_log eval
qr/\[warn\] .*"mixpanel_jwt_claim_set" defines "\$jwt_sub" but no "mixpanel_jwt" is set anywhere, so claim variables are always empty in .*nginx\.conf:\d+/



=== TEST 63a: two claim variables read with no mixpanel_jwt anywhere: the first named, "and others"
--- config
    location = /t {
        return 200 "sub=$jwt_sub org=$jwt_org\n";
    }
--- request eval
"GET /t?t=$::T{HS256}"
--- response_body
sub= org=
--- error_log eval
qr/\[warn\] .*"mixpanel_jwt_claim_set" defines "\$jwt_\w+" and others but no "mixpanel_jwt" is set anywhere, so claim variables are always empty in .*nginx\.conf:\d+/



=== TEST 63b: claim variables defined but read nowhere: no warning
A shared preamble may define claims that only some configurations read;
TEST 63 is the control (the same with $jwt_sub read: warned).
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
no "mixpanel_jwt" is set anywhere
[alert]



=== TEST 63c: claim variables read nowhere, and a variable whose name begins with one ($jwt_sub_x) read: no warning
TEST 63 is the control.
--- config
    location = /t {
        set $jwt_sub_x "x";
        return 200 "ok $jwt_sub_x\n";
    }
--- request
GET /t
--- response_body
ok x
--- no_error_log
no "mixpanel_jwt" is set anywhere
[alert]



=== TEST 64: a claim read where no mixpanel_jwt applies is logged, once
Read first where "mixpanel_jwt off" says so (not logged: the one line a
minute would have named "/off"), then where nothing applies.
--- config
    location = /t {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
        return 200 "sub=$jwt_sub\n";
    }

    location = /off {
        mixpanel_jwt off;
        set $x $jwt_sub;
        rewrite ^ /plain last;
    }

    location = /plain {
        return 200 "x=$x sub=$jwt_sub org=$jwt_org\n";
    }
--- request eval
"GET /off?t=$::T{HS256}"
--- response_body
x= sub= org=
--- grep_error_log eval
qr/\[info\] .*claim variable "\$\w+" read .*?: it is empty/
--- grep_error_log_out eval
qr/^\[info\] .*mixpanel: claim variable "\$jwt_sub" read in location "\/plain", where no "mixpanel_jwt" applies: it is empty\n$/



=== TEST 65: a claim read at a server's level where none applies
--- http_config
    server {
        listen $TEST_NGINX_SERVER_PORT;
        server_name srv.test;

        return 200 "sub=$jwt_sub\n";
    }
--- config
    location = /t {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
        return 200 "sub=$jwt_sub\n";
    }
--- more_headers
Host: srv.test
--- request eval
"GET /x?t=$::T{HS256}"
--- response_body
sub=
--- error_log
[info]
mixpanel: claim variable "$jwt_sub" read at the server level, where no "mixpanel_jwt" applies: it is empty



=== TEST 66: claims of one request never cross trust levels either
The request's own memo of its claims is per location: an unverified read
before an internal redirect, a named location or in a subrequest does not
answer a verifying location after it, nor does a key set answer another.
--- config
    mixpanel_jwt $arg_t;
    mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;

    location = /gw {
        mixpanel_jwt_verify off;
        set $before $jwt_sub;
        rewrite ^ /verified last;
    }

    location = /gw-named {
        mixpanel_jwt_verify off;
        set $before $jwt_sub;
        error_page 418 = @verified;
        return 418;
    }

    location = /gw-sub {
        auth_request /unverified;
        return 200 "sub=$jwt_sub\n";
    }

    location = /unverified {
        internal;
        mixpanel_jwt_verify off;
        set $before $jwt_sub;
        return 204;
    }

    location = /rsa2 {
        mixpanel_jwt_key_file $TEST_NGINX_DATA/rsa2.pub;
        set $before $jwt_sub;
        rewrite ^ /verified last;
    }

    location = /verified {
        return 200 "before=$before sub=$jwt_sub\n";
    }

    location @verified {
        return 200 "before=$before sub=$jwt_sub\n";
    }
--- request eval
[ "GET /gw?t=$::T{forged}", "GET /gw-named?t=$::T{forged}",
  "GET /gw-sub?t=$::T{forged}", "GET /gw?t=$::T{HS256}",
  "GET /rsa2?t=$::T{rsa1_nokid}", "GET /rsa2?t=$::T{rsa2_nokid}" ]
--- response_body eval
[ "before=forged sub=\n", "before=forged sub=\n", "sub=\n",
  "before=user-HS256 sub=user-HS256\n", "before= sub=one\n",
  "before=two sub=\n" ]
--- no_error_log
[error]
[alert]



=== TEST 67: mixpanel_jwt_claim_set takes $name first
--- http_config
    mixpanel_jwt_claim_set jwt_x sub;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid variable name "jwt_x" in "mixpanel_jwt_claim_set", it takes "\$name" and then the claim in .*nginx\.conf:\d+/



=== TEST 68: mixpanel_jwt_claim_set takes no empty claim name
--- http_config
    mixpanel_jwt_claim_set $jwt_x org "";
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*empty claim name in "mixpanel_jwt_claim_set \$jwt_x", it takes names of JSON members or array indexes in /



=== TEST 69: the worker remembers a token of up to 2048 bytes (2048 is)
A token the size of the cache's longest key is stored by its first
decoding (the front location's) and found by the second (the back
location's, proxied to by the same worker); the debug log says so.
--- config
    location = /front {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_verify off;
        set $front $jwt_sub;
        add_header X-Front $front;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back?t=$arg_t;
    }

    location = /back {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_verify off;
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
"GET /front?t=$::T{key2048}"
--- response_headers
X-Front: sized
--- response_body
sub=sized
--- error_log
mixpanel jwt: token found in the cache
--- no_error_log
[error]



=== TEST 70: a token one byte longer than the cache's keys (2049) is decoded every time, never from the cache
--- config
    location = /front {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_verify off;
        set $front $jwt_sub;
        add_header X-Front $front;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back?t=$arg_t;
    }

    location = /back {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_verify off;
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
"GET /front?t=$::T{key2049}"
--- response_headers
X-Front: sized
--- response_body
sub=sized
--- no_error_log
mixpanel jwt: token found in the cache
[error]



=== TEST 71: the worker remembers claims of up to 1 KB (1024 bytes are)
As TEST 69, for the size of the claims kept: a "sub" of 1024 bytes.
--- config
    location = /front {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_verify off;
        set $front $jwt_sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back?t=$arg_t;
    }

    location = /back {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_verify off;
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
"GET /front?t=$::T{claims1024}"
--- response_body eval
"sub=" . ("c" x 1024) . "\n"
--- error_log
mixpanel jwt: token found in the cache
--- no_error_log
[error]



=== TEST 72: claims of 1025 bytes are decoded every time, never from the cache
--- config
    location = /front {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_verify off;
        set $front $jwt_sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back?t=$arg_t;
    }

    location = /back {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_verify off;
        return 200 "sub=$jwt_sub\n";
    }
--- request eval
"GET /front?t=$::T{claims1025}"
--- response_body eval
"sub=" . ("c" x 1025) . "\n"
--- no_error_log
mixpanel jwt: token found in the cache
[error]



=== TEST 73: a token read from a claim of itself ("mixpanel_jwt $jwt_sub;") does not recurse (nginx would stop it after 100 levels with "cycle while evaluating variable" at error): the claim is empty, nothing is logged; the same location reading the token from the query has the claim (positive control)
--- config
    location = /self {
        mixpanel_jwt $jwt_sub;
        mixpanel_jwt_verify off;
        return 200 "sub=[$jwt_sub]\n";
    }

    location = /query {
        mixpanel_jwt $arg_t;
        mixpanel_jwt_verify off;
        return 200 "sub=[$jwt_sub]\n";
    }
--- request eval
["GET /self", "GET /self", "GET /query?t=$::T{claims1024}"]
--- response_body eval
["sub=[]\n", "sub=[]\n", "sub=[" . ("c" x 1024) . "]\n"]
--- no_error_log
[error]
[alert]
[crit]
exited on signal
