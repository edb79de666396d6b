#!/usr/bin/env python3
"""Injected faults: statuses, Retry-After, delays, hangs, dropped
connections, scoping, and retries that must not duplicate."""

import http.client
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tap  # noqa: E402
from emutest import (EmulatorProcess, EmulatorTestCase, TOKEN,  # noqa: E402
                     basic, event)


class Statuses(EmulatorTestCase):

    def test_503_three_times(self):
        queued = self.emu.fault({"status": 503, "count": 3})
        self.assertEqual(queued[0]["count"], 3)
        batch = [event("E", "u1")]
        statuses = [self.emu.import_(batch).status for _ in range(4)]
        self.assertEqual(statuses, [503, 503, 503, 200])
        self.assertEqual(len(self.emu.items("events")), 1)
        logged = self.emu.items("requests", path="/import")
        self.assertEqual([r["status"] for r in logged], [503, 503, 503, 200])
        self.assertEqual(logged[0]["fault"]["status"], 503)
        self.assertIsNone(logged[3]["fault"])
        self.assertEqual(self.emu.stats()["requests"]["faulted"],
                         {"/import": 3})

    def test_429_with_and_without_retry_after(self):
        self.emu.fault([{"status": 429, "retry_after": 1},
                        {"status": 429}])
        first = self.emu.import_([event("E", "u1")])
        second = self.emu.import_([event("E", "u1")])
        self.assertEqual((first.status, second.status), (429, 429))
        self.assertEqual(first.headers["Retry-After"], "1")
        self.assertIsNone(second.headers["Retry-After"])
        self.assertEqual(first.json()["error"], "Project exceeded rate "
                         "limits. Please retry the request with exponential "
                         "backoff.")

    def test_other_statuses_and_bodies(self):
        self.emu.fault([{"status": 500}, {"status": 502}, {"status": 401},
                        {"status": 400, "body": {"custom": True}}])
        answers = [self.emu.import_([event("E", "u1")]) for _ in range(4)]
        self.assertEqual([a.status for a in answers], [500, 502, 401, 400])
        self.assertEqual(answers[2].json()["error"], "Invalid credentials")
        self.assertEqual(answers[3].json(), {"custom": True})

    def test_keep_alive_survives_a_status_fault(self):
        self.emu.fault({"status": 503})
        conn = self.emu.connection()
        try:
            first = self.emu.import_([event("E", "u1")], conn=conn)
            second = self.emu.import_([event("E", "u1")], conn=conn)
        finally:
            conn.close()
        self.assertEqual((first.status, second.status), (503, 200))

    def test_scoped_to_a_path(self):
        self.emu.fault({"status": 503, "path": "/import", "count": -1})
        self.assertEqual(self.emu.track([event("E", "u1")]).status, 200)
        self.assertEqual(self.emu.import_([event("E", "u1")]).status, 503)
        self.assertEqual(self.emu.import_([event("E", "u1")]).status, 503)
        self.assertEqual(len(self.emu.query("faults")["faults"]), 1)
        self.emu.call("DELETE", "/_emulator/faults")
        self.assertEqual(self.emu.import_([event("E", "u1")]).status, 200)

    def test_scoped_to_a_token(self):
        self.emu.fault({"status": 401, "token": "tok-revoked", "count": -1})
        revoked = event("E", "u1", token="tok-revoked")
        self.assertEqual(self.emu.import_([revoked],
                                          token="tok-revoked").status, 401)
        self.assertEqual(self.emu.import_([event("E", "u1")]).status, 200)
        update = {"$token": "tok-revoked", "$distinct_id": "u1",
                  "$set": {"a": 1}}
        self.assertEqual(self.emu.engage([update]).status, 401)
        update["$token"] = TOKEN
        self.assertEqual(self.emu.engage([update]).status, 200)

    def test_retry_after_as_a_date(self):
        date = "Wed, 21 Oct 2026 07:28:00 GMT"
        self.emu.fault({"status": 503, "retry_after": date})
        answer = self.emu.import_([event("E", "u1")])
        self.assertEqual(answer.headers["Retry-After"], date)

    def test_header_case(self):
        self.emu.fault({"status": 429, "retry_after": 7,
                        "header_case": "lower"})
        answer = self.emu.import_([event("E", "u1")])
        self.assertEqual(answer.status, 429)
        names = answer.headers.keys()
        self.assertIn("retry-after", names)
        self.assertIn("content-type", names)
        self.assertNotIn("Retry-After", names)
        self.assertEqual(answer.headers["Retry-After"], "7")
        self.emu.fault({"status": 503, "retry_after": 2,
                        "header_case": "upper"})
        answer = self.emu.import_([event("E", "u1")])
        self.assertIn("RETRY-AFTER", answer.headers.keys())
        # without it, as Mixpanel writes them
        self.emu.fault({"status": 503, "retry_after": 2})
        answer = self.emu.import_([event("E", "u1")])
        self.assertIn("Retry-After", answer.headers.keys())

    def test_location(self):
        self.emu.fault({"status": 302,
                        "location": "https://relay.example/import"})
        answer = self.emu.import_([event("E", "u1")])
        self.assertEqual(answer.status, 302)
        self.assertEqual(answer.headers["Location"],
                         "https://relay.example/import")
        # without it, no Location at all
        self.emu.fault({"status": 302})
        answer = self.emu.import_([event("E", "u1")])
        self.assertNotIn("Location", answer.headers.keys())

    def test_concurrency(self):
        self.emu.call("POST", "/_emulator/concurrency/reset")
        self.emu.fault({"delay_ms": 600, "count": 3})
        conns = [self.emu.connection() for _ in range(3)]
        try:
            for conn in conns:
                conn.request("POST", "/import?strict=1", body=json.dumps(
                    [event("E", "u1")]), headers={
                    "Authorization": basic(TOKEN),
                    "Content-Type": "application/json"})
            answers = [conn.getresponse() for conn in conns]
            for answer in answers:
                answer.read()
            self.assertEqual([a.status for a in answers], [200] * 3)
            self.emu.import_([event("E", "u1")], conn=conns[0])
        finally:
            for conn in conns:
                conn.close()
        self.assertEqual(self.emu.query("concurrency"), {
            "in_flight": 0, "max_in_flight": 3, "connections": 3})

    def test_query_api_is_never_faulted(self):
        self.emu.fault({"status": 503})
        self.assertEqual(self.emu.get("/_emulator/stats").status, 200)
        self.assertEqual(self.emu.query("faults")["faults"][0]["status"], 503)

    def test_bad_faults(self):
        for bad in ('{"stauts": 503}', '{"count": 2}', '{"status": "x"}',
                    '{"close": "sometimes"}', "not json",
                    '{"status": 429, "header_case": "title"}',
                    '{"delay_ms": 5, "header_case": "lower"}',
                    '{"delay_ms": 5, "location": "https://x.example/"}',
                    '{"status": 302, "location": "a\\r\\nSet-Cookie: x"}',
                    '{"status": 302, "location": 3}'):
            answer = self.emu.call("POST", "/_emulator/faults", body=bad)
            self.assertEqual(answer.status, 400, bad)

    def test_reset_clears_faults(self):
        self.emu.fault({"status": 503})
        self.emu.reset()
        self.assertEqual(self.emu.import_([event("E", "u1")]).status, 200)


class Retries(EmulatorTestCase):

    def test_ingested_then_failed_retry_does_not_duplicate(self):
        """the answer is lost after ingestion; the retry is counted"""
        self.emu.fault({"status": 503, "ingest": True})
        batch = [event("E1", "u1"), event("E2", "u1")]
        self.assertEqual(self.emu.import_(batch).status, 503)
        self.assertEqual(self.emu.import_(batch).status, 200)
        events = self.emu.items("events")
        self.assertEqual(len(events), 2)
        self.assertEqual([e["receipts"] for e in events], [2, 2])
        stats = self.emu.stats()
        self.assertEqual(stats["events"]["duplicates"], 2)
        self.assertEqual(set(stats["insert_id_receipts"].values()), {2})
        logged = self.emu.items("requests", path="/import")
        self.assertEqual([r["status"] for r in logged], [503, 200])


class Timing(EmulatorTestCase):

    def test_delay(self):
        self.emu.fault({"delay_ms": 500})
        started = time.monotonic()
        answer = self.emu.import_([event("E", "u1")])
        self.assertGreaterEqual(time.monotonic() - started, 0.45)
        self.assertEqual(answer.status, 200)
        self.assertEqual(len(self.emu.items("events")), 1)

    def test_delay_then_status(self):
        self.emu.fault({"delay_ms": 300, "status": 502})
        started = time.monotonic()
        self.assertEqual(self.emu.import_([event("E", "u1")]).status, 502)
        self.assertGreaterEqual(time.monotonic() - started, 0.25)

    def test_hang_until_cleared(self):
        self.emu.fault({"hang": True})
        conn = self.emu.connection(timeout=1)
        with self.assertRaises(socket.timeout):
            self.emu.import_([event("E", "u1")], conn=conn)
        conn.close()
        logged = self.emu.wait("requests", 1)
        self.assertIsNone(logged[0]["status"])
        self.assertEqual(self.emu.items("events"), [])
        self.assertEqual(self.emu.import_([event("E", "u1")]).status, 200)

    def test_hang_released_by_clearing(self):
        self.emu.fault({"hang": True})
        sock = socket.create_connection(("127.0.0.1", self.emu.port))
        sock.settimeout(30)
        try:
            sock.sendall(b"POST /track HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 2\r\n\r\n{}")
            self.emu.wait("requests", 1)
            self.emu.call("DELETE", "/_emulator/faults")
            self.assertEqual(sock.recv(100), b"")
        finally:
            sock.close()


class Drops(EmulatorTestCase):

    def test_close_without_answer(self):
        self.emu.fault({"close": True})
        with self.assertRaises(http.client.RemoteDisconnected):
            self.emu.import_([event("E", "u1")])
        self.assertEqual(self.emu.items("events"), [])
        self.assertIsNone(self.emu.items("requests")[0]["status"])

    def test_reset(self):
        self.emu.fault({"close": "reset"})
        with self.assertRaises((ConnectionResetError,
                                http.client.RemoteDisconnected)):
            self.emu.import_([event("E", "u1")])

    def test_partial_answer(self):
        self.emu.fault({"close": "partial"})
        with self.assertRaises(http.client.IncompleteRead):
            self.emu.import_([event("E", "u1")])

    def test_close_after_ingesting(self):
        self.emu.fault({"close": True, "ingest": True})
        with self.assertRaises(http.client.RemoteDisconnected):
            self.emu.import_([event("E", "u1")])
        self.assertEqual(len(self.emu.items("events")), 1)


class StartupFaults(EmulatorTestCase):
    serve_args = ("--fault", '{"status": 503, "count": 2, "path": "/import"}')

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.first = [cls.emu.import_([event("E", "u1")]).status
                     for _ in range(3)]

    def test_flag(self):
        self.assertEqual(self.first, [503, 503, 200])


class BadFlag(unittest.TestCase):

    def test_bad_fault_flag(self):
        with self.assertRaises(RuntimeError):
            EmulatorProcess("--fault", '{"status": 1000}')


if __name__ == "__main__":
    tap.main()
