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
                     now_ms, update)

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


class PropertyLimits(EmulatorTestCase):
    """import-events.mdx: fewer than 255 properties; nested objects fewer
    than 255 keys, nesting depth at most 3; arrays fewer than 255
    elements; each event smaller than 1MB.  Strict /import refuses each
    offending event in failed_records and keeps the others."""

    def test_at_the_limit_and_one_past_it(self):
        def props(count):
            # event() adds token, time and $insert_id; distinct_id is one
            return {"p%d" % i: i for i in range(count - 4)}
        keys = {"k%d" % i: i for i in range(254)}
        batch = [
            event("Props254", "u1", **props(254)),
            event("Props255", "u1", **props(255)),
            event("List254", "u1", items=list(range(254))),
            event("List255", "u1", items=list(range(255))),
            event("Keys254", "u1", obj=keys),
            event("Keys255", "u1", obj=dict(keys, k254=1)),
            event("InnerKeys255", "u1", obj={"inner": dict(keys, k254=1)}),
            event("InnerList255", "u1", obj={"inner": list(range(255))}),
            event("Depth3", "u1", obj={"a": {"b": {"c": 1}}},
                  lists=[[[1]]], mixed=[{"a": [1]}]),
            event("Depth4", "u1", obj={"a": {"b": {"c": {"d": 1}}}}),
            event("ListDepth4", "u1", lists=[[[[1]]]]),
        ]
        self.assertEqual(len(batch[0]["properties"]), 254)
        self.assertEqual(len(batch[1]["properties"]), 255)
        answer = self.emu.import_(batch)
        self.assertEqual(answer.status, 400)
        body = answer.json()
        self.assertEqual(body["num_records_imported"], 4)
        self.assertEqual([(f["index"], f["field"], f["message"])
                          for f in body["failed_records"]], [
            (1, "properties", "'properties' is invalid: an event must have "
             "fewer than 255 properties (it has 255)"),
            (3, "properties.items", "'properties.items' is invalid: lists "
             "must have fewer than 255 items (it has 255)"),
            (5, "properties.obj", "'properties.obj' is invalid: objects "
             "must have fewer than 255 keys (it has 255)"),
            (6, "properties.obj.inner", "'properties.obj.inner' is invalid: "
             "objects must have fewer than 255 keys (it has 255)"),
            (7, "properties.obj.inner", "'properties.obj.inner' is invalid: "
             "lists must have fewer than 255 items (it has 255)"),
            (9, "properties.obj.a.b.c", "'properties.obj.a.b.c' is invalid: "
             "nesting deeper than 3 levels"),
            (10, "properties.lists.0.0.0", "'properties.lists.0.0.0' is "
             "invalid: nesting deeper than 3 levels"),
        ])
        for failed, sent in zip(body["failed_records"], (1, 3, 5, 6, 7, 9,
                                                         10)):
            self.assertEqual(failed["$insert_id"],
                             batch[sent]["properties"]["$insert_id"])
        self.assertEqual(sorted(e["event"] for e in self.emu.items("events")),
                         ["Depth3", "Keys254", "List254", "Props254"])

    def test_event_smaller_than_1mb(self):
        """measured as compact JSON; strings are cut to 255 bytes only
        after the check"""
        compact = (",", ":")

        def sized(total):
            record = event("Sized", "u1", pad="")
            base = len(json.dumps(record, separators=compact).encode())
            record["properties"]["pad"] = "x" * (total - base)
            self.assertEqual(len(json.dumps(record, separators=compact)
                                 .encode()), total)
            return record
        self.assertEqual(self.emu.import_([sized(1024 * 1024 - 1)]).status,
                         200)
        answer = self.emu.import_([sized(1024 * 1024)])
        self.assertEqual(answer.status, 400)
        self.assertEqual(answer.json()["failed_records"][0]["message"],
                         "event is invalid: must be smaller than 1MB of "
                         "uncompressed JSON (it is 1048576 bytes)")


class Geolocation(EmulatorTestCase):
    """import-events.mdx: without ip, "the IP address of the request will
    be used"; ip "0" skips geolocation; geolocation.mdx: $latitude and
    $longitude, or $city/$region/mp_country_code, override it."""

    def geo(self, *events, **params):
        answer = self.emu.import_(list(events), params=params)
        self.assertEqual(answer.status, 200, answer)
        return [e["geo"] for e in self.emu.items("events")[-len(events):]]

    def test_ip_forms(self):
        self.assertEqual(self.geo(
            event("None", "u1"),
            event("V4", "u1", ip="203.0.113.9"),
            event("V6", "u1", ip="2001:db8::1"),
            event("ZeroText", "u1", ip="0"),
            event("Zero", "u1", ip=0),
            event("Empty", "u1", ip=""),
            event("List", "u1", ip="203.0.113.9, 10.0.0.2"),
            event("Word", "u1", ip="unknown"),
            event("LatLong", "u1", **{"$latitude": 37.77,
                                      "$longitude": -122.42}),
            event("LatOnly", "u1", **{"$latitude": 37.77}),
            event("Place", "u1", **{"$city": "Paris", "$region": "IDF",
                                    "mp_country_code": "FR"}),
            event("Country", "u1", mp_country_code="FR"),
        ), ["sender", "ip", "ip", "skipped", "skipped", "sender", "sender",
            "sender", "manual", "sender", "manual", "sender"])
        located = self.emu.items("events", geo="sender")
        self.assertEqual([e["event"] for e in located],
                         ["None", "Empty", "List", "Word", "LatOnly",
                          "Country"])

    def test_ip_0_on_the_request(self):
        """the SDKs' ip=0 (Python, Node): no geolocation by the request"""
        self.assertEqual(self.geo(event("A", "u1"),
                                  event("B", "u1", ip="203.0.113.9"),
                                  ip="0"), ["skipped", "ip"])
        self.assertEqual(self.geo(event("C", "u1"), ip="1"), ["sender"])


class ServiceAccountProjects(EmulatorTestCase):
    """A service account's /import goes to the project its project_id
    names, whatever token each event carries; /engage goes by $token."""

    serve_args = ("--project", "4242=tok-a", "--project", "7=tok-b")

    def sa_import(self, events, project_id):
        return self.emu.import_(events, auth=("sa", "pw"),
                                params={"project_id": project_id})

    def test_events_land_in_the_project_of_project_id(self):
        untokened = event("NoToken", "u3")
        del untokened["properties"]["token"]
        answer = self.sa_import([event("A", "u1", token="tok-a"),
                                 event("B", "u2", token="tok-b"),
                                 untokened], "4242")
        self.assertEqual(answer.status, 200)
        stored = self.emu.items("events")
        self.assertEqual([(e["event"], e["token"], e["project_id"],
                           e["properties"].get("token")) for e in stored],
                         [("A", "tok-a", "4242", "tok-a"),
                          ("B", "tok-a", "4242", "tok-b"),
                          ("NoToken", "tok-a", "4242", None)])
        self.assertEqual(len(self.emu.items("events", project_id="4242")), 3)
        self.assertEqual(self.emu.items("events", project_id="7"), [])
        # the profile update of u2 goes to tok-b's project
        self.emu.engage([update("u2", "$set", {"a": 1}, token="tok-b")])
        self.assertEqual([(p["token"], p["distinct_id"])
                          for p in self.emu.items("profiles")],
                         [("tok-b", "u2")])
        projects = {p["token"]: p for p in self.emu.items("projects")}
        self.assertEqual((projects["tok-a"]["project_id"],
                          projects["tok-a"]["events"],
                          projects["tok-a"]["profiles"]), ("4242", 3, 0))
        self.assertEqual((projects["tok-b"]["project_id"],
                          projects["tok-b"]["events"],
                          projects["tok-b"]["profiles"]), ("7", 0, 1))
        # u2's events and profile are in two projects: two users
        self.assertEqual(sorted((u["token"], u["canonical"]) for u in
                                self.emu.items("users", id="u2")),
                         [("tok-a", "u2"), ("tok-b", "u2")])

    def test_undeclared_project_learns_its_token(self):
        self.sa_import([event("X", "u1", token="tok-x")], "99")
        self.sa_import([event("Y", "u1", token="tok-y")], "99")
        self.sa_import([event("A", "u1", token="tok-a")], "55")
        untokened = event("Z", "u1")
        del untokened["properties"]["token"]
        self.sa_import([untokened], "56")
        self.assertEqual([(e["event"], e["token"], e["project_id"])
                          for e in self.emu.items("events")],
                         [("X", "tok-x", "99"), ("Y", "tok-x", "99"),
                          ("A", "project:55", "55"),
                          ("Z", "project:56", "56")])

    def test_token_auth_goes_by_the_token(self):
        self.emu.import_([event("A", "u1", token="tok-b")], token="tok-b")
        stored = self.emu.items("events")
        self.assertEqual((stored[0]["token"], stored[0]["project_id"]),
                         ("tok-b", "7"))


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
