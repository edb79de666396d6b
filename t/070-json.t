# JSON body fields as variables: mixpanel_json_set, mixpanel_json_max_size.
# Upstreams are locations of the same server reached with proxy_pass.  A
# response variable is read at the log phase (what the tracker does), so
# the blocks log it with access_log and read the log with a second request.
# Responses must pass through byte for byte.

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/data";
use TestJWT qw(jwt data_dir);

$ENV{TEST_NGINX_DATA} = data_dir();

our %T = (
    login => jwt('HS256', 'hs', { sub => 'user-login' }, kid => 'hs',
                 exp_in => 3600),
);

our $LOGIN = qq({"account":{"id":"acc-1"},"token":"$T{login}"});

# about 40 KB, the field last: it spans many proxy buffers
our $BIG = '{"filler":[' . join(',', map { qq("item-$_-) . 'x' x 20 . '"' }
                                       1 .. 1400)
           . '],"account":{"id":"acc-big"}}';

our $HttpConfig = <<'_EOC_';
    mixpanel_json_set $acct response /account/id;
    mixpanel_json_set $login_token response /token;
    mixpanel_json_set $resp_root response "";
    mixpanel_json_set $resp_list response /list;
    mixpanel_json_set $resp_item1 response /items/1/id;
    mixpanel_json_set $resp_item9 response /items/9/id;
    mixpanel_json_set $resp_escaped response /a~1b/m~0n;
    mixpanel_json_set $resp_num response /n;
    mixpanel_json_set $resp_obj response /account;
    mixpanel_json_set $resp_empty_key response /;
    mixpanel_json_set $profile request /profile_id;
    mixpanel_json_set $req_nested request /p/0/x~1y;

    mixpanel_jwt_claim_set $jwt_sub sub;

    log_format ids 'acct=$acct sub=$jwt_sub profile=$profile';
    log_format ptr 'root=$resp_root list=$resp_list item1=$resp_item1 '
                   'item9=$resp_item9 escaped=$resp_escaped num=$resp_num '
                   'obj=$resp_obj empty_key=$resp_empty_key';
_EOC_

our $Helpers = <<'_EOC_';
    location = /log {
        access_log off;
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/ids.log;
    }

    location = /backend/echo {
        access_log off;
        default_type application/json;
        return 200 "profile=$http_x_profile\n";
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    my $http_config = $block->http_config // "";

    # "# alone": this block's http_config only
    if ($http_config !~ /^\s*# alone/) {
        $block->set_value("http_config", $HttpConfig . $http_config);
    }

    if (defined $block->config) {
        $block->set_value("config", $block->config . $Helpers);
    }
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a login endpoint: account id and the token's claims at the log phase
--- config
    location = /login {
        mixpanel_jwt $login_token;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
        access_log logs/ids.log ids;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/login;
    }

    location = /backend/login {
        access_log off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-1"},"token":"$arg_tok"}';
    }
--- request eval
[ "GET /login?tok=$::T{login}", "GET /log" ]
--- response_body eval
[ $::LOGIN, "acct=acc-1 sub=user-login profile=-\n" ]
--- no_error_log
[error]
[alert]



=== TEST 2: the copy is made only when a response variable is used
--- config
    location = /login {
        access_log logs/ids.log ids;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/login;
    }

    location = /backend/login {
        access_log off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-2"}}';
    }
--- request
GET /login
--- response_body chomp
{"account":{"id":"acc-2"}}
--- error_log
mixpanel json: copying response body



=== TEST 3: no response variable referenced: no body filter at all
--- http_config
    # alone
    mixpanel_json_set $acct response /account/id;
    mixpanel_json_set $profile request /profile_id;

    log_format only_request 'profile=$profile';
--- config
    location = /t {
        access_log logs/ids.log only_request;
        default_type application/json;
        return 200 '{"account":{"id":"acc-3"}}';
    }
--- request
GET /t
--- response_body chomp
{"account":{"id":"acc-3"}}
--- no_error_log
mixpanel json: copying response body
mixpanel json: not copying response body



=== TEST 3a: a used variable whose name begins with the response variable's ($acct_id, $acct_x beside an unused $acct) does not make it used: no body filter (TEST 2 is the same with $acct used)
--- http_config
    # alone
    mixpanel_json_set $acct response /account/id;
    map $uri $acct_x { default "x"; }

    log_format other_names 'x=$acct_x id=$acct_id';
--- config
    location = /t {
        set $acct_id "i";
        access_log logs/ids.log other_names;
        default_type application/json;
        return 200 '{"account":{"id":"acc-3"}}';
    }
--- request
GET /t
--- response_body chomp
{"account":{"id":"acc-3"}}
--- no_error_log
mixpanel json: copying response body
mixpanel json: not copying response body



=== TEST 4: a large body spanning many buffers passes unchanged
--- config
    location = /big {
        access_log logs/ids.log ids;
        proxy_max_temp_file_size 0;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/big.json;
    }

    location = /backend/big.json {
        access_log off;
        default_type application/json;
        root $TEST_NGINX_SERVER_ROOT/html;
        rewrite ^ /big.json break;
    }
--- user_files eval
">>> big.json\n$::BIG"
--- request eval
[ "GET /big", "GET /log" ]
--- response_body eval
[ $::BIG, "acct=acc-big sub=- profile=-\n" ]
--- no_error_log
[error]



=== TEST 5: a body over mixpanel_json_max_size is not parsed, and passes
--- config
    location = /big {
        mixpanel_json_max_size 16k;
        access_log logs/ids.log ids;
        proxy_max_temp_file_size 0;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/big.json;
    }

    location = /backend/big.json {
        access_log off;
        default_type application/json;
        root $TEST_NGINX_SERVER_ROOT/html;
        rewrite ^ /big.json break;
    }
--- user_files eval
">>> big.json\n$::BIG"
--- request eval
[ "GET /big", "GET /log" ]
--- response_body eval
[ $::BIG, "acct=- sub=- profile=-\n" ]



=== TEST 6: a body of unknown length (no Content-Length) is copied too
--- config
    location = /stream {
        access_log logs/ids.log ids;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/stream.json;
    }

    location = /backend/stream.json {
        access_log off;
        default_type application/json;
        ssi on;
        ssi_types application/json;
        root $TEST_NGINX_SERVER_ROOT/html;
        rewrite ^ /stream.json break;
    }
--- user_files
>>> stream.json
{"account":{"id":"<!--# echo var="arg_id" -->"},"more":[1,2,3]}
--- request eval
[ "GET /stream?id=acc-ssi", "GET /log" ]
--- response_body eval
[ qq({"account":{"id":"acc-ssi"},"more":[1,2,3]}\n),
  "acct=acc-ssi sub=- profile=-\n" ]



=== TEST 7: an unknown-length body over the limit is dropped, not cut
--- config
    location = /stream {
        mixpanel_json_max_size 20;
        access_log logs/ids.log ids;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/stream.json;
    }

    location = /backend/stream.json {
        access_log off;
        default_type application/json;
        ssi on;
        ssi_types application/json;
        root $TEST_NGINX_SERVER_ROOT/html;
        rewrite ^ /stream.json break;
    }
--- user_files
>>> stream.json
{"account":{"id":"<!--# echo var="arg_id" -->"},"more":[1,2,3]}
--- request eval
[ "GET /stream?id=acc-ssi", "GET /log" ]
--- response_body eval
[ qq({"account":{"id":"acc-ssi"},"more":[1,2,3]}\n),
  "acct=- sub=- profile=-\n" ]



=== TEST 8: not JSON, compressed, truncated or duplicate keys: empty
--- config
    location = /r {
        access_log logs/ids.log ids;
        proxy_set_header Accept-Encoding gzip;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/$arg_kind;
    }

    location = /backend/text {
        access_log off;
        default_type text/plain;
        return 200 '{"account":{"id":"text"}}';
    }

    location = /backend/gzip {
        access_log off;
        default_type application/json;
        gzip on;
        gzip_types application/json;
        gzip_min_length 1;
        gzip_http_version 1.0;
        return 200 '{"account":{"id":"gzip"}}';
    }

    location = /backend/cut {
        access_log off;
        default_type application/json;
        return 200 '{"account":{"id":"cut"}';
    }

    location = /backend/dup {
        access_log off;
        default_type application/json;
        return 200 '{"account":{"id":"a"},"account":{"id":"b"}}';
    }

    location = /backend/problem {
        access_log off;
        default_type "application/problem+json; charset=utf-8";
        return 400 '{"account":{"id":"problem"}}';
    }
--- request eval
[ "GET /r?kind=text", "GET /r?kind=gzip", "GET /r?kind=cut",
  "GET /r?kind=dup", "GET /r?kind=problem", "GET /log" ]
--- error_code eval
[ 200, 200, 200, 200, 400, 200 ]
--- response_body_like eval
[ qr/^\{"account":\{"id":"text"\}\}$/, qr/^\x1f\x8b/,
  qr/^\{"account":\{"id":"cut"\}$/, qr/^\{"account":\{"id":"a"\}/,
  qr/problem/,
  qr/^acct=- sub=- profile=-\nacct=- sub=- profile=-\nacct=- sub=- profile=-\nacct=- sub=- profile=-\nacct=problem sub=- profile=-\n$/ ]
--- no_error_log
[error]



=== TEST 9: nginx's own gzip compresses after the copy
--- config
    location = /login {
        gzip on;
        gzip_types application/json;
        gzip_min_length 1;
        access_log logs/ids.log ids;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/login;
    }

    location = /backend/login {
        access_log off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-gz"}}';
    }
--- request eval
[ "GET /login", "GET /log" ]
--- more_headers
Accept-Encoding: gzip
--- response_body_like eval
[ qr/^\x1f\x8b/, qr/^acct=acc-gz sub=- profile=-\n$/ ]



=== TEST 10: RFC 6901 pointers: escapes, array indexes, value types
--- config
    location = /p {
        access_log logs/ids.log ptr;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p;
    }

    location = /backend/p {
        access_log off;
        default_type application/json;
        return 200 '{"a/b":{"m~n":"esc"},"items":[{"id":"i0"},{"id":"i1"}],"n":12.5,"list":["x","y",3,true,null,{"z":1}],"account":{"id":"acc-p"},"":"empty key"}';
    }
--- request eval
[ "GET /p", "GET /log" ]
--- response_body_like eval
[ qr/^\{"a\/b"/,
  qr/^root=- list=x,y,3,true item1=i1 item9=- escaped=esc num=12.5 obj=- empty_key=empty key\n$/ ]



=== TEST 10a: a number is written as JavaScript's String() writes it, as any other source of an id would: an integer as it is, a real in the fewest digits that give it back, "1000" for 1.0e3, written out from 1e-7 to below 1e21, "1e+21" past them
--- config
    location = /p {
        access_log logs/ids.log num;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p$is_args$args;
    }

    location = /backend/p {
        access_log off;
        default_type application/json;
        return 200 '{"n":$arg_n}';
    }
--- http_config
    log_format num '$resp_num';
--- request eval
[ "GET /p?n=1.0e3", "GET /p?n=1000", "GET /p?n=-42.0",
  "GET /p?n=12.5", "GET /p?n=9007199254740993", "GET /p?n=1e300",
  "GET /p?n=0.0", "GET /p?n=9007199254740991.0", "GET /p?n=-9007199254740991.0",
  "GET /p?n=9007199254740992.0", "GET /p?n=-9007199254740992.0", "GET /p?n=9007199254740993.0",
  "GET /p?n=0.1", "GET /p?n=0.30000000000000004", "GET /p?n=12345678.123456789",
  "GET /p?n=1.0e20", "GET /p?n=1e21", "GET /p?n=1e-6",
  "GET /p?n=0.0000012345", "GET /p?n=1.5e-7", "GET /p?n=2.5e-5",
  "GET /p?n=123.456e5", "GET /p?n=-0.0", "GET /p?n=5e-324",
  "GET /p?n=1.7976931348623157e308", "GET /p?n=-1.25e+25", "GET /p?n=100.0e-2",
  "GET /log" ]
--- response_body_like eval
[ (qr/^\{"n":/) x 27,
  qr/^1000\n1000\n-42\n12\.5\n9007199254740993\n1e\+300\n0\n9007199254740991\n-9007199254740991\n9007199254740992\n-9007199254740992\n9007199254740992\n0\.1\n0\.30000000000000004\n12345678\.12345679\n100000000000000000000\n1e\+21\n0\.000001\n0\.0000012345\n1\.5e-7\n0\.000025\n12345600\n0\n5e-324\n1\.7976931348623157e\+308\n-1\.25e\+25\n1\n\z/ ]



=== TEST 10b: a number too large for the parser is read as JSON.parse() reads it, not the whole body refused: an integer past 2^63 - 1 is a double (and so is every integer of that body, as in JavaScript), a real past the largest double is null (empty), up to 16 of them in one body; the other fields are read, after a multi-byte string too
--- http_config
    mixpanel_json_set $resp_s response /s;
    mixpanel_json_set $resp_i response /i;
    mixpanel_json_set $resp_j response /j;
    log_format big escape=none '$resp_num|$resp_s|$resp_i|$resp_j';
--- config
    location = /p {
        access_log logs/ids.log big;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p$is_args$args;
    }

    location = /backend/p {
        access_log off;
        default_type application/json;
        return 200 '{"s":"\\u00e9 é€","n":$arg_n,"i":42,"j":9007199254740993}';
    }
--- request eval
[ "GET /p?n=123", "GET /p?n=12345678901234567890",
  "GET /p?n=9223372036854775807", "GET /p?n=9223372036854775808",
  "GET /p?n=-9223372036854775809", "GET /p?n=1e400", "GET /p?n=-1E+400",
  "GET /p?n=10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000", "GET /p?n=[1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400]",
  "GET /log" ]
--- response_body_like eval
[ (qr/^\{"s":/) x 9,
  qr/^123\|\xc3\xa9 \xc3\xa9\xe2\x82\xac\|42\|9007199254740993\n12345678901234567000\|\xc3\xa9 \xc3\xa9\xe2\x82\xac\|42\|9007199254740992\n9223372036854775807\|\xc3\xa9 \xc3\xa9\xe2\x82\xac\|42\|9007199254740993\n9223372036854776000\|\xc3\xa9 \xc3\xa9\xe2\x82\xac\|42\|9007199254740992\n-9223372036854776000\|\xc3\xa9 \xc3\xa9\xe2\x82\xac\|42\|9007199254740992\n\|\xc3\xa9 \xc3\xa9\xe2\x82\xac\|42\|9007199254740992\n\|\xc3\xa9 \xc3\xa9\xe2\x82\xac\|42\|9007199254740992\n\|\xc3\xa9 \xc3\xa9\xe2\x82\xac\|42\|9007199254740992\n\|\xc3\xa9 \xc3\xa9\xe2\x82\xac\|42\|9007199254740992\n\z/ ]
--- no_error_log
is not valid JSON



=== TEST 10b1: reals past the largest double whose digits are at each edge of 0-9 (9e999, 1.90e409, -0.9E+4090, 90e400) are null too, the body read (the ":" before each, one past 9, ends the number)
--- http_config
    mixpanel_json_set $resp_s response /s;
    log_format big escape=none 's=$resp_s n=$resp_num';
--- config
    location = /p {
        access_log logs/ids.log big;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p$is_args$args;
    }

    location = /backend/p {
        access_log off;
        default_type application/json;
        return 200 '{"s":"x","n":$arg_n}';
    }
--- request eval
[ "GET /p?n=9e999", "GET /p?n=1.90e409", "GET /p?n=-0.9E+4090",
  "GET /p?n=90e400", "GET /log" ]
--- response_body_like eval
[ (qr/^\{"s":/) x 4, qr/^(s=x n=\n){4}\z/ ]
--- no_error_log
is not valid JSON



=== TEST 10b2: a real past the largest double after JSON's white space (a space, a tab, a newline, a return and newline) is null too, the body read; after "[" and "," as well
--- http_config
    mixpanel_json_set $resp_s response /s;
    mixpanel_json_set $resp_a response /a/1;
    log_format big escape=none 's=$resp_s n=$resp_num a=$resp_a';
    map $arg_w $ws {
        sp    " ";
        tab   "\t";
        nl    "\n";
        crlf  "\r\n";
    }
--- config
    location = /p {
        access_log logs/ids.log big;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p$is_args$args;
    }

    location = /backend/p {
        access_log off;
        default_type application/json;
        return 200 '{"s":"x","n":${ws}1e400,"a":[${ws}-1e400,${ws}7]}';
    }
--- request eval
[ "GET /p?w=sp", "GET /p?w=tab", "GET /p?w=nl", "GET /p?w=crlf", "GET /log" ]
--- response_body_like eval
[ (qr/^\{"s":/) x 4, qr/^(s=x n= a=7\n){4}\z/ ]
--- no_error_log
is not valid JSON



=== TEST 10c: with 17 reals past the largest double (one more than TEST 10b's 16), the body is invalid: its fields are empty, and that is logged at info
--- http_config
    mixpanel_json_set $resp_s response /s;
    log_format big escape=none 's=$resp_s';
--- config
    location = /p {
        access_log logs/ids.log big;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p$is_args$args;
    }

    location = /backend/p {
        access_log off;
        default_type application/json;
        return 200 '{"s":"x","n":$arg_n}';
    }
--- request
GET /p?n=[1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400,1e400]
--- response_body_like: ^\{"s":"x","n":\[1e400,
--- error_log
mixpanel: the response body is not valid JSON, its fields are empty



=== TEST 10d: a number directly followed by an overflowing real (5-1e400, invalid JSON: JSON.parse() throws at the "-") is not read: the lenient reread must not swallow the number before the real and read the body; the same body with only -1e400 (valid) is read, for comparison (hostile review 15)
--- http_config
    mixpanel_json_set $resp_s response /s;
    log_format big escape=none 's=$resp_s';
--- config
    location = /p {
        access_log logs/ids.log big;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p$is_args$args;
    }

    location = /backend/p {
        access_log off;
        default_type application/json;
        return 200 '{"s":"x","n":$arg_n}';
    }
--- request eval
[ "GET /p?n=5-1e400", "GET /p?n=1.5e3-1e400", "GET /p?n=-1e400", "GET /log" ]
--- response_body_like eval
[ qr/^\{"s":"x","n":5-1e400\}$/, qr/^\{"s":"x","n":1.5e3-1e400\}$/,
  qr/^\{"s":"x","n":-1e400\}$/, qr/^s=\ns=\ns=x\n\z/ ]



=== TEST 11: a pointer into a top-level array
--- http_config
    mixpanel_json_set $first response /0/id;
    mixpanel_json_set $all response "";
    log_format arr 'first=$first all=$all';
--- config
    location = /p {
        access_log logs/ids.log arr;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p;
    }

    location = /backend/p {
        access_log off;
        default_type application/json;
        return 200 '[{"id":"first"},{"id":"second"}]';
    }
--- request eval
[ "GET /p", "GET /log" ]
--- response_body eval
[ '[{"id":"first"},{"id":"second"}]', "first=first all=-\n" ]



=== TEST 11a: array indexes of every digit and of two digits: /9, /10, /19 are read; /20 (past the end), /01 (a leading zero) and /- are not
--- http_config
    mixpanel_json_set $i0 response /0/id;
    mixpanel_json_set $i9 response /9/id;
    mixpanel_json_set $i10 response /10/id;
    mixpanel_json_set $i19 response /19/id;
    mixpanel_json_set $i20 response /20/id;
    mixpanel_json_set $i01 response /01/id;
    mixpanel_json_set $idash response /-/id;
    log_format arr 'i0=$i0 i9=$i9 i10=$i10 i19=$i19 i20=$i20 i01=$i01 '
                   'idash=$idash';
--- config
    location = /p {
        access_log logs/ids.log arr;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p;
    }

    location = /backend/p {
        access_log off;
        default_type application/json;
        return 200 '[{"id":"i0"},{"id":"i1"},{"id":"i2"},{"id":"i3"},{"id":"i4"},{"id":"i5"},{"id":"i6"},{"id":"i7"},{"id":"i8"},{"id":"i9"},{"id":"i10"},{"id":"i11"},{"id":"i12"},{"id":"i13"},{"id":"i14"},{"id":"i15"},{"id":"i16"},{"id":"i17"},{"id":"i18"},{"id":"i19"}]';
    }
--- request eval
[ "GET /p", "GET /log" ]
--- response_body_like eval
[ qr/^\[\{"id":"i0"\}/,
  qr/^i0=i0 i9=i9 i10=i10 i19=i19 i20=- i01=- idash=-\n\z/ ]



=== TEST 12: a JSON request body read by proxy_pass feeds a variable
--- config
    location = /switch {
        access_log logs/ids.log ids;
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }
--- request eval
[ qq(POST /switch\n{"profile_id":"p2","other":[1,2]}), "GET /log" ]
--- more_headers
Content-Type: application/json
--- response_body eval
[ "profile=p2\n", "acct=- sub=- profile=p2\n" ]
--- no_error_log
[error]



=== TEST 12x: a request body that is not JSON: the variable is empty, and the info line names the request's body, not the response's (whose line has its own test, TEST 10c)
--- config
    location = /switch {
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }
--- request eval
qq(POST /switch\n{"profile_id":"p2",)
--- more_headers
Content-Type: application/json
--- response_body
profile=
--- error_log
mixpanel: the request body is not valid JSON, its fields are empty
--- no_error_log
the response body is not valid JSON



=== TEST 12a: a request body that arrives in three reads (the first part with the headers) is read whole
--- config
    location = /switch {
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }
--- raw_request eval
my $body = '{"other":[1,2],"profile_id":"p2","more":"' . ("m" x 100) . '"}';
[ "POST /switch HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
  . "Content-Type: application/json\r\n"
  . "Content-Length: " . length($body) . "\r\n\r\n"
  . substr($body, 0, 20),
  substr($body, 20, 20), substr($body, 40) ]
--- raw_request_middle_delay: 0.2
--- response_body
profile=p2
--- no_error_log
[error]



=== TEST 12ab: the request body's value read first after an internal redirect (the body read for an upstream whose 502 error_page sends to a named location)
--- config
    location = /switch {
        proxy_intercept_errors on;
        error_page 502 = @fallback;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/fail;
    }

    location = /backend/fail {
        return 502;
    }

    location @fallback {
        default_type text/plain;
        return 200 "profile=$profile\n";
    }
--- more_headers
Content-Type: application/json
--- request
POST /switch
{"profile_id":"p-fb"}
--- response_body
profile=p-fb
--- no_error_log
[error]



=== TEST 12aa: a chunked request body (no Content-Length), in three reads, is read whole
--- config
    location = /switch {
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }
--- raw_request eval
my $body = '{"other":[1,2],"profile_id":"p2","more":"' . ("m" x 100) . '"}';
my @c = (substr($body, 0, 20), substr($body, 20, 20), substr($body, 40));
[ "POST /switch HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
  . "Content-Type: application/json\r\n"
  . "Transfer-Encoding: chunked\r\n\r\n"
  . sprintf("%x\r\n%s\r\n", length $c[0], $c[0]),
  sprintf("%x\r\n%s\r\n", length $c[1], $c[1]),
  sprintf("%x\r\n%s\r\n0\r\n\r\n", length $c[2], $c[2]) ]
--- raw_request_middle_delay: 0.2
--- response_body
profile=p2
--- no_error_log
[error]



=== TEST 12b: which request Content-Types are JSON: application/json, text/json, any +json, in any case, with parameters, white space (a space or a tab, RFC 9110's OWS) before the ";"; not text/plain, application/jsonx, application/x-json, text/jsonx, text/jso
--- config
    location = /switch {
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }
--- request eval
[ map { qq(POST /switch\n{"profile_id":"p2"}) } 1 .. 14 ]
--- more_headers eval
[ map { "Content-Type: $_" } "application/json", "text/json",
  "TEXT/JSON; charset=utf-8", "application/vnd.api+json",
  "Application/Problem+JSON;v=1", "APPLICATION/JSON",
  "Application/Json; charset=utf-8", "application/json ;charset=utf-8",
  "application/json\t; charset=utf-8", "text/plain", "application/jsonx",
  "application/x-json", "text/jsonx", "text/jso" ]
--- response_body eval
[ ("profile=p2\n") x 9, ("profile=\n") x 5 ]
--- no_error_log
[error]



=== TEST 12c: a response's Content-Encoding: none or "identity" in any case is read; any other ("gzip", here on a body that is not compressed) is not, as its bytes would not be JSON
--- config
    location = /p {
        access_log logs/ids.log ids;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p$is_args$args;
    }

    location = /backend/p {
        access_log off;
        default_type application/json;
        add_header Content-Encoding $arg_ce;
        return 200 '{"account":{"id":"acc-$arg_n"}}';
    }
--- request eval
[ "GET /p?n=1", "GET /p?n=2&ce=identity", "GET /p?n=3&ce=Identity",
  "GET /p?n=4&ce=IDENTITY", "GET /p?n=5&ce=gzip", "GET /p?n=6&ce=identityx",
  "GET /log" ]
--- response_body_like eval
[ (qr/^\{"account"/) x 6,
  qr/^acct=acc-1 sub=- profile=-\nacct=acc-2 sub=- profile=-\nacct=acc-3 sub=- profile=-\nacct=acc-4 sub=- profile=-\nacct=- sub=- profile=-\nacct=- sub=- profile=-\n\z/ ]
--- no_error_log
[error]



=== TEST 12d: a body with a NUL byte is no JSON (JSON.parse() refuses it; jansson skipped one after a number): its fields are empty; the same body without it, for comparison (hostile review 15)
--- config
    location = /switch {
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }
--- request eval
[ qq(POST /switch\n{"n":7\0,"profile_id":"p2"}), qq(POST /switch\n{"n":true\0,"profile_id":"p2"}),
  qq(POST /switch\n{"n":7,"profile_id":"p2"}) ]
--- more_headers
Content-Type: application/json
--- response_body eval
[ "profile=\n", "profile=\n", "profile=p2\n" ]



=== TEST 13: nested request pointers with escapes
--- config
    location = /switch {
        proxy_set_header X-Profile $req_nested;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }
--- request
POST /switch
{"p":[{"x/y":"nested"}]}
--- more_headers
Content-Type: application/json; charset=utf-8
--- response_body
profile=nested



=== TEST 14: a request body nobody read is not read for the variable
--- config
    location = /switch {
        return 200 "profile=$profile\n";
    }
--- request
POST /switch
{"profile_id":"p2"}
--- more_headers
Content-Type: application/json
--- response_body
profile=



=== TEST 15: request bodies too large, on disk or with duplicate keys: empty
--- config
    location = /form {
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }

    location = /small {
        mixpanel_json_max_size 8;
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }

    location = /disk {
        client_body_in_file_only on;
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }

    location = /ok {
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }
--- request eval
[ qq(POST /small\n{"profile_id":"p2"}), qq(POST /disk\n{"profile_id":"p2"}),
  qq(POST /ok\n{"profile_id":"p2","profile_id":"p3"}),
  qq(POST /ok\n{"profile_id":"p2"}) ]
--- more_headers
Content-Type: application/json
--- response_body eval
[ "profile=\n", "profile=\n", "profile=\n", "profile=p2\n" ]



=== TEST 15a: an empty JSON request body (Content-Length: 0) gives an empty value; the same request with a body gives it
--- config
    location = /ok {
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }
--- request eval
[ "POST /ok\n", qq(POST /ok\n{"profile_id":"p2"}) ]
--- more_headers eval
[ "Content-Type: application/json\nContent-Length: 0",
  "Content-Type: application/json" ]
--- response_body eval
[ "profile=\n", "profile=p2\n" ]
--- no_error_log
[error]



=== TEST 16: a request body sent as a form is not JSON
--- config
    location = /form {
        proxy_set_header X-Profile $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }
--- request
POST /form
{"profile_id":"p2"}
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- response_body
profile=



=== TEST 17: a HEAD request has no body to copy
--- config
    location = /login {
        access_log logs/ids.log ids;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/login;
    }

    location = /backend/login {
        access_log off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-head"}}';
    }
--- request eval
[ "HEAD /login", "GET /log" ]
--- response_body eval
[ "", "acct=- sub=- profile=-\n" ]



=== TEST 18: a pointer must start with "/"
--- http_config
    mixpanel_json_set $bad response account/id;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid JSON pointer "account/id", it must be empty or start with "/"



=== TEST 19: "~" must be followed by 0 or 1
--- http_config
    mixpanel_json_set $bad request /a~2b;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid JSON pointer "/a~2b", "~" must be followed by "0" or "1"



=== TEST 20: the body is "request" or "response"
--- http_config
    mixpanel_json_set $bad upstream /a;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid body "upstream", it must be "request" or "response"



=== TEST 20a: "$" alone is no variable name
--- http_config
    mixpanel_json_set $ response /a;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid variable name "$"



=== TEST 20b: a variable of one letter is a name
--- http_config
    mixpanel_json_set $p response /p;
    log_format one 'p=$p';
--- config
    location = /p {
        access_log logs/ids.log one;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/p;
    }

    location = /backend/p {
        access_log off;
        default_type application/json;
        return 200 '{"p":"one"}';
    }
--- request eval
[ "GET /p", "GET /log" ]
--- response_body eval
[ '{"p":"one"}', "p=one\n" ]



=== TEST 21: mixpanel_json_set only in the http block
--- config
    mixpanel_json_set $bad request /a;

    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_json_set" directive is not allowed here



=== TEST 22: the tracker: login, signup and profile_switch fed by JSON bodies and a token in a body
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    mixpanel_token tok;
    mixpanel_flush_interval 300ms;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    limit_req_zone $server_name zone=wait:1m rate=1r/s;
--- config
    location = /api/login {
        mixpanel login;
        mixpanel_account_id $acct;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/login;
    }

    location = /api/signup {
        mixpanel signup;
        mixpanel_jwt $login_token;
        mixpanel_jwt_key_file $TEST_NGINX_DATA/jwks.json;
        mixpanel_account_id $jwt_sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/login;
    }

    location = /api/switch {
        mixpanel profile_switch;
        mixpanel_account_id $http_x_account;
        mixpanel_profile_id $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/echo;
    }

    location = /backend/login {
        access_log off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-1"},"token":"$arg_tok"}';
    }

    location = /wait {
        limit_req zone=wait burst=5;
        empty_gif;
    }

    location = /sink {
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    }
--- request eval
[ "GET /api/login", "GET /api/signup?tok=$::T{login}",
  qq(POST /api/switch\n{"profile_id":"p2"}), "GET /wait", "GET /wait",
  "GET /sink" ]
--- more_headers
Content-Type: application/json
X-Account: acc-7
--- response_body_like eval
[ qr/acc-1/, qr/acc-1/, qr/^profile=/, qr/^GIF/, qr/^GIF/,
  qr/(?=.*"event":"Log In","properties":\{[^}]*"distinct_id":"acc-1"[^}]*"account_id":"acc-1")(?=.*"event":"Sign Up","properties":\{[^}]*"distinct_id":"user-login"[^}]*"account_id":"user-login")(?=.*"event":"Switch Profile","properties":\{[^}]*"distinct_id":"acc-7"[^}]*"active_profile_id":"p2")/s ]
--- no_error_log
[error]
[alert]



=== TEST 23: a profile id known only from the response body reaches the event
--- http_config
    mixpanel_json_set $resp_profile response /profile/id;
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    mixpanel_token tok;
    mixpanel_flush_interval 300ms;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    limit_req_zone $server_name zone=wait:1m rate=1r/s;
--- config
    location = /api/signup {
        mixpanel signup;
        mixpanel_account_id $acct;
        mixpanel_profile_id $resp_profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/signup;
    }

    location = /backend/signup {
        access_log off;
        default_type application/json;
        return 200 '{"account":{"id":"acc-3"},"profile":{"id":"solo-3"}}';
    }

    location = /wait {
        limit_req zone=wait burst=5;
        empty_gif;
    }

    location = /sink {
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    }
--- request eval
[ "POST /api/signup", "GET /wait", "GET /wait", "GET /sink" ]
--- response_body_like eval
[ qr/solo-3/, qr/^GIF/, qr/^GIF/,
  qr/"event":"Sign Up","properties":\{[^}]*"distinct_id":"acc-3"[^}]*"account_id":"acc-3","active_profile_id":"solo-3"\}\}.*"\$set":\{"account_id":"acc-3","active_profile_id":"solo-3"\}/s ]
--- no_error_log
[error]
[alert]



=== TEST 24: file buffers are read too, with sendfile on (Debian's default): a static file, a proxy_cache miss (its temporary file) and hit (the cache file)
--- http_config
    proxy_cache_path $TEST_NGINX_SERVER_ROOT/cache keys_zone=json:1m;
    sendfile on;
--- config
    location = /static {
        access_log logs/ids.log ids;
        default_type application/json;
        alias $TEST_NGINX_SERVER_ROOT/html/login.json;
    }

    location = /cached {
        access_log logs/ids.log ids;
        proxy_cache json;
        proxy_cache_valid 200 1h;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/login.json;
    }

    location = /backend/login.json {
        access_log off;
        default_type application/json;
        alias $TEST_NGINX_SERVER_ROOT/html/login.json;
    }
--- user_files
>>> login.json
{"account":{"id":"acc-file"}}
--- request eval
[ "GET /static", "GET /cached", "GET /cached", "GET /log" ]
--- response_body eval
[ qq({"account":{"id":"acc-file"}}\n), qq({"account":{"id":"acc-file"}}\n),
  qq({"account":{"id":"acc-file"}}\n),
  "acct=acc-file sub=- profile=-\n" x 3 ]
--- no_error_log
[error]
[alert]

