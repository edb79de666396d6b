"""Injected failures for the ingestion endpoints.

A fault is a JSON object; the next ``count`` requests that match its ``path``
get it, oldest fault first.  Fields (all optional, at least one action):

    status       answer with this HTTP status and a Mixpanel-style body
    retry_after  with status: send ``Retry-After: <seconds>``, or the
                 string given (an HTTP date)
    body         with status: this body instead (a string, or JSON)
    delay_ms     wait this long before handling the request
    hang         true: read the request, never answer (until the client
                 closes, the faults are cleared or the emulator stops)
    close        true / "empty": read the request, close without answering;
                 "reset": the same with a TCP reset;
                 "partial": send the headers and part of the body, close
    location     with status: send ``Location: <this>`` (a redirect's
                 target; the module does not follow it, it logs it)
    header_case  with status: "lower" or "upper", the answer's header names
                 so written (``retry-after``), as HTTP/2 and some proxies
                 send them; header names are case-insensitive
    ingest       true: handle the request normally (store its events) before
                 the status / hang / close replaces the answer
    count        how many requests get it (default 1; -1: until cleared)
    path         "/import", or a list of paths (default: every ingestion
                 endpoint)
    token        only requests of this project token (the Basic user on
                 /import, else the first record's token or $token)
"""

import itertools
import json
import threading

STATUS_BODIES = {
    400: ("Bad Request", "bad request"),
    401: ("Unauthorized", "Invalid credentials"),
    403: ("Forbidden", "forbidden"),
    413: ("Request Entity Too Large",
          "request exceeds max limit of 2097152 bytes"),
    429: ("Too Many Requests", "Project exceeded rate limits. Please retry "
          "the request with exponential backoff."),
    500: ("Internal Server Error", "an internal error occurred"),
    502: ("Bad Gateway", "bad gateway"),
    503: ("Service Unavailable", "service unavailable, please retry"),
    504: ("Gateway Timeout", "gateway timeout"),
}

FIELDS = {"status", "retry_after", "body", "delay_ms", "hang", "close",
          "ingest", "count", "path", "token", "header_case", "location"}
CLOSE_MODES = {True: "empty", "empty": "empty", "reset": "reset",
               "partial": "partial"}


class FaultError(ValueError):
    """A fault description that cannot be used."""


def status_body(status):
    """A Mixpanel-like JSON error body for a status."""
    text, message = STATUS_BODIES.get(status, ("Error", "error"))
    return json.dumps({"code": status, "error": message, "status": text})


def validate(spec):
    """Check and normalise one fault description; raises FaultError."""
    if not isinstance(spec, dict):
        raise FaultError("a fault is a JSON object")
    unknown = set(spec) - FIELDS
    if unknown:
        raise FaultError("unknown fault fields: %s" % ", ".join(sorted(
            unknown)))
    fault = dict(spec)
    if not any(key in fault for key in ("status", "delay_ms", "hang",
                                        "close")):
        raise FaultError("a fault needs status, delay_ms, hang or close")
    check_int(fault, "status", 100, 599)
    if isinstance(fault.get("retry_after"), str):
        if not fault["retry_after"] or "\n" in fault["retry_after"]:
            raise FaultError("retry_after is seconds or an HTTP date")
    else:
        check_int(fault, "retry_after", 0, 86400)
    check_int(fault, "delay_ms", 0, 3600 * 1000)
    check_int(fault, "count", -1, 10 ** 9)
    fault.setdefault("count", 1)
    if fault["count"] == 0:
        raise FaultError("count must be positive, or -1 for 'until cleared'")
    if "close" in fault:
        if fault["close"] is False:
            del fault["close"]
        elif fault["close"] not in CLOSE_MODES:
            raise FaultError("close is true, \"reset\" or \"partial\"")
        else:
            fault["close"] = CLOSE_MODES[fault["close"]]
    paths = fault.get("path")
    if isinstance(paths, str):
        fault["path"] = [paths]
    elif paths is not None and not (isinstance(paths, list) and all(
            isinstance(p, str) for p in paths)):
        raise FaultError("path is a string or a list of strings")
    if fault.get("header_case", "lower") not in ("lower", "upper"):
        raise FaultError("header_case is \"lower\" or \"upper\"")
    if "header_case" in fault and "status" not in fault:
        raise FaultError("header_case needs status")
    if "location" in fault:
        if "status" not in fault:
            raise FaultError("location needs status")
        if not isinstance(fault["location"], str) or any(
                c in fault["location"] for c in "\r\n"):
            raise FaultError("location is a string of one line")
    if "token" in fault and not isinstance(fault["token"], str):
        raise FaultError("token is a string")
    if "body" in fault and not isinstance(fault["body"], str):
        fault["body"] = json.dumps(fault["body"])
    return fault


def check_int(fault, name, low, high):
    if name in fault:
        value = fault[name]
        if isinstance(value, bool) or not isinstance(value, int) or not (
                low <= value <= high):
            raise FaultError("%s must be an integer from %d to %d"
                             % (name, low, high))


class Faults:
    """The queue of pending faults (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending = []
        self.ids = itertools.count(1)
        # Set to release every hanging request; replaced after each release.
        self.release = threading.Event()

    def add(self, specs):
        """Queue one fault or a list of them; returns the queued faults."""
        if not isinstance(specs, list):
            specs = [specs]
        faults = [validate(spec) for spec in specs]
        with self.lock:
            for fault in faults:
                fault["id"] = next(self.ids)
                self.pending.append(fault)
        return faults

    def take(self, path, token=None):
        """The fault for a request to ``path`` (of project ``token``), if
        one is pending."""
        with self.lock:
            for fault in self.pending:
                if fault.get("path") and path not in fault["path"]:
                    continue
                if "token" in fault and fault["token"] != token:
                    continue
                if fault["count"] > 0:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.pending.remove(fault)
                return dict(fault)
        return None

    def list(self):
        with self.lock:
            return [dict(fault) for fault in self.pending]

    def clear(self):
        """Drop pending faults and let hanging requests go."""
        with self.lock:
            self.pending = []
            release, self.release = self.release, threading.Event()
        release.set()
