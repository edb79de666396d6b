#!/usr/bin/env python3
"""/track: encodings, answers and validation."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tap  # noqa: E402
from emutest import EmulatorTestCase, event, now_ms  # noqa: E402

DAY_MS = 86400 * 1000


class Encodings(EmulatorTestCase):

    def check_stored(self, name):
        events = self.emu.items("events", event=name)
        self.assertEqual(len(events), 1, events)
        self.assertEqual(events[0]["endpoint"], "/track")
        return events[0]

    def test_form_base64(self):
        answer = self.emu.track([event("B64", "u1")])
        self.assertEqual(answer.status, 200)
        self.assertEqual(answer.json(), {"status": 1, "error": None})
        self.check_stored("B64")

    def test_form_plain_json_single_object(self):
        self.emu.track(event("Plain", "u1"), encoding="plain")
        self.check_stored("Plain")

    def test_get_with_data(self):
        self.emu.track([event("Get", "u1")], method="GET")
        self.check_stored("Get")

    def test_json_body(self):
        self.emu.track([event("Json", "u1")], encoding="json")
        self.check_stored("Json")

    def test_batch(self):
        self.emu.track([event("Batch", "u%d" % i) for i in range(50)])
        self.assertEqual(len(self.emu.items("events", event="Batch")), 50)

    def test_plain_answers(self):
        answer = self.emu.track([event("E", "u1")], verbose=False)
        self.assertEqual(answer.text, "1")
        answer = self.emu.track([event("E", "null")], verbose=False)
        self.assertEqual(answer.text, "0")

    def test_callback(self):
        answer = self.emu.track([event("E", "u1")], verbose=False,
                                params={"callback": "done"})
        self.assertEqual(answer.text, "done(1)")
        self.assertIn("javascript", answer.headers["Content-Type"])

    def test_undecodable_data(self):
        answer = self.emu.call("POST", "/track?verbose=1", body="data=%%%%",
                               headers={"Content-Type":
                                        "application/x-www-form-urlencoded"})
        self.assertEqual(answer.status, 200)
        self.assertEqual(answer.json()["status"], 0)
        self.assertEqual(self.emu.items("events"), [])

    def test_too_many_events(self):
        answer = self.emu.track([event("E", "u1") for _ in range(2001)],
                                encoding="json")
        self.assertEqual(answer.status, 413)
        self.assertEqual(self.emu.items("events"), [])

    def test_empty_batch(self):
        """no event at all: 0 (the emulator answered 500 before)"""
        for encoding in ("base64", "json"):
            answer = self.emu.track([], encoding=encoding)
            self.assertEqual(answer.status, 200)
            self.assertEqual(answer.json(), {
                "status": 0, "error": "no data: the request holds no event"})
        answer = self.emu.track([], verbose=False)
        self.assertEqual((answer.status, answer.text), (200, "0"))


class Geolocation(EmulatorTestCase):
    """/track: an event without ip is located by the request's address;
    ip=0 on the request skips that (php.mdx, the Python and Node SDKs);
    ip=1 is mixpanel-browser's: locate me by my address."""

    def geo(self, events, **params):
        answer = self.emu.track(events, params=params)
        self.assertEqual(answer.json()["status"], 1)
        return [e["geo"] for e in self.emu.items("events")[-len(events):]]

    def test_request_parameter(self):
        batch = [event("NoIp", "u1"), event("Ip", "u1", ip="203.0.113.9"),
                 event("Zero", "u1", ip="0")]
        self.assertEqual(self.geo(batch), ["sender", "ip", "skipped"])
        self.emu.reset()
        self.assertEqual(self.geo(batch, ip="0"), ["skipped", "ip",
                                                   "skipped"])
        self.emu.reset()
        self.assertEqual(self.geo(batch, ip="1"), ["request", "ip",
                                                   "skipped"])


class Validation(EmulatorTestCase):

    def rejected(self, **filters):
        return self.emu.items("rejected", endpoint="/track", **filters)

    def test_missing_token(self):
        record = event("E", "u1")
        del record["properties"]["token"]
        answer = self.emu.track([record])
        self.assertEqual(answer.json(), {"status": 0, "error":
                                         "token, missing or empty"})
        self.assertEqual(self.rejected()[0]["field"], "properties.token")

    def test_time_filled_in_and_seconds_become_ms(self):
        record = event("NoTime", "u1")
        del record["properties"]["time"]
        before = now_ms()
        seconds = before // 1000 - 60 + 0.5
        self.emu.track([record, event("Seconds", "u1", time=seconds)])
        stored = self.emu.items("events", event="NoTime")[0]
        self.assertGreaterEqual(stored["time"], before - 1000)
        stored = self.emu.items("events", event="Seconds")[0]
        self.assertEqual(stored["time"], int(seconds * 1000))

    def test_older_than_five_days_is_dropped_silently(self):
        """Mixpanel answers 1 and keeps nothing: visible in /rejected"""
        answer = self.emu.track([event("Old", "u1",
                                       time=now_ms() - 6 * DAY_MS)])
        self.assertEqual(answer.json()["status"], 1)
        self.assertEqual(self.emu.items("events"), [])
        self.assertIn("older than 5 days", self.rejected()[0]["message"])
        self.assertEqual(self.emu.stats()["events"]["dropped"], 1)
        self.emu.track([event("Recent", "u1", time=now_ms() - 4 * DAY_MS)])
        self.assertEqual(len(self.emu.items("events")), 1)

    def test_future_time(self):
        answer = self.emu.track([event("Future", "u1",
                                       time=now_ms() + 2 * 3600 * 1000)])
        self.assertEqual(answer.json()["status"], 0)
        self.assertIn("future", self.rejected()[0]["message"])

    def test_time_must_be_a_number(self):
        answer = self.emu.track([event("E", "u1", time="yesterday")])
        self.assertEqual(answer.json()["status"], 0)

    def test_banned_distinct_ids(self):
        for banned in ("null", "undefined", "0", "-1", "anonymous", "NULL",
                       "00000000-0000-0000-0000-000000000000", "[]"):
            answer = self.emu.track([event("E", banned)])
            self.assertEqual(answer.json()["status"], 0, banned)
        self.assertEqual(self.emu.items("events"), [])
        self.assertEqual(len(self.rejected(field="properties.distinct_id")),
                         8)

    def test_numeric_distinct_id_is_a_string(self):
        self.emu.track([event("E", 12345)])
        self.assertEqual(self.emu.items("events")[0]["distinct_id"], "12345")

    def test_empty_distinct_id_is_accepted(self):
        self.emu.track([event("E", "")])
        self.assertEqual(self.emu.items("events")[0]["distinct_id"], "")

    def test_missing_distinct_id(self):
        answer = self.emu.track([event("E")])
        self.assertEqual(answer.json()["status"], 0)

    def test_ip_param_makes_a_distinct_id(self):
        answer = self.emu.track([event("E")], params={"ip": "1"})
        self.assertEqual(answer.json()["status"], 1)
        self.assertEqual(len(self.emu.items("events")[0]["distinct_id"]), 40)

    def test_property_count(self):
        ok = event("Ok", "u1", **{"p%d" % i: i for i in range(250)})
        self.assertEqual(len(ok["properties"]), 254)
        too_many = event("TooMany", "u1", **{"p%d" % i: i for i in range(251)})
        answer = self.emu.track([ok, too_many])
        self.assertEqual(answer.json()["status"], 1)
        self.assertEqual([e["event"] for e in self.emu.items("events")],
                         ["Ok"])
        self.assertIn("fewer than 255", self.rejected()[0]["message"])

    def test_nesting_and_list_limits(self):
        deep = event("Deep", "u1", a={"b": {"c": {"d": {"e": 1}}}})
        fine = event("Fine", "u1", a={"b": {"c": {"d": 1}}},
                     items=list(range(254)))
        long_list = event("LongList", "u1", items=list(range(255)))
        self.emu.track([deep, fine, long_list])
        self.assertEqual([e["event"] for e in self.emu.items("events")],
                         ["Fine"])

    def test_strings_cut_to_255_bytes_on_a_character_boundary(self):
        self.emu.track([event("E", "u1", ascii="a" * 300,
                              wide="\u00e9" * 200, short="ok",
                              nested={"x": "b" * 256})])
        stored = self.emu.items("events")[0]
        props = stored["properties"]
        self.assertEqual(props["ascii"], "a" * 255)
        self.assertEqual(props["wide"], "\u00e9" * 127)
        self.assertEqual(props["nested"]["x"], "b" * 255)
        self.assertEqual(props["short"], "ok")
        self.assertEqual(sorted(stored["truncated"]),
                         ["ascii", "nested.x", "wide"])
        self.assertEqual(self.emu.stats()["strings_truncated"], 3)

    def test_insert_id_generated_when_missing(self):
        record = event("E", "u1")
        del record["properties"]["$insert_id"]
        self.emu.track([record, record])
        stored = self.emu.items("events")
        self.assertEqual(len(stored), 2, "no $insert_id, no de-duplication")
        self.assertTrue(stored[0]["insert_id_generated"])

    def test_duplicates_are_kept_once(self):
        record = event("E", "u1")
        self.emu.track([record])
        self.emu.track([record])
        stored = self.emu.items("events")
        self.assertEqual(len(stored), 1)
        self.assertEqual(stored[0]["receipts"], 2)

    def test_bad_insert_id(self):
        answer = self.emu.track([event("E", "u1", **{"$insert_id": "a b"})])
        self.assertEqual(answer.json()["status"], 0)
        self.assertEqual(self.rejected()[0]["field"], "properties.$insert_id")

    def test_one_valid_event_is_enough_for_1(self):
        answer = self.emu.track([event("Good", "u1"), event("Bad", "null")])
        self.assertEqual(answer.json(), {"status": 1, "error": None})
        self.assertEqual(len(self.emu.items("events")), 1)

    def test_event_name_required(self):
        answer = self.emu.track([{"properties": {"token": "t",
                                                 "distinct_id": "u"}}])
        self.assertEqual(answer.json()["status"], 0)
        self.assertEqual(self.rejected()[0]["field"], "event")


class RestrictedToken(EmulatorTestCase):
    serve_args = ("--token", "right-token")

    def test_wrong_token_is_refused(self):
        answer = self.emu.track([event("E", "u1", token="wrong")])
        self.assertEqual(answer.json()["status"], 0)
        self.assertIn("invalid", answer.json()["error"])
        answer = self.emu.track([event("E", "u1", token="right-token")])
        self.assertEqual(answer.json()["status"], 1)
        self.assertEqual(json.dumps([e["token"] for e in
                                     self.emu.items("events")]),
                         '["right-token"]')


if __name__ == "__main__":
    tap.main()
