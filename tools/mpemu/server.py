"""The threaded HTTP/1.1 (and HTTPS) server in front of the emulator.

One thread per connection, keep-alive, a Content-Length on every answer.
Ingestion paths go through the fault queue and then to ingest.Emulator;
``/_emulator/...`` is the control and query API (never faulted, never kept
in the request log).
"""

import http.server
import json
import re
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

from . import __version__, query
from .faults import FaultError, Faults, status_body
from .ingest import ENDPOINTS, Answer, Request, basic_credentials
from .payload import PayloadError, decode_body, extract_records
from .report import build_report
from .store import now_ms

MAX_REQUEST_BYTES = 64 * 1024 * 1024    # raw body; Mixpanel's limits are lower
DEFAULT_WAIT_S = 10.0
MAX_WAIT_S = 600.0
TLS_HANDSHAKE_S = 10.0


class BodyError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Application:
    """What the request handlers share."""

    def __init__(self, store, emulator, faults=None, verbose=False):
        self.store = store
        self.emulator = emulator
        self.faults = faults or Faults()
        self.verbose = verbose
        self.stopping = threading.Event()
        # ingestion requests being handled now, the most seen at once, and
        # the connections that carried ingestion requests (for a client's
        # concurrency and connection reuse)
        self.flight_lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = set()

    def reset(self):
        self.faults.clear()
        self.emulator.reset()
        self.reset_concurrency()

    def reset_concurrency(self):
        with self.flight_lock:
            self.max_in_flight = self.in_flight
            self.connections = set()

    def concurrency(self):
        with self.flight_lock:
            return {"in_flight": self.in_flight,
                    "max_in_flight": self.max_in_flight,
                    "connections": len(self.connections)}

    def flight(self, delta, connection=None):
        with self.flight_lock:
            self.in_flight += delta
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if connection is not None:
                self.connections.add(connection)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app, tls_context=None):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.tls_context = tls_context
        super().__init__(address, Handler)

    def finish_request(self, request, client_address):
        """Runs in the connection's thread: the TLS handshake happens here,
        so a slow client cannot hold up the accept loop."""
        if self.tls_context is None:
            return super().finish_request(request, client_address)
        try:
            request.settimeout(TLS_HANDSHAKE_S)
            conn = self.tls_context.wrap_socket(request, server_side=True)
            conn.settimeout(None)
        except (OSError, ssl.SSLError):
            request.close()
            return None
        try:
            return super().finish_request(conn, client_address)
        finally:
            close_quietly(conn)


def login_events(params):
    """The report's ``login_event=`` (repeatable), as build_report's
    optional argument."""
    names = params.get("login_event")
    if names is None:
        return ()
    return (tuple(names) if isinstance(names, list) else (names,),)


def request_token(request):
    """The project a request names, for faults that match a token: the
    Basic user, else the first record's token or $token."""
    credentials = basic_credentials(request.headers)
    if credentials and credentials[0]:
        return credentials[0]
    try:
        decoded = decode_body(request.body, request.headers,
                              MAX_REQUEST_BYTES)
        records, _ = extract_records(request.method, request.headers,
                                     request.query, decoded)
    except (PayloadError, ValueError):
        return None
    if not records or not isinstance(records[0], dict):
        return None
    first = records[0]
    properties = first.get("properties")
    if isinstance(properties, dict) and "token" in properties:
        return properties["token"]
    return first.get("$token")


def close_quietly(sock):
    try:
        sock.close()
    except OSError:
        pass


def tls_context(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    return context


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mixpanel-emulator/" + __version__
    # Headers and body go out in two writes: without TCP_NODELAY the second
    # waits for the client's delayed ACK (40 ms a request on keep-alive).
    disable_nagle_algorithm = True
    # an ingestion request counted in in_flight, until its answer leaves
    flying = False

    def version_string(self):
        return self.server_version

    def do_GET(self):
        self.handle_request()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    @property
    def app(self):
        return self.server.app

    # -- one request ----------------------------------------------------------

    def land(self):
        """The request is no longer in flight: before its answer leaves,
        so that a client that has read it sees in_flight without it."""
        if self.flying:
            self.flying = False
            self.app.flight(-1)

    def handle_request(self):
        received = now_ms()
        self.flying = False
        try:
            body = self.read_body()
        except BodyError as exc:
            self.close_connection = True
            return self.send_json(exc.status, {"error": exc.message})
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        try:
            if path.startswith("/_emulator"):
                return self.control(path, url.query, body)
            if path not in ENDPOINTS:
                return self.send_json(404, {"error": "no such endpoint: %s"
                                            % path})
            request = Request(self.command, path, url.query, self.headers,
                              body, self.client_address[0], received)
            self.app.flight(1, self.client_address)
            self.flying = True
            try:
                fault = self.app.faults.take(path, request_token(request))
                if fault:
                    return self.faulted(request, fault)
                return self.send_answer(self.app.emulator.handle(request))
            finally:
                self.land()
        except Exception as exc:  # keep serving; say what went wrong
            self.log_message("internal error on %s: %r", path, exc)
            self.close_connection = True
            return self.send_json(500, {"error": "emulator error: %r" % exc})

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self.read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BodyError(400, "bad Content-Length")
        if length < 0:
            raise BodyError(400, "bad Content-Length")
        if length > MAX_REQUEST_BYTES:
            raise BodyError(413, "request body too large")
        return self.rfile.read(length) if length else b""

    def read_chunked(self):
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BodyError(400, "bad chunked encoding")
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_REQUEST_BYTES:
                raise BodyError(413, "request body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)

    # -- faults ---------------------------------------------------------------

    def faulted(self, request, fault):
        """Answer a request the way a pending fault says."""
        if fault.get("delay_ms"):
            self.app.faults.release.wait(fault["delay_ms"] / 1000.0)
        acts = "status" in fault or fault.get("hang") or fault.get("close")
        if not acts:
            return self.send_answer(self.app.emulator.handle(request, fault))
        replacement = None
        if "status" in fault:
            headers = {}
            if "retry_after" in fault:
                headers["Retry-After"] = str(fault["retry_after"])
            if "location" in fault:
                headers["Location"] = fault["location"]
            replacement = Answer(fault["status"], fault.get(
                "body", status_body(fault["status"])), headers=headers,
                header_case=fault.get("header_case"))
        self.app.emulator.handle(request, fault, ingest=bool(
            fault.get("ingest")), replace=True, replacement=replacement)
        if replacement is not None:
            return self.send_answer(replacement)
        self.close_connection = True
        if fault.get("hang"):
            return self.hang()
        return self.drop(fault["close"])

    def hang(self):
        """Never answer: wait until the client goes, or we are told to."""
        release = self.app.faults.release
        conn = self.connection
        conn.settimeout(0.2)
        while not release.is_set() and not self.app.stopping.is_set():
            try:
                if not conn.recv(4096):
                    break
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except OSError:
                break

    def drop(self, mode):
        """Close the connection without a (complete) answer."""
        self.land()
        if mode == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        elif mode == "partial":
            body = b'{"code":200,"num_records_imported":'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) * 4))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        if mode == "reset":
            close_quietly(self.connection)

    # -- the control and query API -------------------------------------------

    def control(self, path, query_string, body):
        params = query.parse_query(query_string)
        name = path[len("/_emulator"):].strip("/")
        method = self.command
        if name == "health":
            return self.send_json(200, {"ok": True, "version": __version__})
        if name == "reset" and method == "POST":
            self.app.reset()
            return self.send_json(200, {"ok": True})
        if name in ("faults", "faults/clear"):
            return self.control_faults(name, method, body)
        if name == "concurrency/reset" and method == "POST":
            self.app.reset_concurrency()
            return self.send_json(200, self.app.concurrency())
        if name == "concurrency":
            return self.send_json(200, self.app.concurrency())
        if method not in ("GET", "HEAD"):
            return self.send_json(405, {"error": "use GET"})
        store = self.app.store
        if name == "stats":
            counters = store.counters()
            with store.read() as db:
                return self.send_json(200, query.stats(db, counters))
        if name == "report":
            with store.read() as db:
                return self.send_json(200, build_report(
                    db, params.get("token"),
                    params.get("account_property", "account_id"),
                    *login_events(params)))
        if name in query.COLLECTIONS:
            return self.collection(name, params)
        return self.send_json(404, {"error": "no such emulator path: /%s"
                                    % name})

    def control_faults(self, name, method, body):
        faults = self.app.faults
        if method == "GET" and name == "faults":
            return self.send_json(200, {"faults": faults.list()})
        if method == "DELETE" or name == "faults/clear":
            faults.clear()
            return self.send_json(200, {"faults": []})
        if method != "POST":
            return self.send_json(405, {"error": "use GET, POST or DELETE"})
        try:
            added = faults.add(json.loads(body.decode("utf-8") or "null"))
        except (ValueError, FaultError) as exc:
            return self.send_json(400, {"error": "bad fault: %s" % exc})
        return self.send_json(200, {"faults": added})

    def collection(self, name, params):
        """A query collection, long-polled with wait_for=N&timeout=S."""
        fetch = query.COLLECTIONS[name]
        try:
            wanted = query.int_param(params, "wait_for")
            timeout = float(params.get("timeout") or DEFAULT_WAIT_S)
        except ValueError as exc:
            return self.send_json(400, {"error": str(exc)})
        timeout = min(max(timeout, 0.0), MAX_WAIT_S)
        found = {}

        def ready():
            found["items"] = fetch(self.app.store.db, params)
            return wanted is None or len(found["items"]) >= wanted

        try:
            done = self.app.store.wait_until(ready, timeout if wanted else 0)
        except ValueError as exc:
            return self.send_json(400, {"error": str(exc)})
        items = found["items"]
        return self.send_json(200, {"count": len(items),
                                    "timed_out": not done, name: items})

    # -- answers and logging --------------------------------------------------

    def send_json(self, status, value):
        return self.send_answer(Answer(status, json.dumps(
            value, ensure_ascii=False)))

    def send_answer(self, answer):
        self.land()
        data = answer.body.encode("utf-8") if isinstance(
            answer.body, str) else answer.body
        case = {"lower": str.lower, "upper": str.upper}.get(
            getattr(answer, "header_case", None), str)
        self.send_response(answer.status)
        content_type = answer.content_type
        if content_type.startswith(("text/", "application/json")):
            content_type += "; charset=utf-8"
        self.send_header(case("Content-Type"), content_type)
        self.send_header(case("Content-Length"), str(len(data)))
        for name, value in answer.headers.items():
            self.send_header(case(name), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_request(self, code="-", size="-"):
        if self.app.verbose:
            self.log_message("%s %s %s", self.command,
                             urllib.parse.urlsplit(self.path).path, code)

    def log_message(self, format, *args):
        """Quiet unless --verbose; never prints query strings (they carry
        tokens and base64 payloads) or headers."""
        if not self.app.verbose and not format.startswith("internal"):
            return
        text = re.sub(r"\?\S*", "?...", format % args)
        sys.stderr.write("%s %s %s\n" % (
            time.strftime("%Y-%m-%dT%H:%M:%S"), self.client_address[0], text))
