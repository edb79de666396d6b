#!/usr/bin/env python3
"""Simplified ID Merge: the customer's journeys, $device_id + $user_id
merges, one user id per cluster, identity events without effect."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tap  # noqa: E402
from emutest import EmulatorTestCase, event, update  # noqa: E402
from journeys import Sender, customer_journeys, device  # noqa: E402


class Base(EmulatorTestCase):
    serve_args = ("--identity", "simplified", "--secret", "api-secret")

    def users(self, **params):
        return {u["canonical"]: {i["id"] for i in u["ids"]}
                for u in self.emu.items("users", **params)}


class Journeys(Base):

    def test_one_user_per_account_with_all_its_devices(self):
        expected = customer_journeys(Sender(self.emu, "simplified"))
        self.assertEqual(self.users(kind="user"), expected)
        self.assertEqual(self.emu.items("users", kind="anonymous"), [])
        self.assertEqual(self.emu.items("identity", outcome="rejected"), [])

    def test_no_identity_events_are_needed(self):
        customer_journeys(Sender(self.emu, "simplified"))
        self.assertEqual(self.emu.items("events", event="$identify"), [])
        links = self.emu.items("identity", op="link", outcome="merged")
        self.assertEqual(len(links), 5)

    def test_anonymous_activity_reaches_the_account(self):
        customer_journeys(Sender(self.emu, "simplified"))
        names = [e["event"] for e in self.emu.items("events",
                                                    user="acct-1001",
                                                    order="time")]
        self.assertEqual(names[:2], ["App Open", "View Plans"])


class Merging(Base):

    def test_distinct_id_derived_from_device_and_user(self):
        d1 = device()
        anonymous = event("Anon", None, **{"$device_id": d1})
        known = event("Known", None, **{"$device_id": d1, "$user_id": "u1"})
        self.emu.import_([anonymous, known])
        stored = {e["event"]: e for e in self.emu.items("events")}
        self.assertEqual(stored["Anon"]["distinct_id"], "$device:" + d1)
        self.assertEqual(stored["Known"]["distinct_id"], "u1")
        self.assertEqual(stored["Anon"]["user"], "u1")
        self.assertEqual(self.users(), {"u1": {"u1", "$device:" + d1}})

    def test_device_ids_need_not_be_uuids(self):
        self.emu.import_([event("E", None, **{"$device_id": "dev-1",
                                              "$user_id": "u1"})])
        self.assertEqual(self.users(), {"u1": {"u1", "$device:dev-1"}})

    def test_one_user_id_per_cluster(self):
        d1 = device()
        self.emu.import_([event("A", None, **{"$device_id": d1,
                                              "$user_id": "u1"})])
        self.emu.import_([event("B", None, **{"$device_id": d1,
                                              "$user_id": "u2"})])
        self.assertEqual(self.users(), {"u1": {"u1", "$device:" + d1},
                                        "u2": {"u2"}})
        rejected = self.emu.items("identity", outcome="rejected")
        self.assertEqual(len(rejected), 1)
        self.assertIn("one user id per cluster", rejected[0]["reason"])

    def test_identity_events_do_nothing(self):
        anon = device()
        self.emu.import_([
            event("$identify", "u1", **{"$identified_id": "u1",
                                        "$anon_id": anon}),
            event("$create_alias", "u1", alias="other"),
            event("$merge", None, **{"$distinct_ids": ["u1", "u2"]})],
            auth=("api-secret", ""))
        self.assertEqual(self.users(), {"u1": {"u1"}})
        ignored = self.emu.items("identity", outcome="ignored")
        self.assertEqual(sorted(entry["op"] for entry in ignored),
                         ["$create_alias", "$identify", "$merge"])

    def test_profile_on_device_id_is_not_carried_over(self):
        d1 = device()
        self.emu.import_([event("Anon", None, **{"$device_id": d1})])
        self.emu.engage([update("$device:" + d1, "$set", {"early": 1})])
        self.emu.import_([event("Known", None, **{"$device_id": d1,
                                                  "$user_id": "u1"})])
        self.emu.engage([update("u1", "$set", {"late": 2})])
        user = self.emu.items("users", id="u1")[0]
        self.assertEqual(user["profile"]["properties"], {"late": 2})
        states = {p["distinct_id"]: p["state"] for p in user["profiles"]}
        self.assertEqual(states, {"$device:" + d1: "orphaned",
                                  "u1": "live"})


if __name__ == "__main__":
    tap.main()
