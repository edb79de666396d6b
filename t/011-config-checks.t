# nginx -t catches what would pass and then send nothing useful, and every
# message names the directive, the value and what it accepts (SPEC 3, the
# checks at its end; issue 16).  Each refused value is beside an accepted
# neighbour that starts and sends.

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);

# the spool of the accepted neighbour: outside servroot, which the real
# Test::Nginx removes while the directory may still be in use
$ENV{TEST_NGINX_SPOOL} = tempdir(CLEANUP => 1);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an empty literal token
--- http_config
    mixpanel_token "";
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
empty "mixpanel_token", expected the project token of Mixpanel's project settings, or variables that give it



=== TEST 2: an API URL ending with the endpoint /import (https://api.mixpanel.com/import)
--- http_config
    mixpanel_token tok;
    mixpanel_api https://api.mixpanel.com/import;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_api" URL "https://api.mixpanel.com/import" ends with the Mixpanel endpoint "/import": the module appends the endpoints itself, expected the base URL, such as "https://api.mixpanel.com"



=== TEST 3: an API URL ending with the endpoint /import (https://api-eu.mixpanel.com/import/)
--- http_config
    mixpanel_token tok;
    mixpanel_api https://api-eu.mixpanel.com/import/;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_api" URL "https://api-eu.mixpanel.com/import/" ends with the Mixpanel endpoint "/import": the module appends the endpoints itself, expected the base URL, such as "https://api-eu.mixpanel.com"



=== TEST 3a: the scheme and the endpoint in any case: HTTPS://API-EU.mixpanel.com/Import ends with the endpoint /import
--- http_config
    mixpanel_token tok;
    mixpanel_api HTTPS://API-EU.mixpanel.com/Import;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_api" URL "HTTPS://API-EU.mixpanel.com/Import" ends with the Mixpanel endpoint "/import": the module appends the endpoints itself, expected the base URL, such as "HTTPS://API-EU.mixpanel.com"



=== TEST 3b: a scheme in capitals is a scheme (HTTPS://): nginx starts
--- http_config
    mixpanel_token tok;
    mixpanel_api HTTPS://api-eu.mixpanel.com;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
[emerg]



=== TEST 4: an API URL ending with the endpoint /import (https://api.mixpanel.com/import?strict=1)
--- http_config
    mixpanel_token tok;
    mixpanel_api https://api.mixpanel.com/import?strict=1;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_api" URL "https://api.mixpanel.com/import?strict=1" ends with the Mixpanel endpoint "/import": the module appends the endpoints itself, expected the base URL, such as "https://api.mixpanel.com"



=== TEST 5: an API URL ending with the endpoint /track (https://api.mixpanel.com/track)
--- http_config
    mixpanel_token tok;
    mixpanel_api https://api.mixpanel.com/track;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_api" URL "https://api.mixpanel.com/track" ends with the Mixpanel endpoint "/track": the module appends the endpoints itself, expected the base URL, such as "https://api.mixpanel.com"



=== TEST 6: an API URL ending with the endpoint /engage (https://api.mixpanel.com/engage#profile-set)
--- http_config
    mixpanel_token tok;
    mixpanel_api https://api.mixpanel.com/engage#profile-set;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_api" URL "https://api.mixpanel.com/engage#profile-set" ends with the Mixpanel endpoint "/engage": the module appends the endpoints itself, expected the base URL, such as "https://api.mixpanel.com"



=== TEST 7: an API URL ending with the endpoint /decide (https://api.mixpanel.com/decide/)
--- http_config
    mixpanel_token tok;
    mixpanel_api https://api.mixpanel.com/decide/;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_api" URL "https://api.mixpanel.com/decide/" ends with the Mixpanel endpoint "/decide": the module appends the endpoints itself, expected the base URL, such as "https://api.mixpanel.com"



=== TEST 8: an API URL ending with the endpoint /groups (http://127.0.0.1:8085/mixpanel/groups)
--- http_config
    mixpanel_token tok;
    mixpanel_api http://127.0.0.1:8085/mixpanel/groups;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_api" URL "http://127.0.0.1:8085/mixpanel/groups" ends with the Mixpanel endpoint "/groups": the module appends the endpoints itself, expected the base URL, such as "http://127.0.0.1:8085/mixpanel"



=== TEST 9: an API URL ending with the endpoint /Import (https://api.mixpanel.com/Import)
--- http_config
    mixpanel_token tok;
    mixpanel_api https://api.mixpanel.com/Import;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_api" URL "https://api.mixpanel.com/Import" ends with the Mixpanel endpoint "/import": the module appends the endpoints itself, expected the base URL, such as "https://api.mixpanel.com"



=== TEST 10: mixpanel_property named "distinct_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property distinct_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "distinct_id" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 11: mixpanel_property named "time"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property time $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "time" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 12: mixpanel_property named "token"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property token $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "token" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 13: mixpanel_property named "ip"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property ip $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "ip" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 14: mixpanel_property named "$insert_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property $insert_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$insert_id" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 15: mixpanel_property named "$device_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property $device_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$device_id" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 16: mixpanel_property named "$user_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property $user_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$user_id" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 17: mixpanel_property named "$identified_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property $identified_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$identified_id" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 18: mixpanel_property named "$anon_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property $anon_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$anon_id" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 19: mixpanel_property named "account_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property account_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "account_id" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 20: mixpanel_property named "active_profile_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property active_profile_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "active_profile_id" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 21: mixpanel_property named "mp_lib"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property mp_lib $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "mp_lib" in "mixpanel_property": the module sends it itself, choose another name



=== TEST 22: mixpanel_property named "$distinct_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property $distinct_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$distinct_id" in "mixpanel_property": Mixpanel reserves it for identity merging and ingestion, choose another name



=== TEST 23: mixpanel_property named "$time"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property $time $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$time" in "mixpanel_property": Mixpanel reserves it for identity merging and ingestion, choose another name



=== TEST 24: mixpanel_property named "$bucket"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property $bucket $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$bucket" in "mixpanel_property": Mixpanel reserves it for identity merging and ingestion, choose another name



=== TEST 25: mixpanel_people_set named "distinct_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_set distinct_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "distinct_id" in "mixpanel_people_set": the module sends it itself, choose another name



=== TEST 26: mixpanel_people_set named "account_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_set account_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "account_id" in "mixpanel_people_set": the module sends it itself, choose another name



=== TEST 27: mixpanel_people_set named "active_profile_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_set active_profile_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "active_profile_id" in "mixpanel_people_set": the module sends it itself, choose another name



=== TEST 28: mixpanel_people_set named "$distinct_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_set $distinct_id $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$distinct_id" in "mixpanel_people_set": it is a parameter or an operation of Mixpanel's /engage, choose another name



=== TEST 29: mixpanel_people_set named "$set"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_set $set $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$set" in "mixpanel_people_set": it is a parameter or an operation of Mixpanel's /engage, choose another name



=== TEST 30: mixpanel_people_set_once named "$created"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_set_once $created $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$created" in "mixpanel_people_set_once": the module sends it itself, choose another name



=== TEST 31: mixpanel_people_set_once named "$ip"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_set_once $ip $arg_v;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$ip" in "mixpanel_people_set_once": it is a parameter or an operation of Mixpanel's /engage, choose another name



=== TEST 32: mixpanel_people_add named "$ignore_time"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_add $ignore_time 1;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$ignore_time" in "mixpanel_people_add": it is a parameter or an operation of Mixpanel's /engage, choose another name



=== TEST 33: mixpanel_people_add named "$user_id"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_add $user_id 1;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$user_id" in "mixpanel_people_add": the module sends it itself, choose another name



=== TEST 34: mixpanel_people_unset named "$token"
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_unset $token;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
reserved property name "$token" in "mixpanel_people_unset": it is a parameter or an operation of Mixpanel's /engage, choose another name



=== TEST 35: a property type without type=
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property age $arg_age number;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid parameter "number" of "mixpanel_property", expected "type=number"



=== TEST 36: a third parameter that is no type
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_set age $arg_age numbr;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid parameter "numbr" of "mixpanel_people_set", expected "type=string", "type=number", "type=boolean", "type=list" or "type=json"



=== TEST 37: an unknown type=
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_set_once age $arg_age type=int;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
unknown property type "int" of "mixpanel_people_set_once", expected "string", "number", "boolean", "list" or "json"



=== TEST 37a: a type's beginning ("str" of "string") is unknown
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property age $arg_age type=str;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
unknown property type "str" of "mixpanel_property", expected "string", "number", "boolean", "list" or "json"



=== TEST 37b: and so is a type with more after it ("numbers")
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_people_set age $arg_age type=numbers;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
unknown property type "numbers" of "mixpanel_people_set", expected "string", "number", "boolean", "list" or "json"



=== TEST 38: an action followed by another word
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel login track;
        mixpanel_account_id $arg_a;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid parameter "track" of "mixpanel login", expected "if=COND" (one action per location)



=== TEST 39: if= with no condition
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track if=;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid parameter "if=" of "mixpanel track", expected "if=COND" (one action per location)



=== TEST 40: if= on off
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel off if=$arg_x;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid parameter "if=$arg_x" of "mixpanel off", which takes none



=== TEST 41: a misspelt identity mode
--- http_config
    mixpanel_token tok;
    mixpanel_identity simplfied;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid value "simplfied" of "mixpanel_identity", expected "original" or "simplified" (the ID merge API of the Mixpanel project)



=== TEST 42: mixpanel_identity twice at one level
--- http_config
    mixpanel_token tok;
    mixpanel_identity original;
    mixpanel_identity simplified;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_identity" directive is duplicate



=== TEST 43: a cookie flag with a value it does not take
--- http_config
    mixpanel_token tok;
    mixpanel_device_cookie mp secure=yes;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid parameter "secure=yes" of "mixpanel_device_cookie", expected "domain=DOMAIN", "path=PATH", "max_age=TIME", "secure", "httponly" or "samesite=strict|lax|none"



=== TEST 44: a bad max_age
--- http_config
    mixpanel_token tok;
    mixpanel_profile_cookie mp_profile max_age=forever;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid "max_age=forever" of "mixpanel_profile_cookie", it must be a time from 1s to 400d, the longest browsers keep a cookie



=== TEST 45: flags after off
--- http_config
    mixpanel_token tok;
    mixpanel_profile_cookie off secure;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid parameter "secure" after "off" of "mixpanel_profile_cookie", which takes none



=== TEST 46: a cookie name with a space
--- http_config
    mixpanel_token tok;
    mixpanel_device_cookie "mp id";
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid cookie name "mp id" of "mixpanel_device_cookie", expected a token without spaces or any of ()<>@,;:\"/[]?={}



=== TEST 47: samesite=none without secure
--- http_config
    mixpanel_token tok;
    mixpanel_device_cookie mp samesite=none;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"samesite=none" of "mixpanel_device_cookie" requires "secure", browsers reject the cookie otherwise



=== TEST 48: a spool parameter misspelt
--- http_config
    mixpanel_token tok;
    mixpanel_spool $TEST_NGINX_SERVER_ROOT/spool maxsize=1m;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid parameter "maxsize=1m" of "mixpanel_spool", expected "max_size=SIZE"



=== TEST 49: a spool of size zero
--- http_config
    mixpanel_token tok;
    mixpanel_spool $TEST_NGINX_SERVER_ROOT/spool max_size=0;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid spool size "max_size=0" of "mixpanel_spool", expected a size above zero such as "max_size=256m"



=== TEST 50: a zone size that is no size
--- http_config
    mixpanel_token tok;
    mixpanel_zone big;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
invalid zone size "big" of "mixpanel_zone", expected a size such as "4m"



=== TEST 51: a service account with a token that varies per request
--- http_config
    mixpanel_service_account user secret 12345;
--- config
    mixpanel_token $arg_token;

    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_token $arg_token" varies per request, but "mixpanel_service_account" sends every event to project 12345: Mixpanel would put all the tokens' events in that one project; expected one literal token with the service account, or no service account



=== TEST 52: the same, with the service account after the token
--- http_config
    mixpanel_token tok-$host;
    mixpanel_service_account user secret 678;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"mixpanel_token tok-$host" varies per request, but "mixpanel_service_account" sends every event to project 678: Mixpanel would put all the tokens' events in that one project; expected one literal token with the service account, or no service account



=== TEST 53: a file: sink in a directory that does not exist: the directive and its line
--- http_config
    mixpanel_token tok;
    mixpanel_api file:/nonexistent-mixpanel-dir/events.jsonl;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{\[emerg\] .*"mixpanel_api" sink "file:/nonexistent-mixpanel-dir/events\.jsonl" cannot be created in "/nonexistent-mixpanel-dir" \(2: No such file or directory\) in \S+/nginx\.conf:\d+}



=== TEST 54: a file: sink that is a directory
--- http_config
    mixpanel_token tok;
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/conf;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{"mixpanel_api" sink "file:\S+/conf" is a directory, expected a file to append to in \S+/nginx\.conf:\d+}



=== TEST 55: a file: sink under a path component that is a file
--- http_config
    mixpanel_token tok;
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/conf/nginx.conf/events.jsonl;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{"mixpanel_api" sink "file:\S+/conf/nginx\.conf/events\.jsonl" cannot be opened \(20: Not a directory\) in \S+/nginx\.conf:\d+}



=== TEST 56: signup and login with no account id in scope: one warning per directive, at its line
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_token tok;
--- config
    mixpanel login;

    location = /a {
        return 200;
    }

    location = /b {
        return 200;
    }

    location = /signup {
        mixpanel signup if=$arg_go;
        return 200;
    }

    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- grep_error_log eval
qr/\[warn\] .*with no "mixpanel_account_id".*/
--- grep_error_log_out eval
qr{^\[warn\] \d+#\d+: "mixpanel login" applies to the server with no "mixpanel_account_id": it would send anonymous events and identify no one; set the account id in the location, its server or http in \S+/nginx\.conf:\d+
\[warn\] \d+#\d+: "mixpanel signup" applies to location "/signup" with no "mixpanel_account_id": it would send anonymous events and identify no one; set the account id in the location, its server or http in \S+/nginx\.conf:\d+
$}



=== TEST 56a: ... and at run time, a signup there logs that it had no account id, the directive not set (t/050 TEST 38 has a login's "evaluated empty")
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_token tok;
--- config
    location = /signup {
        mixpanel signup;
        return 200 "ok\n";
    }
--- request
GET /signup
--- response_body
ok
--- grep_error_log eval
qr/mixpanel: "\w+" in location "[^"]+" had no \w+ id \([^)]+\)/
--- grep_error_log_out
mixpanel: "signup" in location "/signup" had no account id ("mixpanel_account_id" is not set)



=== TEST 56b: a profile switch with no mixpanel_profile_id anywhere: its line says the directive is not set
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_token tok;
--- config
    location = /switch {
        mixpanel profile_switch;
        mixpanel_account_id $http_x_account;
        return 200 "ok\n";
    }
--- request
GET /switch
--- more_headers
X-Account: acc-1
--- response_body
ok
--- grep_error_log eval
qr/mixpanel: "\w+" in location "[^"]+" had no \w+ id \([^)]+\)/
--- grep_error_log_out
mixpanel: "profile_switch" in location "/switch" had no profile id ("mixpanel_profile_id" is not set)



=== TEST 57: the same actions with an account id at any level: no warning
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_token tok;
--- config
    mixpanel login;
    mixpanel_account_id $http_x_account;

    location = /a {
        return 200;
    }

    location = /signup {
        mixpanel signup;
        mixpanel_account_id $arg_account;
        return 200 "ok\n";
    }
--- request
GET /signup
--- response_body
ok
--- no_error_log
with no "mixpanel_account_id"
[emerg]



=== TEST 57a: a spool with no "mixpanel" action anywhere: no sender runs, its files would never be sent: warned at its line
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_token tok;
    mixpanel_spool $TEST_NGINX_SPOOL;
--- config
    location = /status {
        mixpanel_status;
    }
--- request
GET /status
--- response_body_like: ^\{"events_queued":0,
--- error_log eval
qr/\[warn\] .*"mixpanel_spool" "[^"]+" is set but no "mixpanel" action is: no worker sends what it holds in \S+\/nginx\.conf:\d+/



=== TEST 57b: the same spool with an action: no warning
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_token tok;
    mixpanel_spool $TEST_NGINX_SPOOL;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
no "mixpanel" action



=== TEST 58: the accepted neighbours send: names near the reserved ones, type=, if=, a variable token without a service account
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_flush_interval 300ms;
    mixpanel_identity original;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    mixpanel_spool $TEST_NGINX_SPOOL max_size=1m;
    mixpanel_zone 1m;
    limit_req_zone $server_name zone=wait:1m rate=1r/s;
--- config
    location = /t {
        mixpanel_token tok-$arg_p;
        mixpanel signup if=$arg_go;
        mixpanel_account_id $arg_a;
        mixpanel_device_cookie mp domain=.example.com path=/ max_age=1d secure httponly samesite=none;
        mixpanel_property age $arg_age type=number;
        mixpanel_property event x;
        mixpanel_property distinct_ids_seen 2 type=number;
        mixpanel_property $email e@example.com;
        mixpanel_people_set $created $arg_c;
        mixpanel_people_set_once first_seen $arg_c;
        mixpanel_people_add logins 1;
        mixpanel_people_unset account_id;
        return 200 "ok\n";
    }

    location = /wait {
        mixpanel off;
        limit_req zone=wait burst=5;
        empty_gif;
    }

    location = /sink {
        mixpanel off;
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    }
--- request eval
["GET /t?go=1&p=a&a=acc-1&age=31&c=2020-01-01", "GET /t?p=b&a=acc-2", "GET /wait", "GET /wait", "GET /sink"]
--- response_headers_like eval
["Set-Cookie: mp=[^;]+; Domain=.example.com; Path=/; Max-Age=86400; Expires=[^;]+; SameSite=None; Secure; HttpOnly", "", "", "", ""]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", "^GIF", "^GIF",
qr{^(?!.*acc-2)(?=.*"event":"Sign Up","properties":\{"token":"tok-a",[^\n]*"age":31,"event":"x","distinct_ids_seen":2,"\$email":"e\@example\.com"\}\})(?=.*\{"\$token":"tok-a","\$distinct_id":"acc-1","\$ip":"127\.0\.0\.1","\$time":\d{13},"\$set":\{"account_id":"acc-1","\$created":"2020-01-01"\}\})(?=.*"\$set_once":\{"\$created":"[^"]+","first_seen":"2020-01-01"\}\})(?=.*"\$add":\{"logins":1\}\})(?=.*"\$unset":\["account_id"\]\})}s]
--- no_error_log
[emerg]
[error]



=== TEST 59: accepted API base URLs, with a path or a trailing slash, and a literal token with a service account
--- http_config
    mixpanel_api http://127.0.0.1:1/mixpanel/importer/;
    mixpanel_service_account user secret 12345;
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_request_properties off;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
[emerg]



=== TEST 60: a file: sink that does not exist yet, relative to the prefix: created by nginx as before
--- http_config
    mixpanel_api file:logs/new-sink.jsonl;
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }

    location = /exists {
        mixpanel off;
        alias $TEST_NGINX_SERVER_ROOT/logs/new-sink.jsonl;
    }
--- request eval
["GET /t", "GET /exists"]
--- error_code eval
[200, 200]
--- no_error_log
[emerg]



=== TEST 61: a CA bundle that does not exist: every send would fail its TLS handshake
--- http_config
    mixpanel_token tok;
    mixpanel_ssl_trusted_certificate /nonexistent-mixpanel-dir/ca.pem;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{\[emerg\] .*"mixpanel_ssl_trusted_certificate" file "/nonexistent-mixpanel-dir/ca\.pem" cannot be read \(2: No such file or directory\) in \S+/nginx\.conf:\d+}



=== TEST 62: a CA bundle relative to the configuration directory, readable: accepted
--- http_config
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_token tok;
    mixpanel_ssl_trusted_certificate nginx.conf;
--- config
    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
[emerg]



=== TEST 63: a service account with two literal tokens
Two projects' tokens in two servers: /import routes by project_id, so
the second project's events would land in the first.
--- http_config
    mixpanel_service_account user secret 12345;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /other {
            mixpanel track;
            mixpanel_token tok-b;
            return 200;
        }
    }
--- config
    mixpanel_token tok-a;

    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{\[emerg\] .*"mixpanel_token tok-a" is another project's token than "mixpanel_token tok-b", but "mixpanel_service_account" sends every event to project 12345: Mixpanel would put both projects' events in that one project; expected one literal token with the service account, or no service account in \S+nginx\.conf:\d+}



=== TEST 63a: the same when the second token is the beginning of the first (tok-ab, then tok-a): two projects still
--- http_config
    mixpanel_service_account user secret 12345;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /other {
            mixpanel track;
            mixpanel_token tok-ab;
            return 200;
        }
    }
--- config
    mixpanel_token tok-a;

    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{\[emerg\] .*"mixpanel_token tok-a" is another project's token than "mixpanel_token tok-ab", but "mixpanel_service_account" sends every event to project 12345: Mixpanel would put both projects' events in that one project; expected one literal token with the service account, or no service account in \S+nginx\.conf:\d+}



=== TEST 64: a service account and the same literal token twice: accepted
--- http_config
    mixpanel_service_account user secret 12345;
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /other {
            mixpanel track;
            mixpanel_token tok-a;
            return 200;
        }
    }
--- config
    mixpanel_token tok-a;

    location = /t {
        mixpanel track;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
[emerg]



=== TEST 65: a property named like a default property of the User-Agent group
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property $browser $http_x_b;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{\[emerg\] .*property "\$browser" of "mixpanel_property" is a default property that "mixpanel_user_agent_properties on" sends too \(two "\$browser" keys in one event\): choose another name, or "mixpanel_user_agent_properties off" where you set it yourself in \S+nginx\.conf:\d+}



=== TEST 66: a campaign key as a property, with the default properties on at http level
--- http_config
    mixpanel_token tok;
    mixpanel_property utm_source $arg_src;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{\[emerg\] .*property "utm_source" of "mixpanel_property" is a default property that "mixpanel_user_agent_properties on" sends too}



=== TEST 66a: mp_keyword (sent with a search engine's Referer) as a property, with the default properties on
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property mp_keyword $arg_q;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{\[emerg\] .*property "mp_keyword" of "mixpanel_property" is a default property that "mixpanel_user_agent_properties on" sends too}



=== TEST 66b: $search_engine as a property is allowed where the User-Agent group is off (positive control of 66a's check)
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_user_agent_properties off;
        mixpanel_property $search_engine $arg_e;
        mixpanel_property mp_keyword $arg_q;
        return 200 "ok\n";
    }
--- request
GET /t?e=own
--- response_body
ok



=== TEST 67: a request property name, with mixpanel_request_properties on
--- http_config
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        mixpanel_property http_status x;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{\[emerg\] .*property "http_status" of "mixpanel_property" is a default property that "mixpanel_request_properties on" sends too}



=== TEST 68: the same names with their group off: accepted, and the configured values are sent once
--- http_config
    mixpanel_token tok;
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/calls.jsonl;
    mixpanel_flush_interval 100ms;
    limit_req_zone $server_name zone=wait:1m rate=1r/s;
--- config
    location = /t {
        mixpanel track;
        mixpanel_user_agent_properties off;
        mixpanel_request_properties off;
        mixpanel_property $browser custom-browser;
        mixpanel_property utm_source custom-source;
        mixpanel_property http_status custom-status;
        return 200 "ok\n";
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
["GET /t?utm_source=x", "GET /wait", "GET /wait", "GET /sink"]
--- more_headers eval
["User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", "", "", ""]
--- response_body_like eval
["^ok\n\$", "^GIF", "^GIF",
 qr{^\{"endpoint":"/import","body":\[\{"event":"API Request","properties":\{[^\n]*"ip":"127\.0\.0\.1","\$browser":"custom-browser","utm_source":"custom-source","http_status":"custom-status"\}\}\]\}\n$}]
--- no_error_log
[emerg]



=== TEST 69: a zone one byte under 8 pages (32767 bytes with 4 KB pages) is refused
--- http_config
    mixpanel_token tok;
    mixpanel_zone 32767;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
zone "32767" of "mixpanel_zone" is too small, expected at least 32768



=== TEST 70: a zone of exactly 8 pages (32k) starts, and a login binds its device in it
--- http_config
    mixpanel_token tok;
    mixpanel_api file:$TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    mixpanel_zone 32k;
--- config
    location = /t {
        mixpanel login;
        mixpanel_account_id $arg_a;
        mixpanel_device_cookie mp;
        return 200 "ok\n";
    }
--- request
GET /t?a=acc-1
--- response_headers_like
Set-Cookie: mp=[0-9a-f-]{36}_[0-9a-f]{12}; Path=/; Max-Age=31536000; Expires=[^;]+; SameSite=Lax$
--- response_body
ok
--- no_error_log
[emerg]
[error]
[alert]



=== TEST 71: an empty domain= of mixpanel_device_cookie stops nginx -t (a cookie for no domain is not what was meant)
--- http_config
    mixpanel_token tok;
    mixpanel_device_cookie mp_device_id domain=;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "domain=" of "mixpanel_device_cookie", expected "domain=DOMAIN", "path=PATH", "max_age=TIME", "secure", "httponly" or "samesite=strict\|lax\|none" in \S+nginx\.conf:\d+}



=== TEST 72: "mixpanel_api file:" without a path stops nginx -t as a URL that is none of the accepted forms
--- http_config
    mixpanel_api file:;
    mixpanel_token tok;
--- config
    location = /t {
        mixpanel track;
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid Mixpanel API URL "file:", expected "https://host\[:port\]\[/path\]", "http://host\[:port\]\[/path\]" or "file:PATH" in \S+nginx\.conf:\d+}
