"""Helpers for the emulator's tests: start/stop it, talk to it, build events.

Every test module starts its own emulator on a free loopback port (port 0,
the port read from the ``listening on`` line), and waits with the query
API's ``wait_for`` long-poll, never with sleeps.
"""

import base64
import ctypes
import gzip
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EMULATOR = os.path.join(REPO, "tools", "mixpanel-emulator")
TOKEN = "test-token-0123456789abcdef"
START_TIMEOUT = 60
PR_SET_PDEATHSIG = 1

try:
    LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:
    LIBC = None


def die_with_parent():
    """In the child: SIGTERM the emulator if the test process dies first
    (Linux), so a killed test never leaves an emulator behind."""
    if LIBC is not None:
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def now_ms():
    return int(time.time() * 1000)


def uuid4():
    return str(uuid.uuid4())


def insert_id():
    return uuid.uuid4().hex


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.text)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:200])


class EmulatorProcess:
    """A running ``mixpanel-emulator serve`` on 127.0.0.1:<free port>."""

    def __init__(self, *args, tls=None):
        self.tls = tls                      # (cert, key) or None
        self.stderr = tempfile.TemporaryFile()
        command = [sys.executable, EMULATOR, "serve", "--listen",
                   "127.0.0.1:0"] + list(args)
        if tls:
            command += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True,
                                     preexec_fn=die_with_parent)
        self.port = self.read_port()
        self.host = "127.0.0.1"
        self.scheme = "https" if tls else "http"
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def read_port(self):
        found = {}

        def reader():
            found["line"] = self.proc.stdout.readline()

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        thread.join(START_TIMEOUT)
        line = found.get("line", "")
        prefix = "listening on 127.0.0.1:"
        if not line.startswith(prefix):
            self.proc.kill()
            raise RuntimeError("emulator did not start (%r): %s"
                               % (line, self.stderr_text()))
        return int(line[len(prefix):])

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def stop(self, timeout=20):
        """SIGTERM, then wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode

    # -- HTTP ---------------------------------------------------------------

    def connection(self, timeout=30):
        if self.tls:
            context = ssl.create_default_context(cafile=self.tls[0])
            return http.client.HTTPSConnection(self.host, self.port,
                                               timeout=timeout,
                                               context=context)
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=timeout)

    def call(self, method, path, body=None, headers=None, params=None,
             conn=None, timeout=30):
        """One request; pass ``conn`` to reuse a keep-alive connection."""
        if params:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(
                params)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = dict({"Content-Type": "application/json"},
                           **(headers or {}))
        if isinstance(body, str):
            body = body.encode("utf-8")
        own = conn is None
        conn = conn or self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            answer = conn.getresponse()
            return Response(answer.status, answer.headers, answer.read())
        finally:
            if own:
                conn.close()

    def get(self, where, **params):
        return self.call("GET", where, params=params)

    def query(self, name, **params):
        answer = self.get("/_emulator/" + name, **params)
        assert answer.status == 200, answer
        return answer.json()

    def wait(self, name, count, timeout=30, **params):
        """Long-poll a collection until it holds ``count`` items."""
        result = self.query(name, wait_for=count, timeout=timeout, **params)
        if result["count"] < count:
            raise AssertionError("waited %ss for %d %s (%s), have %d: %s" % (
                timeout, count, name, params, result["count"],
                json.dumps(result[name])[:2000]))
        return result[name]

    def items(self, name, **params):
        return self.query(name, **params)[name]

    def stats(self):
        return self.query("stats")

    def reset(self):
        answer = self.call("POST", "/_emulator/reset")
        assert answer.status == 200, answer

    def fault(self, spec):
        answer = self.call("POST", "/_emulator/faults", body=spec)
        assert answer.status == 200, answer
        return answer.json()["faults"]

    # -- Mixpanel endpoints ---------------------------------------------------

    def import_(self, events, token=TOKEN, strict=True, gzip_body=False,
                auth=None, params=None, ndjson=False, conn=None):
        """POST /import the way the module does (JSON, Basic auth)."""
        if ndjson:
            body = "\n".join(json.dumps(e) for e in events).encode()
            content_type = "application/x-ndjson"
        else:
            body = json.dumps(events).encode()
            content_type = "application/json"
        headers = {"Content-Type": content_type}
        if auth is None:
            auth = (token, "")
        if auth:
            headers["Authorization"] = basic(*auth)
        if gzip_body:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        params = dict(params or {})
        if strict:
            params["strict"] = "1"
        return self.call("POST", "/import", body=body, headers=headers,
                         params=params, conn=conn)

    def track(self, events, verbose=True, params=None, encoding="base64",
              method="POST"):
        """/track with ``data=`` (base64 or plain JSON) or a JSON body."""
        params = dict(params or {})
        if verbose:
            params["verbose"] = "1"
        text = json.dumps(events)
        if encoding == "json":
            return self.call(method, "/track", body=text, params=params,
                             headers={"Content-Type": "application/json"})
        data = base64.b64encode(text.encode()).decode() \
            if encoding == "base64" else text
        if method == "GET":
            params["data"] = data
            return self.call("GET", "/track", params=params)
        form = urllib.parse.urlencode({"data": data})
        return self.call(method, "/track", body=form, params=params, headers={
            "Content-Type": "application/x-www-form-urlencoded"})

    def engage(self, updates, path="/engage", verbose=True):
        params = {"verbose": "1"} if verbose else {}
        return self.call("POST", path, body=updates, params=params)


def basic(user, password=""):
    raw = ("%s:%s" % (user, password)).encode()
    return "Basic " + base64.b64encode(raw).decode()


def event(name, distinct_id=None, token=TOKEN, time=None, **props):
    """An event as the module builds it: token, time (ms), $insert_id."""
    properties = {"token": token, "time": now_ms() if time is None else time,
                  "$insert_id": insert_id()}
    if distinct_id is not None:
        properties["distinct_id"] = distinct_id
    properties.update(props)
    return {"event": name, "properties": properties}


def update(distinct_id, operation, value, token=TOKEN, **extra):
    body = {"$token": token, "$distinct_id": distinct_id, operation: value}
    body.update(extra)
    return body


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1/localhost; None without
    openssl."""
    if shutil.which("openssl") is None:
        return None
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj",
         "/CN=localhost", "-addext",
         "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class EmulatorTestCase(unittest.TestCase):
    """One emulator per test class, reset before every test."""

    serve_args = ()
    tls = False

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mpemu-test-")
        tls = make_certificate(cls.tmp) if cls.tls else None
        if cls.tls and tls is None:
            raise unittest.SkipTest("openssl is not installed")
        cls.emu = EmulatorProcess(*cls.serve_args, tls=tls)

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.emu.reset()
