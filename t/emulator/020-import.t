#!/usr/bin/env python3
"""/import: encodings, authentication, strict answers, limits, dedup."""

import base64
import gzip
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tap  # noqa: E402
from emutest import (TOKEN, EmulatorTestCase, basic, event,  # noqa: E402
                     now_ms)

DAY_MS = 86400 * 1000


class Answers(EmulatorTestCase):

    def test_strict_success(self):
        answer = self.emu.import_([event("A", "u1"), event("B", "u1")])
        self.assertEqual(answer.status, 200)
        self.assertEqual(answer.json(), {"code": 200,
                                         "num_records_imported": 2,
                                         "status": "OK"})

    def test_gzip_ndjson_and_single_object(self):
        self.emu.import_([event("Gz", "u1")], gzip_body=True)
        self.emu.import_([event("Nd1", "u1"), event("Nd2", "u1")],
                         ndjson=True)
        self.emu.import_([event("Nd3", "u1")], ndjson=True, gzip_body=True)
        answer = self.emu.call("POST", "/import?strict=1",
                               body=event("Obj", "u1"),
                               headers={"Authorization": basic(TOKEN)})
        self.assertEqual(answer.status, 200)
        names = sorted(e["event"] for e in self.emu.items("events"))
        self.assertEqual(names, ["Gz", "Nd1", "Nd2", "Nd3", "Obj"])

    def test_ndjson_detected_without_content_type(self):
        body = "\n".join(json.dumps(event("N%d" % i, "u1"))
                         for i in range(3)) + "\n"
        answer = self.emu.call("POST", "/import?strict=1", body=body,
                               headers={"Authorization": basic(TOKEN)})
        self.assertEqual(answer.json()["num_records_imported"], 3)

    def test_failed_records(self):
        good = event("Good", "u1")
        no_insert_id = event("NoInsertId", "u1")
        del no_insert_id["properties"]["$insert_id"]
        banned = event("Banned", "undefined")
        no_time = event("NoTime", "u1")
        del no_time["properties"]["time"]
        answer = self.emu.import_([good, no_insert_id, banned, no_time])
        self.assertEqual(answer.status, 400)
        body = answer.json()
        self.assertEqual(body["code"], 400)
        self.assertEqual(body["status"], "Bad Request")
        self.assertEqual(body["error"],
                         "some data points in the request failed validation")
        self.assertEqual(body["num_records_imported"], 1)
        failed = {f["index"]: f for f in body["failed_records"]}
        self.assertEqual(sorted(failed), [1, 2, 3])
        self.assertEqual(set(failed[2]), {"index", "$insert_id", "field",
                                          "message"})
        self.assertEqual(failed[1]["field"], "properties.$insert_id")
        self.assertIsNone(failed[1]["$insert_id"])
        self.assertEqual(failed[2]["field"], "properties.distinct_id")
        self.assertEqual(failed[2]["$insert_id"],
                         banned["properties"]["$insert_id"])
        self.assertEqual(failed[3]["field"], "properties.time")
        self.assertEqual([e["event"] for e in self.emu.items("events")],
                         ["Good"])

    def test_not_strict(self):
        """without strict=1: legacy 1/0 answers, $insert_id optional"""
        record = event("Loose", "u1")
        del record["properties"]["$insert_id"]
        answer = self.emu.import_([record], strict=False)
        self.assertEqual((answer.status, answer.text), (200, "1"))
        answer = self.emu.import_([record], strict=False,
                                  params={"verbose": "1"})
        self.assertEqual(answer.json(), {"status": 1, "error": None})
        answer = self.emu.import_([event("Bad", "null")], strict=False)
        self.assertEqual(answer.text, "0")
        self.assertEqual(len(self.emu.items("events")), 2)

    def test_form_data_and_get(self):
        """what the official SDKs send: data= base64, POST or GET"""
        data = base64.b64encode(json.dumps([event("Form", "u1")]).encode())
        answer = self.emu.call(
            "POST", "/import", body=urllib.parse.urlencode({"data": data}),
            headers={"Authorization": basic(TOKEN), "Content-Type":
                     "application/x-www-form-urlencoded"})
        self.assertEqual(answer.text, "1")
        data = base64.b64encode(json.dumps(event("Get", "u1")).encode())
        answer = self.emu.call("GET", "/import", params={"data": data},
                               headers={"Authorization": basic(TOKEN)})
        self.assertEqual(answer.text, "1")
        self.assertEqual(sorted(e["event"] for e in self.emu.items("events")),
                         ["Form", "Get"])

    def test_times(self):
        old = event("Old", "u1", time=now_ms() - 400 * DAY_MS)
        seconds = event("Seconds", "u1", time=now_ms() // 1000)
        future = event("Future", "u1", time=now_ms() + 2 * 3600 * 1000)
        ancient = event("Ancient", "u1", time=1000)
        answer = self.emu.import_([old, seconds, future, ancient])
        self.assertEqual(answer.json()["num_records_imported"], 2)
        messages = [f["message"] for f in answer.json()["failed_records"]]
        self.assertIn("future", messages[0])
        self.assertIn("1971", messages[1])

    def test_bad_json(self):
        answer = self.emu.call("POST", "/import?strict=1", body="[{oops",
                               headers={"Authorization": basic(TOKEN),
                                        "Content-Type": "application/json"})
        self.assertEqual(answer.status, 400)
        self.assertEqual(answer.json()["code"], 400)

    def test_bad_gzip(self):
        answer = self.emu.call("POST", "/import?strict=1", body=b"not gzip",
                               headers={"Authorization": basic(TOKEN),
                                        "Content-Encoding": "gzip"})
        self.assertEqual(answer.status, 400)


class Limits(EmulatorTestCase):

    def test_2000_events(self):
        answer = self.emu.import_([event("E", "u1") for _ in range(2000)])
        self.assertEqual(answer.json()["num_records_imported"], 2000)
        answer = self.emu.import_([event("E", "u1") for _ in range(2001)])
        self.assertEqual(answer.status, 413)
        self.assertEqual(answer.json()["status"], "Request Entity Too Large")
        self.assertEqual(len(self.emu.items("events")), 2000)

    def test_2_mb(self):
        padding = "x" * 250
        batch = [event("E", "u1", **{"p%d" % i: padding for i in range(20)})
                 for _ in range(420)]
        size = len(json.dumps(batch))
        self.assertGreater(size, 2097152)
        answer = self.emu.import_(batch, gzip_body=True)
        self.assertEqual(answer.status, 413)
        self.assertEqual(answer.json(), {
            "code": 413, "error": "request exceeds max limit of 2097152 "
            "bytes", "status": "Request Entity Too Large"})
        answer = self.emu.import_(batch[:300])
        self.assertEqual(answer.status, 200)

    def test_gzip_bomb(self):
        body = gzip.compress(b"[" + b" " * (50 * 1024 * 1024) + b"]")
        answer = self.emu.call("POST", "/import?strict=1", body=body,
                               headers={"Authorization": basic(TOKEN),
                                        "Content-Encoding": "gzip"})
        self.assertEqual(answer.status, 413)

    def test_event_size(self):
        big = event("Big", "u1", **{"p%d" % i: "x" * 250 for i in range(20)})
        big["properties"]["blob"] = ["y" * 250] * 200
        big["properties"]["more"] = [["z" * 250] * 200] * 20
        answer = self.emu.import_([big])
        self.assertEqual(answer.status, 400)
        self.assertIn("1MB", answer.json()["failed_records"][0]["message"])


class Dedup(EmulatorTestCase):

    def test_retry_is_counted_not_duplicated(self):
        batch = [event("E%d" % i, "u1") for i in range(3)]
        for _ in range(3):
            self.assertEqual(self.emu.import_(batch).status, 200)
        events = self.emu.items("events")
        self.assertEqual(len(events), 3)
        self.assertEqual({e["receipts"] for e in events}, {3})
        stats = self.emu.stats()
        self.assertEqual(stats["events"]["received"], 9)
        self.assertEqual(stats["events"]["stored"], 3)
        self.assertEqual(stats["events"]["duplicates"], 6)
        self.assertEqual(stats["requests"]["by_endpoint"]["/import"], 3)
        self.assertEqual(stats["insert_id_receipts"], {
            e["properties"]["$insert_id"]: 3 for e in batch})

    def test_key_is_event_distinct_id_time_insert_id(self):
        base = event("E", "u1", time=now_ms() - 1000)
        variants = [json.loads(json.dumps(base)) for _ in range(4)]
        variants[1]["event"] = "Other"
        variants[2]["properties"]["distinct_id"] = "u2"
        variants[3]["properties"]["time"] += 1
        self.emu.import_([base] + variants[1:])
        self.assertEqual(len(self.emu.items("events")), 4)

    def test_latest_version_wins(self):
        first = event("E", "u1", colour="red")
        second = json.loads(json.dumps(first))
        second["properties"]["colour"] = "blue"
        self.emu.import_([first])
        self.emu.import_([second])
        stored = self.emu.items("events")
        self.assertEqual(len(stored), 1)
        self.assertEqual(stored[0]["properties"]["colour"], "blue")


class OpenAuth(EmulatorTestCase):
    """No --token: any project token is accepted."""

    def test_no_credentials(self):
        answer = self.emu.import_([event("E", "u1")], auth=False)
        self.assertEqual(answer.status, 401)
        self.assertEqual(answer.json(), {"code": 401,
                                         "error": "Invalid credentials",
                                         "status": "Unauthorized"})
        self.assertEqual(self.emu.items("events"), [])

    def test_any_token(self):
        answer = self.emu.import_([event("E", "u1", token="some-token")],
                                  token="some-token")
        self.assertEqual(answer.status, 200)
        self.assertEqual(self.emu.items("events")[0]["token"], "some-token")

    def test_token_from_credentials_when_events_have_none(self):
        record = event("E", "u1")
        del record["properties"]["token"]
        self.emu.import_([record], token="from-auth")
        self.assertEqual(self.emu.items("events")[0]["token"], "from-auth")

    def test_any_service_account(self):
        answer = self.emu.import_([event("E", "u1")], auth=("sa", "pw"),
                                  params={"project_id": "42"})
        self.assertEqual(answer.status, 200)

    def test_malformed_authorization(self):
        answer = self.emu.call("POST", "/import", body=[event("E", "u1")],
                               headers={"Authorization": "Basic %%%"})
        self.assertEqual(answer.status, 401)


class RestrictedAuth(EmulatorTestCase):
    serve_args = ("--token", "tok-a", "--token", "tok-b", "--secret",
                  "s3cret", "--service-account", "sa-user:sa-pass:1234",
                  "--failed-records-key", "insert_id")

    def status(self, **kwargs):
        return self.emu.import_([event("E", "u1", token="tok-a")],
                                **kwargs).status

    def test_tokens(self):
        self.assertEqual(self.status(token="tok-a"), 200)
        self.assertEqual(self.status(token="tok-b"), 200)
        self.assertEqual(self.status(token="tok-c"), 401)

    def test_authenticated_token_names_the_project(self):
        self.emu.import_([event("E", "u1", token="tok-a")], token="tok-b")
        self.assertEqual(self.emu.items("events")[0]["token"], "tok-b")

    def test_secret(self):
        self.assertEqual(self.status(auth=("s3cret", "")), 200)
        self.assertEqual(self.status(auth=("other", "")), 401)

    def test_service_account(self):
        good = {"project_id": "1234"}
        self.assertEqual(self.status(auth=("sa-user", "sa-pass"),
                                     params=good), 200)
        self.assertEqual(self.status(auth=("sa-user", "wrong"),
                                     params=good), 401)
        self.assertEqual(self.status(auth=("sa-user", "sa-pass"),
                                     params={"project_id": "9"}), 401)

    def test_failed_records_key(self):
        answer = self.emu.import_([event("E", "null", token="tok-a")],
                                  token="tok-a")
        self.assertIn("insert_id", answer.json()["failed_records"][0])

    def test_refusals_are_visible(self):
        self.status(token="tok-c")
        rejected = self.emu.items("rejected", endpoint="/import")
        self.assertEqual(rejected[0]["field"], "Authorization")
        self.assertEqual(self.emu.items("requests")[0]["status"], 401)


if __name__ == "__main__":
    tap.main()
