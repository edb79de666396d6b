#!/usr/bin/env python3
"""The journey matrix (issue 14): the customer's journeys through one nginx
to one emulator, for every combination of

    account source  header, cookie, jwt, body, upstream
    ID Merge API    original, simplified
    id logging      no-log, ids-logged (access_log + add_header of every
                    $mixpanel_* variable)
    client          web-cookie, mobile-header, sdk-web, ios-sdk

each judged from the emulator's identity clusters.  Nothing here is written
per combination: the configuration of each is generated from its four
dimensions, and one script of journeys (JOURNEYS) is played by a simulated
client of each kind.  One TAP test per combination; its failures follow it
as a table of diagnostics (combination | journey step | what is wrong).

The journeys (SPEC sections 3 and 4, customer-conversation.txt):

    X   Ana browses anonymously on device X1, signs up, switches profile,
        logs out explicitly, browses and logs in on a second device X2;
        Ben (who has an account) logs in on X1, browses, logs out; Cleo
        opens the sign-up screen on X1 (its route is `mixpanel reset`),
        browses anonymously, signs up and leaves (nothing after the
        sign-up can make up for a missing $identify).
    E   the same with the logout replaced by the session's expiry alone
        (Eve, Frank, Gina; devices E1, E2): after it Eve browses
        anonymously on E1; Frank's session also just expires.
    P   Dan, logged in before the module was deployed, reopens the app;
        later his session expires and he browses on (his anonymous events
        reach him only if the reopening identified his device).
    R   60 moves of Rita, Sam, Tom and Uma on three devices, generated
        from a fixed seed among those each device's state allows (see
        generated_journeys): the moves above in orders they never take.

What each combination must show (the judge, from /_emulator/...):
one user per account, holding no other account; every event a person
caused (server and SDK, anonymous ones included) in that person's user;
no anonymous cluster with events; no profile on an anonymous id, no
duplicate profile, a profile for everyone who signed up or logged in;
no identity operation refused; no record refused; no server event lost or
doubled; the module's $identify once per device and account.

Accounts reach the module as a real app hands them over:

    header    X-Account on sign-up, login and every authenticated request
    cookie    the app sets `account=` at sign-up/login: those routes read
              $upstream_cookie_account, the others $cookie_account
    jwt       an identity provider issued an HS256 token (t/data/jwks.json,
              kid "hs") that the client sends as a bearer token on sign-up,
              login and after; expiry: the client keeps sending it, expired
    body      sign-up/login answer {"account":{"id":..},"token":<JWT>}:
              mixpanel_json_set $login_account response /account/id there,
              the bearer JWT on the other routes
    upstream  the app answers X-Account for a live session (cookie `sid`):
              $upstream_http_x_account on every route

Clients: web-cookie sends no device id of its own; mobile-header
sends its installation id (a lower-case UUIDv4) as X-Device-Id;
sdk-web runs mixpanel-js 2.83 (its cookie mp_<token>_mixpanel exactly as
the SDK writes it, its page views, $identify and queued $set_once sent
straight to the emulator; mixpanel_device_id $mixpanel_sdk_device_id);
ios-sdk runs mixpanel-swift (upper-case UUIDs) and forwards
"$device:" + its anonymous id as X-Device-Id, its events sent straight to
the emulator.  Every client keeps cookies (a browser, NSURLSession).  The
clients whose device id the app owns reset it as the SDKs' docs say: on
an explicit logout, on the sign-up screen, and before identifying a
different account than the one identified last (after that login's
answer, the first moment the app knows).  Token expiry resets nothing.

The upstream app is a server of the same nginx (deterministic: its answers
depend only on the request).  Environment: TEST_NGINX_BINARY,
TEST_NGINX_LOAD_MODULES as for the other files; MATRIX_ONLY=REGEX plays
only the combinations whose name matches; KEEP=1 keeps the nginx prefix.
"""

import base64
import concurrent.futures
import email.utils
import glob
import hashlib
import hmac
import http.client
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "emulator"))

from emutest import EmulatorProcess  # noqa: E402

SOURCES = ("header", "cookie", "jwt", "body", "upstream")
MODES = ("original", "simplified")
LOGGING = ("no-log", "ids-logged")
CLIENTS = ("web-cookie", "mobile-header", "sdk-web", "ios-sdk")

# SPEC section 3's variables; the module's variable tables are added to
# them (see module_variables)
SPEC_VARIABLES = ("mixpanel_device_id", "mixpanel_distinct_id",
                  "mixpanel_account_id", "mixpanel_profile_id",
                  "mixpanel_sdk_device_id")

STEPS = {
    "X.1": "anonymous browsing",
    "X.2": "sign-up",
    "X.3": "profile switch",
    "X.4": "explicit logout",
    "X.5": "login on a second device",
    "X.6": "a second person logs in on the first device",
    "X.7": "a second person signs up after the sign-up screen's reset",
    "E.1": "anonymous browsing",
    "E.2": "sign-up",
    "E.3": "profile switch",
    "E.4": "logout by token expiry alone",
    "E.5": "login on a second device",
    "E.6": "a second person logs in on the first device",
    "E.7": "a second person signs up after the sign-up screen's reset",
    "P.1": "logged in before the module was deployed",
    "P.2": "reopens the app",
    "P.3": "his session expires, he browses on",
}

# the people of the generated journeys (R, below)
GENERATED_PERSONS = ("rita", "sam", "tom", "uma")

PERSONS = ("ana", "ben", "cleo", "eve", "frank", "gina",
           "dan") + GENERATED_PERSONS

EVENT_OF = {"track": "API Request", "signup": "Sign Up", "login": "Log In",
            "logout": "Log Out", "profile_switch": "Switch Profile"}

JWT_KID = "hs"
JWKS = os.path.join(HERE, "data", "jwks.json")
MPJS_VERSION = "2.83.0"
SWIFT_VERSION = "4.3.0"
UA_WEB = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, "
          "like Gecko) Chrome/124.0.0.0 Safari/537.36")
UA_IOS = "Customer/1.0 CFNetwork/1490.0.4 Darwin/23.2.0"
UA_ANDROID = "okhttp/4.12.0"


def account(person):
    return "acc-" + person


def title(person):
    return person.capitalize()


# -- JWTs (the identity provider) ---------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs_secret():
    with open(os.path.join(HERE, "data", "hs.hex")) as f:
        return bytes.fromhex(f.read().strip())


SECRET = hs_secret()
NOW = int(time.time())


def jwt(sub, exp):
    header = b64url(json.dumps({"alg": "HS256", "kid": JWT_KID,
                                "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"sub": sub, "iat": exp - 7200,
                                "exp": exp}).encode())
    signing = (header + "." + claims).encode()
    sig = hmac.new(SECRET, signing, hashlib.sha256).digest()
    return header + "." + claims + "." + b64url(sig)


VALID = {p: jwt(account(p), NOW + 7200) for p in PERSONS}
EXPIRED = {p: jwt(account(p), NOW - 3600) for p in PERSONS}


# -- combinations -------------------------------------------------------------

class Combo:
    def __init__(self, index, source, mode, logging, client):
        self.index = index
        self.source, self.mode = source, mode
        self.logging, self.client = logging, client
        self.name = "%s/%s/%s/%s" % (source, mode, logging, client)
        self.host = "c%02d.matrix" % index
        self.token = hashlib.md5(("matrix:" + self.name).encode()).hexdigest()
        self.failures = []          # (step, what)
        self.requests = []          # Request records, in order
        self.expected = {}          # label -> Request (a server event)
        self.sdk_events = {}        # label -> (step, person, event name)
        self.device_ids = {}        # device id -> (device, step, person)
        self.skipped = None         # why it was not played

    def fail(self, step, what):
        self.failures.append((step, what))


def combinations():
    only = os.environ.get("MATRIX_ONLY")
    combos = []
    for index, dims in enumerate(itertools.product(SOURCES, MODES, LOGGING,
                                                   CLIENTS)):
        combo = Combo(index, *dims)
        if only and not re.search(only, combo.name):
            continue
        combos.append(combo)
    return combos


# -- nginx --------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_binary():
    return os.environ.get("TEST_NGINX_BINARY") or shutil.which(
        "nginx") or "/usr/sbin/nginx"


def main_conf(body):
    modules = "".join("load_module %s;\n" % m for m in os.environ.get(
        "TEST_NGINX_LOAD_MODULES", "").split())
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (modules + user + "daemon off;\nmaster_process on;\n"
            "worker_processes 2;\npid logs/nginx.pid;\n"
            "error_log logs/error.log info;\n"
            "events { worker_connections 1024; }\n" + body)


def make_prefix():
    prefix = tempfile.mkdtemp(prefix="matrix-")
    os.chmod(prefix, 0o755)
    for sub in ("conf", "logs"):
        os.mkdir(os.path.join(prefix, sub))
    return prefix


def nginx_t(prefix, conf):
    with open(os.path.join(prefix, "conf", "nginx.conf"), "w") as f:
        f.write(conf)
    run = subprocess.run([nginx_binary(), "-t", "-p", prefix + "/", "-c",
                          "conf/nginx.conf"], capture_output=True,
                         text=True)
    return run.returncode, run.stderr


def module_variables():
    """SPEC's variables and every one in the module's variable tables."""
    names = set(SPEC_VARIABLES)
    for path in glob.glob(os.path.join(REPO, "ngx_mixpanel_module", "*.c")):
        with open(path) as f:
            text = f.read()
        for name, flags in re.findall(
                r'\{\s*ngx_string\("(mixpanel\w*)"\),\s*([A-Z0-9_|\s]+?),',
                text):
            if not re.search(r"NGX_HTTP_\w+_CONF", flags):
                names.add(name)
    return sorted(names)


def probe_variables(names):
    """Which variables this nginx knows: {name: error or None}."""
    found = {}
    for name in names:
        prefix = make_prefix()
        try:
            rc, err = nginx_t(prefix, main_conf(
                "http { server { listen 127.0.0.1:%d; "
                "location / { set $v $%s; return 204; } } }\n"
                % (free_port(), name)))
        finally:
            shutil.rmtree(prefix, ignore_errors=True)
        lines = [l for l in err.splitlines() if "[emerg]" in l]
        found[name] = None if rc == 0 else re.sub(
            r"^.*\[emerg\] ", "", (lines or ["nginx -t failed"])[0])
    return found


SOURCE_CONF = {
    "header": ("mixpanel_account_id $http_x_account;", ""),
    "cookie": ("mixpanel_account_id $cookie_account;",
               "mixpanel_account_id $upstream_cookie_account;"),
    "jwt": ("mixpanel_jwt $http_authorization;\n"
            "        mixpanel_jwt_key_file %s;\n"
            "        mixpanel_account_id $jwt_sub;" % JWKS, ""),
    "body": ("mixpanel_jwt $http_authorization;\n"
             "        mixpanel_jwt_key_file %s;\n"
             "        mixpanel_account_id $jwt_sub;" % JWKS,
             "mixpanel_account_id $login_account;"),
    "upstream": ("mixpanel_account_id $upstream_http_x_account;", ""),
}

CLIENT_CONF = {
    "web-cookie": "",
    "mobile-header": "mixpanel_device_id $http_x_device_id;",
    "sdk-web": "mixpanel_device_id $mixpanel_sdk_device_id;",
    "ios-sdk": "mixpanel_device_id $http_x_device_id;",
}


def header_name(variable):
    return "X-" + "-".join(w.capitalize() for w in variable.split("_"))


def combo_server(combo, port, variables):
    server_level, login_level = SOURCE_CONF[combo.source]
    logging = ""
    if combo.logging == "ids-logged":
        logging = "access_log logs/ids-%02d.log mixpanel_ids;\n" % combo.index
        logging += "".join("        add_header %s $%s;\n" % (header_name(v), v)
                           for v in variables)
    return """
    server {
        listen 127.0.0.1:%(port)d;
        server_name %(host)s;
        mixpanel_token %(token)s;
        mixpanel_identity %(mode)s;
        mixpanel_property mx_step $http_x_mx_step;
        mixpanel_profile_id $http_x_profile;
        mixpanel_profile_cookie mp_profile;
        %(client)s
        %(source)s
        %(logging)s
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Accept-Encoding "";

        location /api/ { mixpanel track; proxy_pass http://app; }
        location = /api/screens/signup {
            mixpanel reset;
            proxy_pass http://app;
        }
        location = /api/signup {
            mixpanel signup;
            %(login)s
            proxy_pass http://app;
        }
        location = /api/login {
            mixpanel login;
            %(login)s
            proxy_pass http://app;
        }
        location = /api/logout { mixpanel logout; proxy_pass http://app; }
        location = /api/profiles/switch {
            mixpanel profile_switch;
            proxy_pass http://app;
        }
    }
""" % {"port": port, "host": combo.host, "token": combo.token,
       "mode": combo.mode, "client": CLIENT_CONF[combo.client],
       "source": server_level, "logging": logging, "login": login_level}


def nginx_conf(combos, port, app_port, emulator_port, variables):
    log_vars = " ".join("%s=$%s" % (v[len("mixpanel_"):], v)
                        for v in variables)
    tokens = "".join('        %s "%s";\n' % (account(p), VALID[p])
                     for p in PERSONS)
    body = """http {
    access_log logs/access.log;
    mixpanel_api http://127.0.0.1:%(emu)d;
    mixpanel_flush_interval 100ms;
    mixpanel_jwt_claim_set $jwt_sub sub;
    mixpanel_json_set $login_account response /account/id;

    log_format mixpanel_ids '$remote_addr "$request" $status %(log_vars)s';

    # the app: the token it issues at sign-up and login, its sessions
    map $http_x_login_as $app_token {
%(tokens)s        default "";
    }
    map $cookie_sid $app_account {
        "~^(?<acc>[^.]+)\\.valid$" $acc;
        default "";
    }

    upstream app {
        server 127.0.0.1:%(app)d;
        keepalive 32;
    }

    server {
        listen 127.0.0.1:%(app)d;
        default_type application/json;

        location ~ ^/api/(signup|login)$ {
            add_header X-Account $http_x_login_as;
            add_header Set-Cookie "account=$http_x_login_as; Path=/";
            add_header Set-Cookie "sid=$http_x_login_as.valid; Path=/";
            return 200 '{"account":{"id":"$http_x_login_as"},"token":"$app_token"}\\n';
        }

        location = /api/logout {
            add_header X-Account $app_account;
            add_header Set-Cookie "account=; Path=/; Max-Age=0";
            add_header Set-Cookie "sid=; Path=/; Max-Age=0";
            return 200 '{}\\n';
        }

        location / {
            add_header X-Account $app_account;
            return 200 '{}\\n';
        }
    }
""" % {"emu": emulator_port, "app": app_port, "log_vars": log_vars,
       "tokens": tokens}
    for combo in combos:
        body += combo_server(combo, port, variables)
    return main_conf(body + "}\n")


class Nginx:
    def __init__(self, conf):
        self.prefix = make_prefix()
        with open(os.path.join(self.prefix, "conf", "nginx.conf"), "w") as f:
            f.write(conf)
        self.stderr = open(os.path.join(self.prefix, "logs", "stderr.log"),
                           "w")
        self.proc = subprocess.Popen(
            [nginx_binary(), "-p", self.prefix + "/", "-c",
             "conf/nginx.conf"], stderr=self.stderr)

    def wait_listening(self, port, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self, timeout=60):
        """SIGQUIT: the workers hand their queues to the emulator first."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return False
        return True

    def log(self, name):
        path = os.path.join(self.prefix, "logs", name)
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.stderr.close()
        if not os.environ.get("KEEP"):
            shutil.rmtree(self.prefix, ignore_errors=True)


# -- the emulator, as the SDKs reach it ---------------------------------------

class EmulatorClient:
    """One keep-alive connection per combination to the emulator."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def post(self, path, data, encode=json.dumps):
        body = urllib.parse.urlencode({"data": encode(data)})
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1",
                                                       self.port, timeout=60)
            try:
                self.conn.request("POST", path, body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded"})
                answer = self.conn.getresponse()
                return answer.status, answer.read().decode()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()


def insert_id_js():
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    raw = uuid.uuid4().int
    out = ""
    for _ in range(16):
        raw, digit = divmod(raw, 36)
        out += alphabet[digit]
    return out


def encode_uri_component(text):
    return urllib.parse.quote(text, safe="-_.!~*'()")


class MixpanelJs:
    """mixpanel-browser 2.83's persistence and calls (see
    npm mixpanel-browser 2.83.0, src/mixpanel-core.js and
    mixpanel-persistence.js): distinct_id "$device:<uuid>"
    and $device_id <uuid> (lower case) until identify(); identify() sends
    $identify with $anon_distinct_id and flushes the queued $set_once;
    reset() clears the cookie and makes a new uuid."""

    def __init__(self, run, device):
        self.run, self.device = run, device
        self.props = None
        self.init()

    def cookie_name(self):
        return "mp_%s_mixpanel" % self.run.combo.token

    def init(self):
        self.new_ids()
        # _loaded: the referrer info, queued until identify()
        self.props["__mpso"] = {"$initial_referrer": "$direct",
                                "$initial_referring_domain": "$direct"}
        self.save()

    def new_ids(self):
        u = str(uuid.uuid4())
        self.props = {"distinct_id": "$device:" + u, "$device_id": u,
                      "$initial_referrer": "$direct",
                      "$initial_referring_domain": "$direct",
                      "__mps": {}, "__mpso": {}, "__mpus": {}, "__mpa": {},
                      "__mpu": {}, "__mpr": [], "__mpap": []}

    def save(self):
        text = json.dumps(self.props, separators=(",", ":"))
        self.device.jar[self.cookie_name()] = encode_uri_component(text)

    def device_id(self):
        return self.props["$device_id"]

    def event(self, name, extra):
        props = {"$os": "Linux", "$browser": "Chrome",
                 "$current_url": "https://app.example.com/",
                 "$browser_version": 124, "$screen_height": 1080,
                 "$screen_width": 1920, "mp_lib": "web",
                 "$lib_version": MPJS_VERSION, "$insert_id": insert_id_js(),
                 "time": round(time.time(), 3)}
        props.update({k: v for k, v in self.props.items()
                      if not k.startswith("__")})
        props.update(extra)
        props["token"] = self.run.combo.token
        return {"event": name, "properties": props}

    def send(self, records, path="/track/?verbose=1&ip=1"):
        self.run.sdk_post(path, records, self.run.step)

    def track(self, name, label):
        self.send([self.event(name, {"mx_step": label})])

    def identify(self, new_id, label):
        previous = self.props["distinct_id"]
        if new_id == previous:
            return
        self.props["$user_id"] = new_id
        self.props["distinct_id"] = new_id
        queued, self.props["__mpso"] = self.props["__mpso"], {}
        self.save()
        if queued:
            self.send([{"$set_once": queued, "$token": self.run.combo.token,
                        "$distinct_id": new_id,
                        "$device_id": self.props["$device_id"],
                        "$user_id": new_id}], "/engage/?verbose=1&ip=1")
        self.send([self.event("$identify", {
            "distinct_id": new_id, "$anon_distinct_id": previous,
            "mx_step": label})])

    def identified(self):
        return self.props.get("$user_id")

    def reset(self):
        self.new_ids()
        self.save()


class MixpanelSwift:
    """mixpanel-swift: anonymousId = UUID().uuidString (upper case),
    distinct_id "$device:" + anonymousId until identify(), whose $identify
    carries $anon_distinct_id; reset() makes a new anonymousId."""

    def __init__(self, run, device):
        self.run, self.device = run, device
        self.reset()

    def reset(self):
        self.anonymous_id = str(uuid.uuid4()).upper()
        self.distinct_id = "$device:" + self.anonymous_id
        self.user_id = None

    def device_id(self):
        return self.anonymous_id

    def header(self):
        return "$device:" + self.anonymous_id

    def event(self, name, extra):
        props = {"token": self.run.combo.token,
                 "time": int(time.time() * 1000),
                 "distinct_id": self.distinct_id,
                 "$device_id": self.anonymous_id, "mp_lib": "swift",
                 "$lib_version": SWIFT_VERSION, "$os": "iOS",
                 "$manufacturer": "Apple", "$model": "iPhone15,2",
                 "$insert_id": uuid.uuid4().hex[:16]}
        if self.user_id:
            props["$user_id"] = self.user_id
        props.update(extra)
        return {"event": name, "properties": props}

    def send(self, records):
        self.run.sdk_post("/track?ip=1", records, self.run.step,
                          encode=lambda d: base64.b64encode(
                              json.dumps(d).encode()).decode())

    def track(self, name, label):
        self.send([self.event(name, {"mx_step": label})])

    def identify(self, new_id, label):
        previous = self.distinct_id
        if new_id == previous:
            return
        self.distinct_id = new_id
        self.user_id = new_id
        self.send([self.event("$identify", {"$anon_distinct_id": previous,
                                            "mx_step": label})])

    def identified(self):
        return self.user_id


# -- the simulated clients ----------------------------------------------------

def cookie_gone(attrs):
    """Max-Age (which wins) or Expires saying the cookie is to be removed."""
    max_age = re.search(r"(?i)(?:^|;)\s*max-age=(-?\d+)", attrs)
    if max_age:
        return int(max_age.group(1)) <= 0
    expires = re.search(r"(?i)(?:^|;)\s*expires=([^;]+)", attrs)
    if expires:
        try:
            when = email.utils.parsedate_to_datetime(expires.group(1))
        except (TypeError, ValueError):
            return False
        return when.timestamp() <= time.time()
    return False


class Device:
    """One phone or browser: its cookies, its app session, its device id."""

    def __init__(self, run, name):
        self.run, self.name = run, name
        self.kind = run.combo.client
        self.jar = {}
        self.conn = None
        self.person = None
        self.session = None       # (person, "valid" | "expired")
        self.bearer = None        # the JWT the app holds (jwt, body)
        self.install_id = None
        self.last_account = None  # the app's own memory (mobile-header)
        self.sdk = None
        self.user_agent = {"web-cookie": UA_WEB, "sdk-web": UA_WEB,
                           "mobile-header": UA_ANDROID,
                           "ios-sdk": UA_IOS}[self.kind]
        if self.kind == "mobile-header":
            self.install_id = str(uuid.uuid4())
        elif self.kind == "sdk-web":
            self.sdk = MixpanelJs(run, self)
        elif self.kind == "ios-sdk":
            self.sdk = MixpanelSwift(run, self)

    # the device id the client itself sends (None: the module's cookie)
    def client_device_id(self):
        if self.kind == "mobile-header":
            return self.install_id
        if self.sdk is not None:
            return self.sdk.device_id()
        return None

    def headers(self, route, login_as):
        source = self.run.combo.source
        headers = {"Host": self.run.combo.host, "User-Agent": self.user_agent}
        if self.kind == "mobile-header":
            headers["X-Device-Id"] = self.install_id
        elif self.kind == "ios-sdk":
            headers["X-Device-Id"] = self.sdk.header()
        if login_as:
            headers["X-Login-As"] = account(login_as)
            if source == "header":
                headers["X-Account"] = account(login_as)
            elif source == "jwt":
                headers["Authorization"] = "Bearer " + VALID[login_as]
        elif self.session:
            person, state = self.session
            if source == "header" and state == "valid":
                headers["X-Account"] = account(person)
            elif source in ("jwt", "body") and self.bearer:
                headers["Authorization"] = "Bearer " + self.bearer
        if self.jar:
            headers["Cookie"] = "; ".join("%s=%s" % kv
                                          for kv in self.jar.items())
        return headers

    def store_cookies(self, answer):
        for line in answer.headers.get_all("Set-Cookie") or ():
            first, _, attrs = line.partition(";")
            name, _, value = first.strip().partition("=")
            if cookie_gone(attrs):
                self.jar.pop(name, None)
            else:
                self.jar[name] = value

    def connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(
                "127.0.0.1", self.run.port, timeout=30)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()


class Request:
    def __init__(self, step, person, device, route, path, label):
        self.step, self.person, self.device = step, person, device
        self.route, self.path, self.label = route, path, label
        self.sent_device = None     # the device id the request carried
        self.new_device = None      # a device cookie the answer set
        self.status = None
        self.account = None         # the account it was made for


class Run:
    """Plays the journeys of one combination."""

    def __init__(self, combo, port, emulator_port):
        self.combo = combo
        self.port = port
        self.emulator = EmulatorClient(emulator_port)
        self.step = None
        self.seq = 0
        self.devices = {}

    # labels carried by the events the test checks: step|person|n
    def label(self, person):
        self.seq += 1
        return "%s|%s|%d" % (self.step, person, self.seq)

    def device(self, name):
        if name not in self.devices:
            self.devices[name] = Device(self, name)
        return self.devices[name]

    def sdk_post(self, path, records, step, encode=json.dumps):
        try:
            status, text = self.emulator.post(path, records, encode)
        except (OSError, http.client.HTTPException) as e:
            self.combo.fail(step, "the SDK's %s failed: %s" % (path, e))
            return
        ok = status == 200 and (text.strip() == "1"
                                or '"status": 1' in text
                                or '"status":1' in text)
        if not ok:
            self.combo.fail(step, "the emulator refused the SDK's %s: %s"
                            % (path.split("?")[0], text.strip()[:160]))

    def note_device_id(self, device_id, dev, person):
        if device_id and device_id not in self.combo.device_ids:
            self.combo.device_ids[device_id] = (dev.name, self.step, person)

    def request(self, dev, method, route, path, person, login_as=None,
                profile=None):
        """One API call; route is the module action of its location."""
        label = None
        headers = dev.headers(route, login_as)
        if route in EVENT_OF:
            label = self.label(person)
            headers["X-Mx-Step"] = label
        if profile:
            headers["X-Profile"] = profile
        req = Request(self.step, person, dev.name, route, path, label)
        req.account = account(login_as) if login_as else (
            account(dev.session[0]) if dev.session
            and dev.session[1] == "valid" else None)
        cookie = dev.jar.get("mp_device_id")
        req.sent_device = dev.client_device_id() or (
            cookie.split(".")[0] if cookie else None)
        self.note_device_id(req.sent_device, dev, person)
        conn = dev.connection()
        try:
            conn.request(method, path, body=b"" if method == "POST" else None,
                         headers=headers)
            answer = conn.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            dev.conn = None
            self.combo.fail(self.step, "%s %s: %s" % (method, path, e))
            return None
        req.status = answer.status
        dev.store_cookies(answer)
        cookie = dev.jar.get("mp_device_id")
        if cookie and cookie.split(".")[0] != req.sent_device:
            req.new_device = cookie.split(".")[0]
            self.note_device_id(req.new_device, dev, person)
        self.combo.requests.append(req)
        if label:
            self.combo.expected[label] = req
        if answer.status != 200:
            self.combo.fail(self.step, "%s %s answered %d" % (
                method, path, answer.status))
            return None
        try:
            return json.loads(body or b"{}")
        except ValueError:
            return {}

    # -- what a person does ---------------------------------------------------

    def page(self, dev, path, person):
        """A screen: the SDK's page view, then the screen's API call."""
        if dev.sdk is not None:
            name = ("$mp_web_page_view" if dev.kind == "sdk-web"
                    else "Screen Viewed")
            label = self.label(person)
            self.combo.sdk_events[label] = (self.step, person, name)
            dev.sdk.track(name, label)
        self.request(dev, "GET", "track", path, person)

    def app_reset(self, dev):
        """The app's own reset of the device id it owns (the SDKs' reset,
        a new installation id); the module owns the web-cookie one."""
        if dev.sdk is not None:
            dev.sdk.reset()
        elif dev.kind == "mobile-header":
            dev.install_id = str(uuid.uuid4())
            dev.last_account = None
        if dev.kind != "web-cookie":
            self.note_device_id(dev.client_device_id(), dev, dev.person)

    def app_identify(self, dev, person):
        """After a sign-up or login answer: reset first when the device was
        identified as someone else, then identify."""
        acc = account(person)
        if dev.sdk is not None:
            if dev.sdk.identified() not in (None, acc):
                self.app_reset(dev)
            dev.sdk.identify(acc, self.label(person))
        elif dev.kind == "mobile-header":
            if dev.last_account not in (None, acc):
                self.app_reset(dev)
            dev.last_account = acc

    def sign_in(self, dev, person, route):
        answer = self.request(dev, "POST", route, "/api/" + route, person,
                              login_as=person,
                              profile="solo" if route == "signup" else None)
        if answer is None:
            return
        dev.session = (person, "valid")
        if self.combo.source == "jwt":
            dev.bearer = VALID[person]
        elif self.combo.source == "body":
            dev.bearer = answer.get("token") or None
        self.app_identify(dev, person)

    def signup(self, dev, person):
        self.sign_in(dev, person, "signup")

    def login(self, dev, person):
        self.sign_in(dev, person, "login")

    def profile_switch(self, dev, person, profile):
        self.request(dev, "POST", "profile_switch", "/api/profiles/switch",
                     person, profile=profile)

    def logout(self, dev, person):
        self.request(dev, "POST", "logout", "/api/logout", person)
        dev.session = None
        dev.bearer = None
        self.app_reset(dev)

    def expire(self, dev):
        """The session ends by itself: nothing is called, nothing reset."""
        person = dev.session[0]
        dev.session = (person, "expired")
        source = self.combo.source
        if source in ("jwt", "body"):
            dev.bearer = EXPIRED[person]
        elif source == "cookie":
            dev.jar.pop("account", None)
        elif source == "upstream":
            dev.jar["sid"] = account(person) + ".expired"

    def signup_screen(self, dev, person):
        self.app_reset(dev)
        self.request(dev, "GET", "reset", "/api/screens/signup", person)

    def logged_in_before(self, dev, person):
        """State left by the app before the module was deployed: a live
        session; an SDK identified as the account (its history sent)."""
        dev.session = (person, "valid")
        source = self.combo.source
        if source in ("jwt", "body"):
            dev.bearer = VALID[person]
        elif source == "cookie":
            dev.jar["account"] = account(person)
        elif source == "upstream":
            dev.jar["sid"] = account(person) + ".valid"
        if dev.sdk is not None:
            name = ("$mp_web_page_view" if dev.kind == "sdk-web"
                    else "Screen Viewed")
            label = self.label(person)
            self.combo.sdk_events[label] = (self.step, person, name)
            dev.sdk.track(name, label)
            dev.sdk.identify(account(person), self.label(person))
        elif dev.kind == "mobile-header":
            dev.last_account = account(person)
        self.note_device_id(dev.client_device_id(), dev, person)

    def close(self):
        for dev in self.devices.values():
            dev.close()
        self.emulator.close()


# The journeys, as data: (step, device, action, person, argument)
JOURNEYS = [
    ("X.1", "X1", "page", "ana", "/api/home"),
    ("X.1", "X1", "page", "ana", "/api/plans"),
    ("X.2", "X1", "signup", "ana", None),
    ("X.2", "X1", "page", "ana", "/api/feed"),
    ("X.3", "X1", "profile_switch", "ana", "partner"),
    ("X.3", "X1", "page", "ana", "/api/feed"),
    ("X.4", "X1", "logout", "ana", None),
    ("X.5", "X2", "page", "ana", "/api/home"),
    ("X.5", "X2", "login", "ana", None),
    ("X.5", "X2", "page", "ana", "/api/feed"),
    ("X.6", "X1", "login", "ben", None),
    ("X.6", "X1", "page", "ben", "/api/feed"),
    ("X.6", "X1", "logout", "ben", None),
    ("X.7", "X1", "signup_screen", "cleo", None),
    ("X.7", "X1", "page", "cleo", "/api/plans"),
    ("X.7", "X1", "signup", "cleo", None),

    ("E.1", "E1", "page", "eve", "/api/home"),
    ("E.1", "E1", "page", "eve", "/api/plans"),
    ("E.2", "E1", "signup", "eve", None),
    ("E.2", "E1", "page", "eve", "/api/feed"),
    ("E.3", "E1", "profile_switch", "eve", "partner"),
    ("E.3", "E1", "page", "eve", "/api/feed"),
    ("E.4", "E1", "expire", "eve", None),
    ("E.4", "E1", "page", "eve", "/api/home"),
    ("E.4", "E1", "page", "eve", "/api/plans"),
    ("E.5", "E2", "page", "eve", "/api/home"),
    ("E.5", "E2", "login", "eve", None),
    ("E.5", "E2", "page", "eve", "/api/feed"),
    ("E.6", "E1", "login", "frank", None),
    ("E.6", "E1", "page", "frank", "/api/feed"),
    ("E.6", "E1", "expire", "frank", None),
    ("E.7", "E1", "signup_screen", "gina", None),
    ("E.7", "E1", "page", "gina", "/api/plans"),
    ("E.7", "E1", "signup", "gina", None),

    ("P.1", "P1", "logged_in_before", "dan", None),
    ("P.2", "P1", "page", "dan", "/api/home"),
    ("P.2", "P1", "page", "dan", "/api/feed"),
    ("P.2", "P1", "page", "dan", "/api/plans"),
    ("P.3", "P1", "expire", "dan", None),
    ("P.3", "P1", "page", "dan", "/api/home"),
]


def generated_journeys(seed, length):
    """R: the same moves in orders the journeys above never take, from a
    fixed seed (the same every run): four people on three devices, each
    move chosen among those the device's state allows.  A device with a
    live session browses, switches profile, logs out or expires; after an
    expiry its person browses on, logs in again, or someone else logs in
    or opens the sign-up screen; a device logged out of stays its
    person's (Original mode keeps the id by default) until the sign-up
    screen or a login; an anonymous device is held by the person who will
    sign in on it next: pages, then that person's sign-up, or login once
    signed up; before any page, anyone may sign in or open the sign-up
    screen.  After a sign-in the app shows a screen first: an SDK that
    resets at a login of another account has a new device id, which the
    module learns only from that device's next request (an SDK identifies
    it directly; a session that ended before any request leaves the module
    an id it cannot know is taken).  Whoever browsed anonymously signs in
    before the end, and so does everyone."""
    rng = random.Random(seed)
    devices = ("R1", "R2", "R3")
    state = {d: {"session": None, "holder": None, "pending": False}
             for d in devices}
    signed_up = set()
    moves = []

    def emit(device, action, person, arg, what):
        step = "R.%d" % (len(moves) + 1)
        STEPS[step] = what
        moves.append((step, device, action, person, arg))

    def sign_in(device, person):
        action = "login" if person in signed_up else "signup"
        signed_up.add(person)
        emit(device, action, person, None, "generated: %s %s on %s" % (
            title(person), "logs in" if action == "login" else "signs up",
            device))
        state[device].update(session=(person, "valid"), holder=None,
                             pending=False, fresh=True)

    for _ in range(length):
        device = rng.choice(devices)
        st = state[device]
        path = rng.choice(("/api/home", "/api/feed", "/api/plans"))

        if st["session"] and st["session"][1] == "valid":
            person = st["session"][0]
            move = rng.choice(("page", "page", "profile_switch", "logout",
                               "expire"))
            # an app asks for a screen after a login (an SDK that reset
            # at the login made a device id the module has yet to see)
            if st.pop("fresh", False):
                move = "page"
            if move == "page":
                emit(device, "page", person, path, "generated: %s browses "
                     "on %s" % (title(person), device))
            elif move == "profile_switch":
                emit(device, "profile_switch", person,
                     rng.choice(("solo", "partner", "kids")),
                     "generated: %s switches profile on %s"
                     % (title(person), device))
            elif move == "logout":
                # Original mode keeps the device id at a logout (by
                # default): who browses on is this person until the
                # sign-up screen or a login
                emit(device, "logout", person, None, "generated: %s logs "
                     "out on %s" % (title(person), device))
                st.update(session=None, holder=person, pending=False)
            else:
                emit(device, "expire", person, None, "generated: %s's "
                     "session on %s expires" % (title(person), device))
                st["session"] = (person, "expired")

        elif st["session"]:
            person = st["session"][0]
            move = rng.choice(("page", "login", "other", "signup_screen"))
            if move == "page":
                emit(device, "page", person, path, "generated: %s browses "
                     "on %s, expired" % (title(person), device))
            elif move == "login":
                sign_in(device, person)
            elif move == "other":
                sign_in(device, rng.choice([p for p in GENERATED_PERSONS
                                            if p != person]))
            else:
                other = rng.choice(GENERATED_PERSONS)
                emit(device, "signup_screen", other, None, "generated: %s "
                     "opens the sign-up screen on %s" % (title(other),
                                                          device))
                st.update(session=None, holder=other, pending=False)

        else:
            if st["holder"] is None:
                st["holder"] = rng.choice(GENERATED_PERSONS)
            person = st["holder"]
            move = rng.choice(("page", "page", "sign_in", "signup_screen"))
            if move == "signup_screen" and st["pending"]:
                move = "page"
            if move == "page":
                emit(device, "page", person, path, "generated: %s browses "
                     "on %s, anonymous" % (title(person), device))
                st["pending"] = True
            elif move == "sign_in":
                sign_in(device, person if st["pending"]
                        else rng.choice(GENERATED_PERSONS))
            else:
                other = rng.choice(GENERATED_PERSONS)
                emit(device, "signup_screen", other, None, "generated: %s "
                     "opens the sign-up screen on %s" % (title(other),
                                                          device))
                st["holder"] = other

    for device in devices:
        if state[device]["pending"]:
            sign_in(device, state[device]["holder"])

    for person in GENERATED_PERSONS:
        if person in signed_up:
            continue
        st = state["R1"]
        if st["session"] and st["session"][1] == "valid":
            emit("R1", "logout", st["session"][0], None, "generated: %s "
                 "logs out on R1" % title(st["session"][0]))
            st.update(session=None, holder=None, pending=False)
        sign_in("R1", person)

    return moves


JOURNEYS += generated_journeys(54, 60)

# who signs up or logs in through the module (must have a profile)
SIGNED_IN = {person for _, _, action, person, _ in JOURNEYS
             if action in ("signup", "login")}


def play(combo, port, emulator_port):
    run = Run(combo, port, emulator_port)
    try:
        for step, device, action, person, arg in JOURNEYS:
            run.step = step
            dev = run.device(device)
            dev.person = person
            if action == "page":
                run.page(dev, arg, person)
            elif action == "profile_switch":
                run.profile_switch(dev, person, arg)
            elif action == "expire":
                run.expire(dev)
            elif action in ("signup", "login", "logout", "signup_screen",
                            "logged_in_before"):
                getattr(run, action)(dev, person)
            else:
                raise ValueError(action)
    finally:
        run.close()


# -- the judge ----------------------------------------------------------------

def emulator_items(emu, name):
    answer = emu.call("GET", "/_emulator/%s" % name, timeout=300)
    if answer.status != 200:
        raise RuntimeError("/_emulator/%s: %s" % (name, answer))
    return answer.json()[name]


def by_token(items, key="token"):
    result = {}
    for item in items:
        result.setdefault(item.get(key), []).append(item)
    return result


def split_label(label):
    step, person, _ = label.split("|")
    return step, person


def where(cluster, accounts_of):
    if cluster is None:
        return "in no cluster"
    accs = accounts_of.get(cluster["cluster_id"], [])
    if accs:
        return "in %s's user" % title(accs[0][len("acc-"):])
    if cluster["kind"] == "anonymous":
        return "in an anonymous cluster"
    return "in a user %s" % cluster["canonical"]


def step_of_pair(combo, acc, device_id):
    """The first step where this account met this device id."""
    for req in combo.requests:
        if req.account == acc and device_id in (req.sent_device,
                                                req.new_device):
            return req.step
    for req in combo.requests:
        if req.account == acc:
            return req.step
    return "-"


def device_text(combo, device_id):
    if not device_id:
        return "?"
    plain = device_id[len("$device:"):] if device_id.startswith(
        "$device:") else device_id
    known = combo.device_ids.get(plain)
    if known is None:
        for key, value in combo.device_ids.items():
            if key.lower() == plain.lower():
                known = value
                break
    if known is None:
        return "%s (not an id of the client)" % device_id
    name, step, person = known
    return "%s (%s's on %s)" % (device_id, title(person), name)


def judge(combo, users, events, identity, rejected):
    fail = combo.fail
    clusters = {u["cluster_id"]: u for u in users}
    cluster_of = {}
    for u in users:
        for i in u["ids"]:
            cluster_of[i["id"]] = u["cluster_id"]
    all_accounts = {account(p) for p in PERSONS}
    accounts_of = {}
    for u in users:
        accs = [i["id"] for i in u["ids"] if i["id"] in all_accounts]
        accounts_of[u["cluster_id"]] = accs
        if len(accs) > 1:
            first = min((r for r in combo.requests
                         if r.account in accs[1:]), key=combo.requests.index,
                        default=None)
            fail(first.step if first else "-",
                 "accounts %s merged into one user" % " and ".join(accs))

    first_step = {}
    for req in combo.requests:
        first_step.setdefault(req.person, req.step)
    for label, (step, person, _) in combo.sdk_events.items():
        first_step.setdefault(person, step)

    home = {}
    for person in PERSONS:
        cid = cluster_of.get(account(person))
        home[person] = cid
        if cid is None:
            fail(first_step.get(person, "-"),
                 "%s's account %s never reached Mixpanel"
                 % (title(person), account(person)))

    # every event a person caused, in that person's user
    seen = {}
    misplaced = {}
    for ev in events:
        label = ev["properties"].get("mx_step")
        if not isinstance(label, str) or label.count("|") != 2:
            if (ev["cluster_id"] in clusters
                    and clusters[ev["cluster_id"]]["kind"] == "anonymous"):
                misplaced.setdefault(("-", "an unlabelled %s (%s)" % (
                    ev["event"], ev["properties"].get("mp_lib")),
                    "in an anonymous cluster"), []).append(ev)
            continue
        step, person = split_label(label)
        origin = "server" if ev["properties"].get("mp_lib") == "nginx" \
            else "SDK"
        if origin == "server":
            seen.setdefault(label, []).append(ev)
        if home.get(person) is not None and ev["cluster_id"] == home[person]:
            continue
        place = where(clusters.get(ev["cluster_id"]), accounts_of)
        misplaced.setdefault((step, "%s's %s" % (title(person), origin),
                              place), []).append(ev)
    for (step, whose, place), evs in sorted(misplaced.items()):
        names = sorted({e["event"] for e in evs})
        ids = sorted({e["distinct_id"] for e in evs})
        fail(step, "%s %s %s (%s; distinct_id %s)" % (
            whose, "event" if len(evs) == 1 else "%d events" % len(evs),
            place, ", ".join(names), ", ".join(ids)))

    # every server event sent once
    for label, req in combo.expected.items():
        got = seen.get(label, [])
        step, person = split_label(label)
        if not got:
            fail(step, "%s's %s %s sent no event (%s expected)" % (
                title(person), "POST" if req.route != "track" else "GET",
                req.path, EVENT_OF[req.route]))
        elif len(got) > 1:
            fail(step, "%s's %s sent %d events" % (title(person), req.path,
                                                   len(got)))
        elif got[0]["event"] != EVENT_OF[req.route]:
            fail(step, "%s's %s sent %r, not %r" % (
                title(person), req.path, got[0]["event"],
                EVENT_OF[req.route]))

    # the module's $identify: once per device and account
    pairs = {}
    for ev in events:
        p = ev["properties"]
        if ev["event"] == "$identify" and p.get("mp_lib") == "nginx":
            pair = (p.get("$identified_id"), p.get("$anon_id"))
            pairs[pair] = pairs.get(pair, 0) + 1
    for (acc, anon), n in sorted(pairs.items(), key=str):
        if n > 1:
            fail(step_of_pair(combo, acc, anon),
                 "the module sent $identify %s <- %s %d times" % (
                     acc, device_text(combo, anon), n))

    # identity operations refused
    for op in identity:
        if op["outcome"] != "rejected":
            continue
        ids = op["ids"] or {}
        acc = ids.get("$identified_id") or ids.get("$user_id") or \
            ids.get("distinct_id")
        anon = ids.get("$anon_id") or ids.get("$device_id") or \
            ids.get("alias")
        ev = next((e for e in events if e["id"] == op["event_id"]), None)
        props = ev["properties"] if ev else {}
        lib = props.get("mp_lib")
        acc = acc or props.get("distinct_id")
        anon = anon or props.get("$anon_distinct_id")
        label = props.get("mx_step")
        step = split_label(label)[0] if isinstance(label, str) and \
            label.count("|") == 2 else step_of_pair(combo, acc, anon)
        fail(step,
             "%s %s %s <- %s refused%s: %s" % (
                 {"nginx": "the module's", "web": "mixpanel-js's",
                  "swift": "mixpanel-swift's"}.get(lib, "a"),
                 op["op"], acc, device_text(combo, anon),
                 " (%d refusals like it)" % op["count"] if op["count"] > 1
                 else "",
                 op["reason"]))

    # profiles: none anonymous, none duplicate, one for each who signed in
    for u in users:
        live = [p for p in u["profiles"] if p["state"] == "live"]
        lost = [p for p in u["profiles"] if p["state"] == "orphaned"]
        accs = accounts_of.get(u["cluster_id"], [])
        who = title(accs[0][len("acc-"):]) + "'s user" if accs else \
            "user " + str(u["canonical"])
        if u["kind"] == "anonymous" and u["profiles"]:
            fail("-", "a profile on the anonymous id %s" % ", ".join(
                p["distinct_id"] for p in u["profiles"]))
        if len(live) > 1:
            fail("-", "%s has %d profiles (on %s)" % (
                who, len(live), ", ".join(p["distinct_id"] for p in live)))
        for p in lost:
            fail("-", "%s: a profile set on the anonymous id %s was lost "
                      "at the merge" % (who, p["distinct_id"]))
    for person in sorted(SIGNED_IN):
        cid = home.get(person)
        if cid is not None and not clusters[cid]["profile"]:
            fail(first_step.get(person, "-"), "%s's user has no profile"
                 % title(person))

    for r in rejected:
        fail("-", "the emulator refused a record (%s, %s): %s" % (
            r["endpoint"], r["field"], r["message"]))


# -- the run ------------------------------------------------------------------

def tap_escape(text):
    return text.replace("#", "\\#")


def diag(text):
    """A TAP diagnostic: on stderr, where prove shows it."""
    sys.stdout.flush()
    sys.stderr.write("".join("# %s\n" % line for line in text.split("\n")))
    sys.stderr.flush()


def main():
    started = time.time()
    combos = combinations()
    print("1..%d" % len(combos))
    sys.stdout.flush()

    variables = module_variables()
    known = probe_variables(variables)
    usable = [v for v in variables if known[v] is None]
    for name, error in sorted(known.items()):
        if error:
            diag("$%s: not in this build (%s)" % (name, error))

    playable = []
    for combo in combos:
        needs = "mixpanel_sdk_device_id" if combo.client == "sdk-web" \
            else None
        if needs and known.get(needs):
            combo.skipped = "$%s is not in this build: %s" % (needs,
                                                              known[needs])
        else:
            playable.append(combo)

    port, app_port = free_port(), free_port()
    emu = EmulatorProcess(*["--identity=%s=simplified" % c.token
                            for c in combos if c.mode == "simplified"])
    nginx = None
    try:
        conf = nginx_conf(playable, port, app_port, emu.port, usable)
        nginx = Nginx(conf)
        if not nginx.wait_listening(port):
            reason = (nginx.log("stderr.log").strip().splitlines()
                      or ["nginx did not start"])[-1]
            for combo in playable:
                combo.skipped = "nginx did not start: %s" % reason
            playable = []

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for combo, error in zip(playable, pool.map(
                    lambda c: safe_play(c, port, emu.port), playable)):
                if error:
                    combo.fail(combo.requests[-1].step if combo.requests
                               else "-", "the journey broke: %s" % error)
        played = time.time()

        if nginx.proc.poll() is None and not nginx.stop():
            diag("nginx did not stop within 60 s (killed)")
        stopped = time.time()

        try:
            names = ("users", "events", "identity", "rejected")
            seen = {name: by_token(emulator_items(emu, name))
                    for name in names}
            for combo in playable:
                judge(combo, *(seen[name].get(combo.token, [])
                               for name in names))
        except Exception as e:      # no combination passes unjudged
            for combo in playable:
                combo.fail("-", "could not judge: %s: %s" % (
                    type(e).__name__, e))
        lost = [line for line in nginx.log("error.log").splitlines()
                if re.search(r"\[(alert|crit|emerg)\]|dropped|lost", line)]
    finally:
        if nginx is not None:
            nginx.stop()
            nginx.cleanup()
        emu.stop()

    report(combos, lost)
    diag("%d combinations, %d requests, %d SDK events; played in %.1f s, "
          "nginx stopped in %.1f s, %.1f s in all" % (
              len(combos), sum(len(c.requests) for c in combos),
              sum(len(c.sdk_events) for c in combos), played - started,
              stopped - played, time.time() - started))
    return 0


def safe_play(combo, port, emulator_port):
    try:
        play(combo, port, emulator_port)
        return None
    except Exception as e:      # a broken journey is that combination's
        return "%s: %s" % (type(e).__name__, e)


def report(combos, lost):
    rows = []
    for n, combo in enumerate(combos, 1):
        if combo.skipped:
            print("not ok %d - %s" % (n, tap_escape(combo.name)))
            diag("  %-44s | %-4s | %s" % (combo.name, "-", combo.skipped))
            rows.append((combo, "-", combo.skipped))
            continue
        failures = sorted(set(combo.failures), key=step_key)
        print("%s %d - %s" % ("not ok" if failures else "ok", n,
                              tap_escape(combo.name)))
        for step, what in failures:
            diag("  %-44s | %-4s | %s" % (combo.name, step, what))
            rows.append((combo, step, what))
    for line in lost[:10]:
        diag("nginx error.log: %s" % line[:300])

    # the shape of the failures, by dimension
    diag("failing combinations per dimension value:")
    failing = {c.name for c, _, _ in rows}
    for dim, values in (("source", SOURCES), ("mode", MODES),
                        ("logging", LOGGING), ("client", CLIENTS)):
        parts = []
        for value in values:
            members = [c for c in combos if getattr(c, dim) == value]
            bad = sum(1 for c in members if c.name in failing)
            parts.append("%s %d/%d" % (value, bad, len(members)))
        diag("  %-8s %s" % (dim, ", ".join(parts)))
    diag("steps with failures: %s" % ", ".join(
        "%s %s (%d)" % (step, STEPS.get(step, ""), count)
        for step, count in sorted(count_steps(rows).items(),
                                  key=lambda kv: step_key(kv))))
    sys.stdout.flush()


def count_steps(rows):
    counts = {}
    for combo, step, _ in rows:
        counts.setdefault(step, set()).add(combo.name)
    return {step: len(names) for step, names in counts.items()}


def step_key(item):
    step = item[0]
    order = list(STEPS)
    return (order.index(step) if step in order else len(order), item)


if __name__ == "__main__":
    sys.exit(main())
