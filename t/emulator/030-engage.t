#!/usr/bin/env python3
"""/engage and /groups: every operation, and 200 with an error body."""

import base64
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tap  # noqa: E402
from emutest import TOKEN, EmulatorTestCase, update  # noqa: E402


class People(EmulatorTestCase):

    def profile(self, distinct_id="u1"):
        found = self.emu.items("profiles", distinct_id=distinct_id,
                               state="live")
        self.assertEqual(len(found), 1, found)
        return found[0]["properties"]

    def send(self, *updates):
        answer = self.emu.engage(list(updates))
        self.assertEqual(answer.status, 200)
        return answer.json()

    def test_operations(self):
        ok = {"status": 1, "error": None}
        self.assertEqual(self.send(update("u1", "$set", {"a": 1, "b": "x"})),
                         ok)
        self.send(update("u1", "$set_once", {"a": 2, "first": "yes"}))
        self.send(update("u1", "$add", {"a": 2.5, "n": -1}))
        self.send(update("u1", "$append", {"list": "p", "log": {"k": 1}}))
        self.send(update("u1", "$append", {"list": "p"}))
        self.send(update("u1", "$union", {"tags": ["x", "y"], "list": ["q",
                                                                       "p"]}))
        self.send(update("u1", "$union", {"tags": ["y", "z"]}))
        self.send(update("u1", "$remove", {"list": "p", "missing": "v"}))
        self.send(update("u1", "$unset", ["b", "never-set"]))
        self.assertEqual(self.profile(), {
            "a": 3.5, "first": "yes", "n": -1, "list": ["q"],
            "log": [{"k": 1}], "tags": ["x", "y", "z"]})

    def test_delete(self):
        self.send(update("u1", "$set", {"a": 1}))
        self.send(update("u1", "$delete", ""))
        self.assertEqual(self.emu.items("profiles", state="live"), [])
        self.send(update("u1", "$set", {"b": 2}))
        self.assertEqual(self.profile(), {"b": 2})

    def test_only_some_operations_create_a_profile(self):
        self.send(update("u1", "$unset", ["a"]), update("u2", "$remove",
                                                        {"a": 1}),
                  update("u3", "$delete", None))
        self.assertEqual(self.emu.items("profiles"), [])

    def test_plain_answer_and_get(self):
        """what the official SDKs send: GET /engage?data=<base64>"""
        data = base64.b64encode(json.dumps(update(
            "u1", "$set", {"plan": "pro"})).encode()).decode()
        answer = self.emu.call("GET", "/engage", params={"data": data,
                                                         "ip": "0"})
        self.assertEqual((answer.status, answer.text), (200, "1"))
        self.assertEqual(self.profile(), {"plan": "pro"})

    def test_ip_and_modifiers(self):
        self.send(update("u1", "$set", {"a": 1}, **{"$ip": "10.1.2.3",
                                                    "$ignore_time": True}))
        profile = self.emu.items("profiles")[0]
        self.assertEqual(profile["last_ip"], "10.1.2.3")
        self.assertEqual(profile["properties"], {"a": 1})

    def test_strings_cut_to_255_bytes(self):
        self.send(update("u1", "$set", {"long": "x" * 300}))
        self.assertEqual(self.profile()["long"], "x" * 255)

    def test_invalid_updates_answer_200_with_an_error(self):
        answer = self.emu.engage([
            update("u1", "$set", {"ok": True}),
            {"$distinct_id": "u2", "$set": {"a": 1}},
            update("null", "$set", {"a": 1}),
            dict(update("u3", "$set", {"a": 1}), **{"$add": {"n": 1}}),
            update("u4", "$add", {"n": "one"}),
            update("u5", "$union", {"tags": "x"}),
            update("u6", "$unset", "a"),
            {"$token": TOKEN, "$set": {"a": 1}},
            update("u7", "$frobnicate", {}),
        ])
        self.assertEqual(answer.status, 200)
        body = answer.json()
        # one valid update is enough for status 1; the error still says
        # what failed
        self.assertEqual(body["status"], 1)
        for index in range(1, 9):
            self.assertIn("update %d:" % index, body["error"])
        self.assertNotIn("update 0:", body["error"])
        self.assertEqual(self.profile(), {"ok": True})
        self.assertEqual(self.emu.stats()["engage"], {
            "updates": 9, "applied": 1, "errors": 8, "out_of_order": 0})
        plain = self.emu.engage([{"$set": {}}], verbose=False)
        self.assertEqual((plain.status, plain.text), (200, "0"))

    def test_status_0_only_when_no_update_is_valid(self):
        bad = update("u2", "$add", {"n": "one"})
        none_valid = self.emu.engage([bad, bad])
        self.assertEqual(none_valid.status, 200)
        self.assertEqual(none_valid.json(), {
            "status": 0, "error": "update 0: $add values must be numbers "
            "(n is 'one'); update 1: $add values must be numbers (n is "
            "'one')"})
        one_valid = self.emu.engage([bad, update("u1", "$set", {"a": 1})])
        self.assertEqual(one_valid.json(), {
            "status": 1, "error": "update 0: $add values must be numbers "
            "(n is 'one')"})
        all_valid = self.emu.engage([update("u1", "$set", {"a": 2})])
        self.assertEqual(all_valid.json(), {"status": 1, "error": None})
        plain = self.emu.engage([bad, update("u1", "$set", {"a": 3})],
                                verbose=False)
        self.assertEqual((plain.status, plain.text), (200, "1"))
        plain = self.emu.engage([bad], verbose=False)
        self.assertEqual((plain.status, plain.text), (200, "0"))
        self.assertEqual(self.profile(), {"a": 3})
        self.assertEqual(self.emu.stats()["engage"], {
            "updates": 8, "applied": 3, "errors": 5, "out_of_order": 0})

    def test_empty_batch(self):
        answer = self.emu.engage([])
        self.assertEqual(answer.status, 200)
        self.assertEqual(answer.json()["status"], 0)

    def test_gzip_is_refused(self):
        """profile-set.mdx: "This API does not support gzip encoding"."""
        body = gzip.compress(json.dumps([update("u1", "$set", {"a": 1})])
                             .encode())
        headers = {"Content-Type": "application/json",
                   "Content-Encoding": "gzip"}
        answer = self.emu.call("POST", "/engage?verbose=1", body=body,
                               headers=headers)
        self.assertEqual(answer.status, 200)
        self.assertEqual(answer.json(), {
            "status": 0, "error": "This API does not support gzip encoding"})
        plain = self.emu.call("POST", "/engage", body=body, headers=headers)
        self.assertEqual((plain.status, plain.text), (200, "0"))
        self.assertEqual(self.emu.items("profiles"), [])
        refused = self.emu.items("rejected", endpoint="/engage")
        self.assertEqual([(r["field"], r["message"]) for r in refused],
                         [("Content-Encoding", "This API does not support "
                           "gzip encoding")] * 2)
        # the same update without gzip is applied
        self.assertEqual(self.send(update("u1", "$set", {"a": 1})),
                         {"status": 1, "error": None})
        self.assertEqual(self.profile(), {"a": 1})

    def test_add_to_text_is_an_error(self):
        self.send(update("u1", "$set", {"name": "Ann"}))
        body = self.send(update("u1", "$add", {"name": 1}))
        self.assertEqual(body["status"], 0)
        self.assertEqual(self.profile(), {"name": "Ann"})

    def test_ignore_alias(self):
        """$ignore_alias targets the profile on that very id"""
        self.send(update("u1", "$set", {"a": 1}))
        self.send(update("u1", "$delete", "", **{"$ignore_alias": True}))
        self.assertEqual(self.emu.items("profiles", state="live"), [])

    def test_too_many_updates(self):
        answer = self.emu.engage([update("u1", "$set", {"a": i})
                                  for i in range(2001)])
        self.assertEqual(answer.status, 413)


class Order(EmulatorTestCase):
    """Updates are applied in $time order; without $time, arrival time."""

    T = 1767225600000           # 2026-01-01T00:00:00Z in ms

    def send(self, *updates):
        answer = self.emu.engage(list(updates))
        self.assertEqual(answer.status, 200)
        return answer.json()

    def at(self, ms, distinct_id, operation, value, **extra):
        return update(distinct_id, operation, value,
                      **dict({"$time": ms}, **extra))

    def profile(self):
        found = self.emu.items("profiles", distinct_id="u1", state="live")
        self.assertEqual(len(found), 1, found)
        return found[0]

    def test_older_set_does_not_overwrite_a_newer_one(self):
        """the spool replays a $set after a live one set a newer value"""
        self.send(self.at(self.T + 2000, "u1", "$set",
                          {"active_profile_id": "new", "plan": "pro"}))
        self.send(self.at(self.T + 1999, "u1", "$set",
                          {"active_profile_id": "old", "seen": 1}))
        self.assertEqual(self.profile()["properties"], {
            "active_profile_id": "new", "plan": "pro", "seen": 1})
        # the same time is not older: arrival order decides
        self.send(self.at(self.T + 2000, "u1", "$set",
                          {"active_profile_id": "same-time"}))
        self.assertEqual(self.profile()["properties"]["active_profile_id"],
                         "same-time")
        # no $time: the arrival time, newer than all of these
        self.send(update("u1", "$set", {"active_profile_id": "now"}))
        self.assertEqual(self.profile()["properties"]["active_profile_id"],
                         "now")
        updates = self.emu.items("updates", distinct_id="u1")
        self.assertEqual([u["out_of_order"] for u in updates],
                         [False, True, False, False])
        self.assertEqual([u["time_ms"] for u in updates[:3]],
                         [self.T + 2000, self.T + 1999, self.T + 2000])
        self.assertGreater(updates[3]["time_ms"], self.T + 2000)
        self.assertEqual(self.emu.stats()["engage"]["out_of_order"], 1)

    def test_every_operation_in_time_order(self):
        T = self.T
        self.send(self.at(T + 5000, "u1", "$unset", ["gone"]))  # no profile
        self.send(self.at(T + 2000, "u1", "$add", {"n": 1}))
        self.send(self.at(T + 3000, "u1", "$set", {"n": 10, "gone": "x"}))
        self.send(self.at(T + 1000, "u1", "$add", {"n": 5}))   # counts
        self.send(self.at(T + 2500, "u1", "$set_once", {"first": "b"}))
        self.send(self.at(T + 2400, "u1", "$set_once", {"first": "a"}))
        self.send(self.at(T + 4000, "u1", "$unset", ["gone"]))
        self.send(self.at(T + 3500, "u1", "$set", {"gone": "late"}))
        self.send(self.at(T + 500, "u1", "$append", {"log": "first"}))
        self.send(self.at(T + 6000, "u1", "$append", {"log": "last"}))
        self.send(self.at(T + 700, "u1", "$union", {"tags": ["a", "b"]}))
        self.send(self.at(T + 600, "u1", "$remove", {"tags": "a"}))
        # add 5, add 1, set 10: 10; set_once a then b: a; unset after
        # the late set: gone stays gone; the $remove came before the union
        self.assertEqual(self.profile()["properties"], {
            "n": 10, "first": "a", "log": ["first", "last"],
            "tags": ["a", "b"]})

    def test_a_late_operation_is_checked_where_it_stands(self):
        self.send(self.at(self.T + 2000, "u1", "$set", {"name": "Ann"}))
        # before the $set, "name" was no text: the late $add is valid
        self.assertEqual(self.send(self.at(self.T + 1000, "u1", "$add",
                                           {"name": 1})),
                         {"status": 1, "error": None})
        self.assertEqual(self.profile()["properties"], {"name": "Ann"})
        # after it, it is: refused, as on arrival in order
        body = self.send(self.at(self.T + 3000, "u1", "$add", {"name": 1}))
        self.assertEqual(body["status"], 0)
        self.send(self.at(self.T + 500, "u1", "$set", {"name": "early"}))
        body = self.send(self.at(self.T + 600, "u1", "$add", {"name": 1}))
        self.assertEqual(body["status"], 0)
        self.assertEqual(self.profile()["properties"], {"name": "Ann"})

    def test_time_in_seconds_or_ms(self):
        """Python sends float seconds, Swift and Android ms"""
        self.send(self.at((self.T + 2000) / 1000.0, "u1", "$set", {"a": 2}))
        self.send(self.at(self.T + 1000, "u1", "$set", {"a": 1}))
        self.assertEqual(self.profile()["properties"], {"a": 2})
        self.assertEqual(self.emu.items("updates")[0]["time_ms"],
                         self.T + 2000)

    def test_time_must_be_a_number(self):
        body = self.send(self.at("2026-01-01", "u1", "$set", {"a": 1}),
                         self.at(True, "u1", "$set", {"a": 1}))
        self.assertEqual(body["status"], 0)
        self.assertIn("update 0: $time is invalid", body["error"])
        self.assertIn("update 1: $time is invalid", body["error"])
        self.assertEqual(self.emu.items("profiles"), [])

    def test_updated_at_and_ignore_time(self):
        """$last_seen ("Updated at") moves unless $ignore_time is true"""
        T = self.T
        self.send(self.at(T + 1000, "u1", "$set", {"a": 1}))
        self.assertEqual(self.profile()["last_seen_ms"], T + 1000)
        for value in (True, 1, "true", "1"):
            self.send(self.at(T + 5000, "u1", "$set", {"b": 1},
                              **{"$ignore_time": value}))
            self.assertEqual(self.profile()["last_seen_ms"], T + 1000,
                             value)
        for value in (False, 0, "false"):
            self.send(self.at(T + 2000, "u1", "$add", {"n": 1},
                              **{"$ignore_time": value}))
        self.assertEqual(self.profile()["last_seen_ms"], T + 2000)
        self.send(self.at(T + 1500, "u1", "$set", {"c": 1}))   # older
        self.assertEqual(self.profile()["last_seen_ms"], T + 2000)
        self.send(update("u1", "$unset", ["c"]))
        self.assertGreater(self.profile()["last_seen_ms"], T + 2000)

    def test_delete_is_applied_on_arrival(self):
        self.send(self.at(self.T + 2000, "u1", "$set", {"a": 1}))
        self.send(self.at(self.T + 1000, "u1", "$delete", ""))
        self.assertEqual(self.emu.items("profiles", state="live"), [])
        self.send(self.at(self.T + 500, "u1", "$set", {"b": 1}))
        self.assertEqual(self.profile()["properties"], {"b": 1})


class Geolocation(EmulatorTestCase):
    """Where Mixpanel would locate a profile update (docs: geolocation)."""

    def geo(self, *updates, **params):
        answer = self.emu.call("POST", "/engage", body=list(updates),
                               params=dict({"verbose": "1"}, **params))
        self.assertEqual(answer.json()["status"], 1, answer)
        return [u["geo"] for u in self.emu.items("updates")[-len(updates):]]

    def test_ip_forms(self):
        self.assertEqual(self.geo(
            update("u1", "$set", {"a": 1}),
            update("u1", "$set", {"a": 1}, **{"$ip": "203.0.113.9"}),
            update("u1", "$set", {"a": 1}, **{"$ip": "2001:db8::1"}),
            update("u1", "$set", {"a": 1}, **{"$ip": "0"}),
            update("u1", "$set", {"a": 1}, **{"$ip": 0}),
            update("u1", "$set", {"a": 1}, **{"$ip": ""}),
            update("u1", "$set", {"a": 1},
                   **{"$ip": "203.0.113.9, 10.0.0.2"}),
            update("u1", "$set", {"a": 1}, **{"$latitude": 37.77,
                                              "$longitude": -122.42}),
            update("u1", "$set", {"$city": "Paris", "$region": "IDF",
                                  "$country_code": "FR"}),
            update("u1", "$set", {"$country_code": "FR"}),
        ), ["sender", "ip", "ip", "skipped", "skipped", "sender", "sender",
            "manual", "manual", "sender"])

    def test_ip_0_on_the_request(self):
        """/engage?ip=0 sets $ip to 0 for every update of the request"""
        self.assertEqual(self.geo(update("u1", "$set", {"a": 1}),
                                  update("u1", "$set", {"a": 1},
                                         **{"$ip": "203.0.113.9"}),
                                  ip="0"), ["skipped", "ip"])
        self.assertEqual(self.geo(update("u1", "$set", {"a": 1}), ip="1"),
                         ["sender"])


class Limits(EmulatorTestCase):
    """Profile values: objects as events' (fewer than 255 keys, 3 levels);
    lists limited by size only; an update at most 1 MB."""

    def send(self, *updates):
        return self.emu.engage(list(updates)).json()

    def test_lists_are_not_limited_to_255_items(self):
        body = self.send(update("u1", "$set", {"tags": list(range(300))}),
                         update("u1", "$union", {"more": list(range(300))}))
        self.assertEqual(body, {"status": 1, "error": None})
        props = self.emu.items("profiles")[0]["properties"]
        self.assertEqual((len(props["tags"]), len(props["more"])),
                         (300, 300))

    def test_objects_and_nesting(self):
        ok = {"k%d" % i: i for i in range(254)}
        body = self.send(update("u1", "$set", {"obj": ok}),
                         update("u1", "$set", {"obj": dict(ok, k254=1)}),
                         update("u1", "$set", {"deep": {"a": {"b": {}}}}),
                         update("u1", "$set", {"deep": {"a": {"b": {
                             "c": {}}}}}),
                         update("u1", "$set", {"list": [[[1]]]}),
                         update("u1", "$set", {"list": [[[[1]]]]}))
        self.assertEqual(body["status"], 1)
        self.assertEqual(body["error"], (
            "update 1: '$set.obj' is invalid: objects must have fewer than "
            "255 keys (it has 255); update 3: '$set.deep.a.b.c' is invalid: "
            "nesting deeper than 3 levels; update 5: '$set.list.0.0.0' is "
            "invalid: nesting deeper than 3 levels"))
        props = self.emu.items("profiles")[0]["properties"]
        self.assertEqual((len(props["obj"]), props["deep"], props["list"]),
                         (254, {"a": {"b": {}}}, [[[1]]]))

    def test_one_megabyte_per_update(self):
        def sized(total):
            record = update("u1", "$set", {"p": ""})
            compact = (",", ":")
            padding = total - len(json.dumps(record,
                                             separators=compact).encode())
            record["$set"]["p"] = "x" * padding
            self.assertEqual(len(json.dumps(record, separators=compact)
                                 .encode()), total)
            return record
        self.assertEqual(self.send(sized(1024 * 1024)),
                         {"status": 1, "error": None})
        self.assertEqual(self.send(sized(1024 * 1024 + 1)), {
            "status": 0, "error": "update 0: update is invalid: at most 1 "
            "MB of JSON (it is 1048577 bytes)"})


class Groups(EmulatorTestCase):

    def group(self, **extra):
        body = {"$token": TOKEN, "$group_key": "company",
                "$group_id": "acme"}
        body.update(extra)
        return body

    def send(self, *updates):
        answer = self.emu.engage(list(updates), path="/groups")
        self.assertEqual(answer.status, 200)
        return answer.json()

    def test_operations(self):
        ok = {"status": 1, "error": None}
        self.assertEqual(self.send(self.group(**{"$set": {"plan": "pro",
                                                          "n": 1}})), ok)
        self.send(self.group(**{"$set_once": {"plan": "free", "since": 1}}))
        self.send(self.group(**{"$union": {"tags": ["a", "b"]}}))
        self.send(self.group(**{"$remove": {"tags": "a"}}))
        self.send(self.group(**{"$unset": ["n"]}))
        groups = self.emu.items("groups")
        self.assertEqual(groups[0]["properties"], {"plan": "pro", "since": 1,
                                                   "tags": ["b"]})
        self.send(self.group(**{"$delete": ""}))
        self.assertEqual(self.emu.items("groups", state="live"), [])

    def test_invalid(self):
        body = self.send(self.group(**{"$add": {"n": 1}}),
                         {"$token": TOKEN, "$group_id": "x", "$set": {}})
        self.assertEqual(body["status"], 0)
        self.assertIn("update 0: $add is not supported", body["error"])
        self.assertIn("update 1: $group_key", body["error"])


class RestrictedToken(EmulatorTestCase):
    serve_args = ("--token", "right")

    def test_wrong_token(self):
        body = self.emu.engage([update("u1", "$set", {"a": 1},
                                       token="wrong")]).json()
        self.assertEqual(body["status"], 0)
        self.assertIn("$token", body["error"])


if __name__ == "__main__":
    tap.main()
