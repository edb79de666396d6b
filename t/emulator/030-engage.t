#!/usr/bin/env python3
"""/engage and /groups: every operation, and 200 with an error body."""

import base64
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
        self.assertEqual(body["status"], 0)
        for index in range(1, 9):
            self.assertIn("update %d:" % index, body["error"])
        self.assertNotIn("update 0:", body["error"])
        self.assertEqual(self.profile(), {"ok": True})
        self.assertEqual(self.emu.stats()["engage"], {
            "updates": 9, "applied": 1, "errors": 8})
        plain = self.emu.engage([{"$set": {}}], verbose=False)
        self.assertEqual((plain.status, plain.text), (200, "0"))

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
