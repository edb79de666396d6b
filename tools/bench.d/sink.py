#!/usr/bin/env python3
"""The benchmark's null Mixpanel sink (tools/bench).

A minimal HTTP/1.1 server, Python standard library only, that stands in
for Mixpanel's /import while the benchmark runs.  Every listener has a
mode:

  ok      /import answers 200 {"code":200,"num_records_imported":N,
          "status":"OK"}, after counting the batch's events and their
          $insert_id values (a gzip body is inflated with libdeflate through
          ctypes when the library is there, else with zlib)
  503     every request answers 503 (nothing is counted as delivered)

A listener may acknowledge first ("defer", the drain's null sink): it
answers 200 {"code":200,"status":"OK"} as soon as a batch is read and
counts it afterwards on another thread, so that its own work overlaps the
sender's next batch instead of adding to it.

A listener may answer late ("delay=MS", the latency drain's sink): each
/import and /engage is counted as soon as it is read, then answered
MS milliseconds after it arrived, every connection on its own thread, so
that any number of batches can be in flight at once, as at Mixpanel
from a real network.  The listener counts the connections it accepted,
the most open at once and the most requests in flight at once.

A listener may start paused: the socket listens (the kernel completes
connections and buffers what the client sends) but nothing is read until
POST /unpause?port=N on the control port, so a client's first request
hangs and its queue grows; unpausing lets the drain be timed.

Control port (loopback): GET /stats gives per "port/token": events, unique
insert ids, batches, wire and inflated bytes, the time of the first
request and of the last answer (monotonic seconds), the time spent in the
sink itself, and the Expect: 100-continue count; and per listener port:
connections accepted, open now and at most, requests in flight now and at
most, and the answers a delay listener sent late (the sink too slow to keep
its delay: then it, not the client, set the pace).  POST /unpause?port=N;
POST /delay?port=N&ms=M changes the delay of a listener (for requests that
arrive from then on).

Usage: sink.py --listen PORT:MODE[:paused][:defer][:delay=MS] ...
               --control PORT
"""

import argparse
import base64
import ctypes
import ctypes.util
import json
import queue
import re
import select
import socket
import sys
import threading
import time
import zlib

ID_RE = re.compile(rb'"\$insert_id":"([^"]*)"')
MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024


class Inflater:
    """gunzip; libdeflate (as the module uses) when loadable, else zlib."""

    def __init__(self):
        self.lib = None
        self.name = "zlib"
        path = ctypes.util.find_library("deflate") or "libdeflate.so.0"
        try:
            lib = ctypes.CDLL(path)
            lib.libdeflate_alloc_decompressor.restype = ctypes.c_void_p
            lib.libdeflate_gzip_decompress.argtypes = [
                ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                ctypes.c_void_p, ctypes.c_size_t,
                ctypes.POINTER(ctypes.c_size_t)]
            lib.libdeflate_gzip_decompress.restype = ctypes.c_int
            self.lib = lib
            self.name = "libdeflate"
        except (OSError, AttributeError):
            pass
        self.local = threading.local()

    def gunzip(self, data):
        if self.lib is None:
            return zlib.decompress(data, 31)
        loc = self.local
        if getattr(loc, "d", None) is None:
            loc.d = self.lib.libdeflate_alloc_decompressor()
            loc.buf = ctypes.create_string_buffer(4 << 20)
        # the gzip trailer's ISIZE is the inflated size (mod 2^32)
        size = int.from_bytes(data[-4:], "little") if len(data) >= 18 else 0
        if size + 1 > len(loc.buf):
            loc.buf = ctypes.create_string_buffer(size + 1)
        actual = ctypes.c_size_t()
        rc = self.lib.libdeflate_gzip_decompress(
            loc.d, bytes(data), len(data), loc.buf, len(loc.buf),
            ctypes.byref(actual))
        if rc != 0:
            return zlib.decompress(data, 31)
        return ctypes.string_at(loc.buf, actual.value)


class TokenStats:
    __slots__ = ("events", "ids", "unique", "batches", "wire_bytes",
                 "raw_bytes", "first_start", "last_end", "busy",
                 "expect100", "gzip_batches", "refused", "dedupe",
                 "answered", "answered_batches", "engage_records",
                 "engage_batches")

    def __init__(self, dedupe):
        self.events = 0
        self.ids = set()
        self.unique = 0
        self.batches = 0
        self.wire_bytes = 0
        self.raw_bytes = 0
        self.first_start = None
        self.last_end = None
        self.busy = 0.0
        self.expect100 = 0
        self.gzip_batches = 0
        self.refused = 0
        self.dedupe = dedupe
        self.answered = 0            # events of the batches answered
        self.answered_batches = 0
        self.engage_records = 0
        self.engage_batches = 0

    def as_dict(self):
        return {"events": self.events,
                "unique": len(self.ids) if self.dedupe else None,
                "duplicates": (self.events - len(self.ids))
                if self.dedupe else None,
                "batches": self.batches, "wire_bytes": self.wire_bytes,
                "raw_bytes": self.raw_bytes,
                "first_start": self.first_start, "last_end": self.last_end,
                "busy_s": self.busy, "expect100": self.expect100,
                "gzip_batches": self.gzip_batches, "refused": self.refused,
                "answered": self.answered,
                "answered_batches": self.answered_batches,
                "engage_records": self.engage_records,
                "engage_batches": self.engage_batches}


class Sink:
    def __init__(self, dedupe=True):
        self.lock = threading.Lock()
        self.tokens = {}
        self.inflater = Inflater()
        self.dedupe = dedupe
        self.listeners = {}      # port -> {"mode", "paused": Event}
        self.stop = threading.Event()
        self.requests = 0
        self.pending = queue.Queue()
        self.backlog = 0
        self.last_arrival = 0.0
        threading.Thread(target=self.counter, daemon=True).start()

    def stats_for(self, token):
        st = self.tokens.get(token)
        if st is None:
            st = self.tokens[token] = TokenStats(self.dedupe)
        return st

    # -- HTTP plumbing ---------------------------------------------------

    def listen(self, port, mode, paused, defer=False, delay_ms=0):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # a whole batch fits in the socket buffer: fewer wake-ups
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("127.0.0.1", port))
        s.listen(1024)
        gate = threading.Event()
        if not paused:
            gate.set()
        self.listeners[port] = {"mode": mode, "gate": gate,
                                "delay": delay_ms / 1000.0,
                                "accepted": 0, "open": 0, "max_open": 0,
                                "in_flight": 0, "max_in_flight": 0,
                                "late": 0, "late_s": 0.0,
                                "late_max_s": 0.0}
        if defer:
            mode = "defer"
        t = threading.Thread(target=self.accept_loop,
                             args=(s, port, mode, gate), daemon=True)
        t.start()

    def accept_loop(self, s, port, mode, gate):
        while not self.stop.is_set():
            if not gate.wait(0.2):
                continue
            r, _, _ = select.select([s], [], [], 0.2)
            if not r:
                continue
            try:
                c, _ = s.accept()
            except OSError:
                continue
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            lst = self.listeners[port]
            with self.lock:
                lst["accepted"] += 1
                lst["open"] += 1
                lst["max_open"] = max(lst["max_open"], lst["open"])
            threading.Thread(target=self.serve, args=(c, port, mode),
                             daemon=True).start()

    def serve(self, c, port, mode):
        buf = bytearray()
        lst = self.listeners[port]
        flying = False
        try:
            while not self.stop.is_set():
                # the head
                while b"\r\n\r\n" not in buf:
                    chunk = c.recv(262144)
                    if not chunk:
                        return
                    buf += chunk
                    if len(buf) > MAX_HEAD and b"\r\n\r\n" not in buf:
                        return
                t0 = time.monotonic()
                if mode != "control":
                    self.last_arrival = t0
                delay = lst["delay"]
                flying = True
                with self.lock:
                    lst["in_flight"] += 1
                    lst["max_in_flight"] = max(lst["max_in_flight"],
                                               lst["in_flight"])
                end = buf.index(b"\r\n\r\n")
                head = bytes(buf[:end]).decode("latin-1")
                del buf[:end + 4]
                lines = head.split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3:
                    return
                method, target, _ = parts
                hdrs = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    hdrs[k.strip().lower()] = v.strip()
                length = int(hdrs.get("content-length", "0") or 0)
                if length < 0 or length > MAX_BODY:
                    return
                expect = hdrs.get("expect", "").lower() == "100-continue"
                if expect and len(buf) < length:
                    c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                if len(buf) < length:
                    body = bytearray(length)
                    mv = memoryview(body)
                    have = len(buf)
                    mv[:have] = buf
                    buf = bytearray()
                    while have < length:
                        n = c.recv_into(mv[have:], length - have)
                        if n == 0:
                            return
                        have += n
                    body = bytes(body)
                else:
                    body = bytes(buf[:length])
                    del buf[:length]
                key = "%d/%s" % (port, self.token_of(hdrs))
                status, answer, n = self.handle(mode, method, target, key,
                                                body, hdrs, expect, t0)
                close = hdrs.get("connection", "").lower() == "close"
                reason = {200: "OK", 503: "Service Unavailable",
                          404: "Not Found", 400: "Bad Request"}.get(status,
                                                                    "X")
                out = ("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n%s\r\n"
                       % (status, reason, len(answer),
                          "Connection: close\r\n" if close else "")
                       ).encode() + answer
                path = target.split("?", 1)[0]
                delayed = (delay > 0 and status == 200 and method == "POST"
                           and path in ("/import", "/engage"))
                if delayed:
                    # the batch was counted when read; answer it "delay"
                    # after it arrived, as a distant Mixpanel would
                    wait = t0 + delay - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    else:
                        # the sink itself was too slow to answer in time:
                        # then it, not the client, sets the pace
                        with self.lock:
                            lst["late"] += 1
                            lst["late_s"] -= wait
                            lst["late_max_s"] = max(lst["late_max_s"],
                                                    -wait)
                c.sendall(out)
                flying = False
                with self.lock:
                    lst["in_flight"] -= 1
                if mode == "defer" and status == 200 and \
                        target.startswith("/import"):
                    with self.lock:
                        self.backlog += 1
                    self.pending.put((key, hdrs, body, expect, t0,
                                      time.monotonic()))
                elif mode == "ok" and path == "/import" and status == 200:
                    t1 = time.monotonic()
                    with self.lock:
                        st = self.stats_for(key)
                        st.last_end = t1
                        st.busy += t1 - t0
                        st.answered += n
                        st.answered_batches += 1
                if close:
                    return
        except (OSError, ValueError):
            return
        finally:
            with self.lock:
                lst["open"] -= 1
                if flying:
                    lst["in_flight"] -= 1
            try:
                c.close()
            except OSError:
                pass

    @staticmethod
    def token_of(hdrs):
        auth = hdrs.get("authorization", "")
        if auth[:6].lower() == "basic ":
            try:
                user = base64.b64decode(auth[6:]).decode("utf-8", "replace")
                return user.partition(":")[0]
            except ValueError:
                return "?"
        return "-"

    # -- what the sink answers --------------------------------------------

    def handle(self, mode, method, target, key, body, hdrs, expect, t0):
        with self.lock:
            self.requests += 1
        """the status, the body and the number of records of an answer"""
        if mode == "control":
            return self.control(method, target) + (0,)
        path = target.split("?", 1)[0]
        if mode == "503":
            with self.lock:
                self.stats_for(key).refused += 1
            return 503, b'{"error":"bench sink answers 503","status":0}', 0
        if method != "POST":
            return 404, b'{"error":"not found","status":0}', 0
        if path == "/engage":
            n = self.count_engage(key, hdrs, body)
            return 200, b'{"error":null,"status":1}', n
        if path != "/import":
            return 404, b'{"error":"not found","status":0}', 0
        if mode == "defer":
            return 200, b'{"code":200,"status":"OK"}', 0
        n = self.count(key, hdrs, body, expect, t0, None)
        return 200, (b'{"code":200,"num_records_imported":%d,"status":"OK"}'
                     % n), n

    def count_engage(self, key, hdrs, body):
        """people updates: a JSON array (form-encoded data= accepted)"""
        gz = hdrs.get("content-encoding", "").lower() == "gzip"
        try:
            raw = self.inflater.gunzip(body) if gz else body
            if raw[:5] == b"data=":
                from urllib.parse import unquote_to_bytes
                raw = unquote_to_bytes(raw[5:].replace(b"+", b" "))
            doc = json.loads(raw)
            n = len(doc) if isinstance(doc, list) else 1
        except (ValueError, zlib.error):
            n = 0
        with self.lock:
            st = self.stats_for(key)
            st.engage_records += n
            st.engage_batches += 1
        return n

    def counter(self):
        while True:
            item = self.pending.get()
            # count when the batches stop coming: during a drain the sink
            # only reads and answers
            while time.monotonic() - self.last_arrival < 0.05:
                time.sleep(0.02)
            self.count(*item)
            with self.lock:
                self.backlog -= 1

    def count(self, key, hdrs, body, expect, t0, t_end):
        gz = hdrs.get("content-encoding", "").lower() == "gzip"
        raw = self.inflater.gunzip(body) if gz else body
        ids = ID_RE.findall(raw)
        n = len(ids)
        with self.lock:
            st = self.stats_for(key)
            if st.first_start is None:
                st.first_start = t0
            st.events += n
            st.batches += 1
            st.wire_bytes += len(body)
            st.raw_bytes += len(raw)
            st.gzip_batches += gz
            st.expect100 += expect
            if self.dedupe:
                st.ids.update(ids)
            if t_end is not None:
                # deferred: the batch was answered at t_end
                if t0 < st.first_start:
                    st.first_start = t0
                if st.last_end is None or t_end > st.last_end:
                    st.last_end = t_end
                st.busy += t_end - t0
        return n

    def control(self, method, target):
        path, _, query = target.partition("?")
        q = dict(p.partition("=")[::2] for p in query.split("&") if p)
        if path == "/stats":
            with self.lock:
                out = {"inflater": self.inflater.name,
                       "requests": self.requests,
                       "backlog": self.backlog,
                       "now": time.monotonic(),
                       "tokens": {k: v.as_dict()
                                  for k, v in self.tokens.items()},
                       "listeners": {
                           str(p): {k: v for k, v in l.items()
                                    if k not in ("gate", "mode")}
                           for p, l in self.listeners.items()}}
            return 200, json.dumps(out).encode()
        if path == "/unpause" and method == "POST":
            lst = self.listeners.get(int(q.get("port", "0") or 0))
            if lst is None:
                return 404, b'{"error":"no such listener"}'
            lst["gate"].set()
            return 200, b'{"ok":true}'
        if path == "/delay" and method == "POST":
            lst = self.listeners.get(int(q.get("port", "0") or 0))
            if lst is None:
                return 404, b'{"error":"no such listener"}'
            lst["delay"] = float(q.get("ms", "0") or 0) / 1000.0
            return 200, b'{"ok":true}'
        if path == "/forget" and method == "POST":
            with self.lock:
                st = self.tokens.get(q.get("token", ""))
                if st is not None:
                    st.ids = set()
            return 200, b'{"ok":true}'
        if path == "/ping":
            return 200, b'{"ok":true}'
        return 404, b'{"error":"not found"}'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", action="append", default=[],
                    metavar="PORT:MODE[:paused][:defer][:delay=MS]")
    ap.add_argument("--control", type=int, required=True)
    ap.add_argument("--no-dedupe", action="store_true")
    args = ap.parse_args()

    # a thread waiting for the GIL gets it within 0.5 ms, not 5 ms: the
    # thread that answers must not wait for the one that counts
    sys.setswitchinterval(0.0005)
    sink = Sink(dedupe=not args.no_dedupe)
    for spec in args.listen:
        f = spec.split(":")
        delay = [x for x in f[2:] if x.startswith("delay=")]
        try:
            delay_ms = float(delay[-1][6:]) if delay else 0.0
        except ValueError:
            ap.error("bad delay in --listen %r" % spec)
        if len(f) < 2 or f[1] not in ("ok", "503") \
                or not set(f[2:]) - set(delay) <= {"paused", "defer"}:
            ap.error("bad --listen %r" % spec)
        sink.listen(int(f[0]), f[1], "paused" in f[2:], "defer" in f[2:],
                    delay_ms)
    sink.listen(args.control, "control", False)
    print("sink ready (%s)" % sink.inflater.name, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    main()
