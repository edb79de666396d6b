#!/usr/bin/env python3
"""The /_emulator query API: raw requests, long-polls, filters, stats."""

import base64
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tap  # noqa: E402
from emutest import TOKEN, EmulatorTestCase, basic, event, update  # noqa


class Requests(EmulatorTestCase):

    def test_raw_request_as_received(self):
        before = int(time.time() * 1000)
        records = [event("E", "u1", colour="r\u00e9d")]
        self.emu.import_(records, gzip_body=True,
                         params={"project_id": "42", "tag": "a"},
                         auth=("user", "pass"))
        logged = self.emu.wait("requests", 1, path="/import")[0]
        self.assertEqual(logged["method"], "POST")
        self.assertEqual(logged["path"], "/import")
        self.assertEqual(logged["query"], {"project_id": "42", "tag": "a",
                                           "strict": "1"})
        self.assertIn("strict=1", logged["query_string"])
        self.assertEqual(logged["headers"]["Authorization"],
                         basic("user", "pass"))
        self.assertEqual(logged["headers"]["Content-Encoding"], "gzip")
        self.assertEqual(logged["body_json"], records)
        self.assertEqual(json.loads(logged["body"]), records)
        self.assertEqual(logged["records"], records)
        self.assertEqual(logged["status"], 200)
        self.assertEqual(json.loads(logged["response"])["code"], 200)
        self.assertGreaterEqual(logged["received_ms"], before - 1000)
        self.assertEqual(logged["client"], "127.0.0.1")

    def test_form_and_get_payloads_are_decoded(self):
        self.emu.track([event("Form", "u1")])
        self.emu.track([event("Get", "u1")], method="GET")
        logged = self.emu.items("requests")
        self.assertEqual(logged[0]["records"][0]["event"], "Form")
        self.assertIsNone(logged[0]["body_json"])
        self.assertEqual(logged[1]["records"][0]["event"], "Get")
        self.assertIn("data", logged[1]["query"])

    def test_repeated_query_keys(self):
        self.emu.call("GET", "/track?a=1&a=2&verbose=1&data=" +
                      base64.b64encode(json.dumps(event(
                          "E", "u1")).encode()).decode())
        self.assertEqual(self.emu.items("requests")[0]["query"]["a"],
                         ["1", "2"])

    def test_in_order_and_since(self):
        for name in ("A", "B", "C"):
            self.emu.import_([event(name, "u1")])
        logged = self.emu.items("requests")
        self.assertEqual([r["records"][0]["event"] for r in logged],
                         ["A", "B", "C"])
        later = self.emu.items("requests", since=logged[0]["id"])
        self.assertEqual(len(later), 2)

    def test_wait_for_long_polls(self):
        found = {}

        def waiter():
            found["result"] = self.emu.query("requests", wait_for=2,
                                             timeout=60, path="/engage")

        thread = threading.Thread(target=waiter)
        thread.start()
        self.emu.engage([update("u1", "$set", {"a": 1})])
        self.emu.import_([event("E", "u1")])
        self.emu.engage([update("u1", "$set", {"a": 2})])
        thread.join(90)
        self.assertFalse(thread.is_alive())
        self.assertFalse(found["result"]["timed_out"])
        self.assertEqual(found["result"]["count"], 2)

    def test_wait_for_times_out(self):
        started = time.monotonic()
        result = self.emu.query("events", wait_for=1, timeout=0.3)
        self.assertTrue(result["timed_out"])
        self.assertEqual(result["count"], 0)
        self.assertLess(time.monotonic() - started, 20)

    def test_bad_parameters(self):
        self.assertEqual(self.emu.get("/_emulator/events",
                                      wait_for="x").status, 400)
        self.assertEqual(self.emu.call("POST", "/_emulator/events").status,
                         405)


class Collections(EmulatorTestCase):

    def test_event_filters(self):
        self.emu.import_([event("A", "u1", plan="pro", n=3),
                          event("A", "u2", plan="free"),
                          event("B", "u1", plan="pro")])
        self.assertEqual(len(self.emu.items("events", event="A")), 2)
        self.assertEqual(len(self.emu.items("events", event="A",
                                            distinct_id="u1")), 1)
        self.assertEqual(len(self.emu.items("events", **{"prop.plan":
                                                         "pro"})), 2)
        self.assertEqual(len(self.emu.items("events", **{"prop.n": "3"})), 1)
        self.assertEqual(len(self.emu.items("events", token=TOKEN)), 3)
        waited = self.emu.wait("events", 2, event="A")
        self.assertEqual(len(waited), 2)

    def test_event_fields(self):
        record = event("E", "u1")
        self.emu.import_([record])
        stored = self.emu.items("events")[0]
        self.assertEqual(stored["insert_id"],
                         record["properties"]["$insert_id"])
        self.assertEqual(stored["time"], record["properties"]["time"])
        self.assertEqual(stored["properties"], record["properties"])
        self.assertEqual((stored["endpoint"], stored["receipts"],
                          stored["user"]), ("/import", 1, "u1"))

    def test_stats_shape(self):
        self.emu.import_([event("A", "u1"), event("B", "null")])
        self.emu.track([event("C", "u2")])
        self.emu.engage([update("u1", "$set", {"a": 1})])
        stats = self.emu.stats()
        self.assertEqual(stats["requests"]["total"], 3)
        self.assertEqual(stats["requests"]["by_status"]["/import"],
                         {"400": 1})
        self.assertEqual(stats["events"]["by_endpoint"]["/import"], {
            "received": 2, "stored": 1, "duplicates": 0, "rejected": 1,
            "dropped": 0})
        self.assertEqual(stats["events"]["stored"], 2)
        self.assertEqual(stats["engage"]["applied"], 1)
        self.assertEqual((stats["users"], stats["profiles"]), (2, 1))

    def test_rejected(self):
        self.emu.import_([event("Bad", "null", colour="red")])
        rejected = self.emu.wait("rejected", 1)[0]
        self.assertEqual(rejected["endpoint"], "/import")
        self.assertEqual(rejected["distinct_id"], "null")
        self.assertEqual(rejected["record"]["properties"]["colour"], "red")

    def test_report_endpoint(self):
        self.emu.import_([event("E", "u1")])
        report = self.emu.query("report")
        self.assertEqual(report["projects"][0]["users"][0]["canonical"],
                         "u1")

    def test_reset(self):
        self.emu.import_([event("E", "u1")])
        self.emu.engage([update("u1", "$set", {"a": 1})])
        self.emu.reset()
        for name in ("events", "requests", "users", "profiles", "rejected",
                     "identity"):
            self.assertEqual(self.emu.items(name), [], name)
        self.assertEqual(self.emu.stats()["requests"]["total"], 0)


class RequestCap(EmulatorTestCase):
    serve_args = ("--max-requests", "100")

    def test_oldest_requests_are_forgotten(self):
        conn = self.emu.connection()
        try:
            for _ in range(200):
                self.emu.call("POST", "/track", body="data=x", conn=conn)
        finally:
            conn.close()
        self.assertEqual(len(self.emu.items("requests")), 100)
        self.assertEqual(self.emu.stats()["requests"]["total"], 200)


if __name__ == "__main__":
    tap.main()
