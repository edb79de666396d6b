#!/usr/bin/env python3
"""A small sample API for the demo: the app behind nginx.

Accounts are keyed by phone number; each account has profiles (a solo
profile made at sign-up, partner profiles added later).  Sign-up and login
answer {"account": {"id": ...}, "token": "<JWT>", ...}; the token is an
HS256 JWT whose "sub" is the account id, signed with the "oct" key of the
JWKS file that nginx verifies it with (examples/jwks.json).  Later requests
carry "Authorization: Bearer <jwt>" and the active profile in the
X-Profile-Id header (or, for a switch, {"profile_id": ...} in the body).

It knows nothing of Mixpanel: the module in front of it does the tracking.
Python 3 standard library only; state is in memory.

    app.py --jwks examples/jwks.json [--listen 127.0.0.1:8000]
           [--port-file FILE]
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN_LIFETIME = 3600
LOGIN_CODE = "123456"           # the SMS code every demo phone "receives"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Keys:
    """The HS256 secret: the first "oct" key of the JWKS nginx uses."""

    def __init__(self, path):
        with open(path) as f:
            jwks = json.load(f)
        for key in jwks.get("keys", [jwks]):
            if key.get("kty") == "oct":
                self.kid = key.get("kid")
                self.secret = unb64u(key["k"])
                return
        raise SystemExit("%s: no \"oct\" key" % path)

    def sign(self, claims):
        header = {"alg": "HS256", "typ": "JWT"}
        if self.kid:
            header["kid"] = self.kid
        signing = "%s.%s" % (b64u(json.dumps(header).encode()),
                             b64u(json.dumps(claims).encode()))
        mac = hmac.new(self.secret, signing.encode(), hashlib.sha256)
        return signing + "." + b64u(mac.digest())

    def verify(self, token):
        try:
            signing, _, sig = token.rpartition(".")
            mac = hmac.new(self.secret, signing.encode(), hashlib.sha256)
            if not hmac.compare_digest(b64u(mac.digest()), sig):
                return None
            claims = json.loads(unb64u(signing.split(".")[1]))
        except (ValueError, IndexError):
            return None
        if claims.get("exp", 0) < time.time():
            return None
        return claims


class Store:
    """Accounts by phone number, profiles by id, logged-out tokens."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_phone = {}
        self.accounts = {}
        self.revoked = set()
        self.next_id = 1001

    def new_account(self, phone, name, age):
        with self.lock:
            if phone in self.by_phone:
                return None
            account_id = "acc_%d" % self.next_id
            self.next_id += 1
            solo = {"id": "%s_solo" % account_id, "type": "solo",
                    "name": name, "age": age}
            account = {"id": account_id, "phone": phone,
                       "profiles": [solo]}
            self.by_phone[phone] = account
            self.accounts[account_id] = account
            return account

    def add_profile(self, account, kind, name, age):
        with self.lock:
            n = sum(1 for p in account["profiles"] if p["type"] == kind)
            profile = {"id": "%s_%s%s" % (account["id"], kind,
                                          n + 1 if n else ""),
                       "type": kind, "name": name, "age": age}
            account["profiles"].append(profile)
            return profile


def profile_of(account, profile_id):
    for profile in account["profiles"]:
        if profile["id"] == profile_id:
            return profile
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sample-api/1.0"

    routes = [
        ("GET", r"/api/home", "home"),
        ("GET", r"/api/plans", "plans"),
        ("GET", r"/api/items/(\d+)", "item"),
        ("GET", r"/api/screens/signup", "signup_screen"),
        ("POST", r"/api/signup", "signup"),
        ("POST", r"/api/login", "login"),
        ("POST", r"/api/logout", "logout"),
        ("GET", r"/api/feed", "feed"),
        ("GET", r"/api/profiles", "profiles"),
        ("POST", r"/api/profiles", "create_profile"),
        ("POST", r"/api/profiles/switch", "switch_profile"),
        ("PUT", r"/api/profile", "update_profile"),
        ("GET", r"/healthz", "health"),
    ]

    # -- plumbing -----------------------------------------------------------

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("sample-api: " + fmt % args + "\n")

    def handle_any(self):
        path = self.path.split("?", 1)[0]
        self.body = None
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if raw:
            try:
                self.body = json.loads(raw)
            except ValueError:
                return self.answer(400, {"error": "the body is not JSON"})
        if not isinstance(self.body, dict):
            self.body = {}
        known = False
        for method, pattern, name in self.routes:
            match = re.fullmatch(pattern, path)
            if match:
                known = True
                if method == self.command:
                    return getattr(self, "do_" + name)(*match.groups())
        if known:
            return self.answer(405, {"error": "method not allowed"})
        return self.answer(404, {"error": "no such route"})

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

    def answer(self, status, document):
        data = (json.dumps(document) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def session(self):
        """The account of the bearer token, else None."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        token = auth[len("Bearer "):].strip()
        if token in self.server.store.revoked:
            return None
        claims = self.server.keys.verify(token)
        if claims is None:
            return None
        return self.server.store.accounts.get(claims.get("sub"))

    def issue(self, account):
        # a jti of its own: two logins in the same second must not give
        # the same token, or a logout would revoke both
        now = int(time.time())
        return self.server.keys.sign({"sub": account["id"], "iat": now,
                                      "exp": now + TOKEN_LIFETIME,
                                      "jti": os.urandom(8).hex()})

    def active_profile(self, account):
        return profile_of(account, self.headers.get("X-Profile-Id", ""))

    # -- anonymous routes ---------------------------------------------------

    def do_health(self):
        self.answer(200, {"ok": True})

    def do_home(self):
        self.answer(200, {"screen": "home",
                          "sections": ["featured", "plans", "sign-up"]})

    def do_plans(self):
        self.answer(200, {"plans": [{"id": "solo", "price": 9},
                                    {"id": "partner", "price": 15}]})

    def do_item(self, item):
        self.answer(200, {"item": {"id": int(item),
                                   "title": "Item %s" % item}})

    def do_signup_screen(self):
        self.answer(200, {"screen": "signup",
                          "fields": ["phone", "name", "age"]})

    # -- identity -----------------------------------------------------------

    def do_signup(self):
        phone = str(self.body.get("phone", "")).strip()
        if not re.fullmatch(r"\+?[0-9 ]{6,20}", phone):
            return self.answer(400, {"error": "a phone number is needed"})
        account = self.server.store.new_account(
            phone, self.body.get("name"), self.body.get("age"))
        if account is None:
            return self.answer(409, {"error": "phone number already used"})
        self.answer(201, {"account": {"id": account["id"]},
                          "profile": account["profiles"][0],
                          "token": self.issue(account)})

    def do_login(self):
        phone = str(self.body.get("phone", "")).strip()
        account = self.server.store.by_phone.get(phone)
        if account is None or self.body.get("code") != LOGIN_CODE:
            return self.answer(401, {"error": "unknown phone or wrong code"})
        self.answer(200, {"account": {"id": account["id"]},
                          "profiles": account["profiles"],
                          "token": self.issue(account)})

    def do_logout(self):
        if self.session() is None:
            return self.answer(401, {"error": "not logged in"})
        auth = self.headers["Authorization"]
        self.server.store.revoked.add(auth[len("Bearer "):].strip())
        self.answer(200, {"ok": True})

    # -- logged in ------------------------------------------------------------

    def do_feed(self):
        account = self.session()
        if account is None:
            return self.answer(401, {"error": "not logged in"})
        profile = self.active_profile(account)
        self.answer(200, {"feed": ["welcome", "tips"],
                          "profile": profile and profile["id"]})

    def do_profiles(self):
        account = self.session()
        if account is None:
            return self.answer(401, {"error": "not logged in"})
        self.answer(200, {"profiles": account["profiles"]})

    def do_create_profile(self):
        account = self.session()
        if account is None:
            return self.answer(401, {"error": "not logged in"})
        kind = self.body.get("type")
        if kind not in ("solo", "partner"):
            return self.answer(400, {"error": "type is solo or partner"})
        profile = self.server.store.add_profile(
            account, kind, self.body.get("name"), self.body.get("age"))
        self.answer(201, {"profile": profile})

    def do_switch_profile(self):
        account = self.session()
        if account is None:
            return self.answer(401, {"error": "not logged in"})
        profile = profile_of(account, self.body.get("profile_id"))
        if profile is None:
            return self.answer(404, {"error": "no such profile"})
        self.answer(200, {"profile": profile})

    def do_update_profile(self):
        account = self.session()
        if account is None:
            return self.answer(401, {"error": "not logged in"})
        profile = self.active_profile(account)
        if profile is None:
            return self.answer(400, {"error": "X-Profile-Id names no "
                                              "profile of this account"})
        for field in ("name", "age"):
            if field in self.body:
                profile[field] = self.body[field]
        self.answer(200, {"profile": profile})


def parse_listen(value):
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", type=parse_listen,
                        default=("127.0.0.1", 8000), metavar="HOST:PORT",
                        help="address (port 0: a free one)")
    parser.add_argument("--port-file", metavar="FILE",
                        help="write the port here once listening")
    parser.add_argument("--jwks", required=True, metavar="FILE",
                        help="the JWKS whose oct key signs the tokens")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()

    server = ThreadingHTTPServer(args.listen, Handler)
    server.daemon_threads = True
    server.keys = Keys(args.jwks)
    server.store = Store()
    server.verbose = args.verbose

    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    print("listening on %s:%d" % (args.listen[0], port), flush=True)

    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(
        target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
