#!/usr/bin/env python3
"""Original ID Merge: the customer's journeys, $identify, $create_alias,
$merge, the 500-id cap, and profiles on anonymous ids."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tap  # noqa: E402
from emutest import EmulatorTestCase, event, update  # noqa: E402
from journeys import Sender, customer_journeys, device  # noqa: E402


def identify(user, anon, **props):
    return event("$identify", user, **dict({"$identified_id": user,
                                            "$anon_id": anon}, **props))


class Base(EmulatorTestCase):
    serve_args = ("--identity", "original", "--secret", "api-secret")

    def users(self, **params):
        return {u["canonical"]: {i["id"] for i in u["ids"]}
                for u in self.emu.items("users", **params)}

    def log(self, **params):
        return self.emu.items("identity", **params)


class Journeys(Base):

    def test_one_user_per_account_with_all_its_devices(self):
        expected = customer_journeys(Sender(self.emu, "original"))
        self.assertEqual(self.users(kind="user"), expected)
        self.assertEqual(self.emu.items("users", kind="anonymous"), [])
        self.assertEqual(self.log(outcome="rejected"), [])

    def test_anonymous_activity_reaches_the_account(self):
        customer_journeys(Sender(self.emu, "original"))
        names = [e["event"] for e in self.emu.items("events", user="acct-1001",
                                                    order="time")]
        self.assertEqual(names[:2], ["App Open", "View Plans"])
        self.assertIn("Switch Profile", names)
        self.assertNotIn("acct-2002", {e["user"] for e in self.emu.items(
            "events", user="acct-1001")})

    def test_profile_follows_the_active_profile(self):
        customer_journeys(Sender(self.emu, "original"))
        profile = self.emu.items("profiles", distinct_id="acct-1001")
        self.assertEqual(len(profile), 1)
        self.assertEqual(profile[0]["properties"], {
            "$created": "2026-01-01", "account_id": "acct-1001",
            "active_profile_id": "prof-partner"})
        switch = self.emu.items("events", event="Switch Profile")[0]
        self.assertEqual(switch["properties"]["previous_profile_id"],
                         "prof-solo")

    def test_identify_once_per_device(self):
        customer_journeys(Sender(self.emu, "original"))
        merged = self.log(op="$identify", outcome="merged")
        self.assertEqual(len(merged), 5)
        self.assertEqual(self.log(outcome="ignored"), [])


class Identify(Base):

    def test_merges_a_uuid4_anon_id(self):
        anon = device()
        self.emu.import_([event("Browse", anon), identify("u1", anon)])
        self.assertEqual(self.users(), {"u1": {"u1", anon}})
        self.assertEqual(self.emu.items("events", event="Browse")[0]["user"],
                         "u1")

    def test_retroactive(self):
        """events sent before the merge belong to the user after it"""
        anon = device()
        self.emu.import_([event("Before", anon)])
        self.assertEqual(self.emu.items("events")[0]["user"], anon)
        self.emu.import_([identify("u1", anon)])
        self.assertEqual(self.emu.items("events", event="Before")[0]["user"],
                         "u1")

    def test_anon_id_not_uuid4(self):
        self.emu.import_([event("Browse", "device-1"),
                          identify("u1", "device-1")])
        self.assertEqual(self.users(), {"u1": {"u1"},
                                        "device-1": {"device-1"}})
        rejected = self.log(outcome="rejected")
        self.assertEqual(len(rejected), 1)
        self.assertIn("UUIDv4", rejected[0]["reason"])
        uuid1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
        self.emu.import_([identify("u1", uuid1)])
        self.assertEqual(len(self.log(outcome="rejected")), 2)

    def test_anon_id_already_merged_to_another_user(self):
        anon = device()
        self.emu.import_([identify("u1", anon)])
        self.emu.import_([identify("u2", anon), identify("u2", anon,
                                                         time=1 + 10 ** 12)])
        self.assertEqual(self.users(), {"u1": {"u1", anon}, "u2": {"u2"}})
        rejected = self.log(outcome="rejected")
        self.assertEqual(len(rejected), 1)
        self.assertEqual(rejected[0]["count"], 2)
        self.assertEqual(rejected[0]["reason"], (
            "$anon_id %s already belongs to another user (u1), not to u2 "
            "(errAnonDistinctIdAssignedAlready)" % anon))

    def test_anon_id_forms(self):
        """a UUIDv4 in any letter case, optionally prefixed $device:"""
        lower = device()
        upper = device().upper()            # the iOS SDK's ids
        prefixed = "$device:" + device()    # the SDKs' anonymous distinct_id
        prefixed_upper = "$device:" + device().upper()
        self.emu.import_([identify("u1", lower), identify("u2", upper),
                          identify("u3", prefixed),
                          identify("u4", prefixed_upper)])
        self.assertEqual(self.users(), {"u1": {"u1", lower},
                                        "u2": {"u2", upper},
                                        "u3": {"u3", prefixed},
                                        "u4": {"u4", prefixed_upper}})
        self.assertEqual(self.log(outcome="rejected"), [])

    def test_anon_ids_that_are_not_merged(self):
        v4 = device()
        refused = {
            "uuid1": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "bad_variant": v4[:19] + "c" + v4[20:],
            "prefix_case": "$DEVICE:" + device(),
            "prefix_v1": "$device:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            # mixpanel-js before 2.62: five hex groups, not a UUID
            "old_js": "$device:18f1f2a3b4c-0a1b2c3d4e5f6-4c0d2f1a-1fa400-"
                      "18f1f2a3b4d",
            "braces": "{%s}" % device(),
            "no_dashes": device().replace("-", ""),
        }
        self.emu.import_([identify("u-" + name, anon)
                          for name, anon in refused.items()])
        rejected = self.log(outcome="rejected")
        self.assertEqual(len(rejected), len(refused))
        for entry, anon in zip(rejected, refused.values()):
            self.assertEqual(entry["ids"]["$anon_id"], anon)
            self.assertEqual(entry["reason"], (
                "$anon_id %s is not a UUIDv4 (optionally prefixed $device:), "
                "so Original ID Merge does not merge it "
                "(errAnonDistinctIdNonGUIDForm)" % anon))
        self.assertEqual(self.log(outcome="merged"), [])

    def test_mixpanel_js_identify(self):
        """mixpanel-js 2.46+: distinct_id = new id, $anon_distinct_id =
        the previous one ($device:<uuid>); no $identified_id / $anon_id"""
        uuid = device()
        anon = "$device:" + uuid
        self.emu.track([event("Page View", anon, **{"$device_id": uuid})])
        self.emu.track([event("$identify", "u1", **{
            "$anon_distinct_id": anon, "$device_id": uuid,
            "$user_id": "u1"})])
        self.emu.track([event("Page View", "u1", **{"$device_id": uuid,
                                                     "$user_id": "u1"})])
        self.assertEqual(self.users(), {"u1": {"u1", anon}})
        merged = self.log(outcome="merged")
        self.assertEqual([m["ids"] for m in merged],
                         [{"$identified_id": "u1", "$anon_id": anon}])
        self.assertEqual({e["user"] for e in self.emu.items("events")},
                         {"u1"})
        # a second person on the same browser: refused like $anon_id
        self.emu.track([event("$identify", "u2", **{
            "$anon_distinct_id": anon, "$device_id": uuid})])
        rejected = self.log(outcome="rejected")
        self.assertEqual(rejected[0]["reason"], (
            "$anon_id %s already belongs to another user (u1), not to u2 "
            "(errAnonDistinctIdAssignedAlready)" % anon))

    def test_same_ids(self):
        anon = device()
        self.emu.import_([identify(anon, anon)])
        rejected = self.log(outcome="rejected")
        self.assertEqual(rejected[0]["reason"], (
            "$anon_id equals $identified_id: nothing to merge "
            "(errSameIDs)"))

    def test_missing_ids(self):
        record = event("$identify", "u1")
        self.emu.import_([record])
        self.assertEqual(self.log(outcome="rejected")[0]["reason"], (
            "$identify needs $identified_id (or distinct_id) and $anon_id "
            "(or $anon_distinct_id)"))

    def test_repeated_identify_is_harmless(self):
        anon = device()
        self.emu.import_([identify("u1", anon), identify("u1", anon)])
        self.assertEqual(self.log(outcome="ignored")[0]["reason"],
                         "already merged")

    def test_via_track(self):
        anon = device()
        answer = self.emu.track([identify("u1", anon)])
        self.assertEqual(answer.json()["status"], 1)
        self.assertEqual(self.users(), {"u1": {"u1", anon}})

    def test_cluster_limit_of_500_ids(self):
        batch = [identify("u1", device()) for _ in range(500)]
        self.emu.import_(batch)
        sizes = {u["canonical"]: len(u["ids"])
                 for u in self.emu.items("users")}
        self.assertEqual(sizes["u1"], 500)
        rejected = self.log(outcome="rejected")
        self.assertEqual(len(rejected), 1)
        self.assertEqual(rejected[0]["reason"],
                         "the cluster would exceed 500 ids (errManyIDs)")


class AliasAndMerge(Base):

    def test_create_alias(self):
        self.emu.import_([event("E", "u1"), event(
            "$create_alias", "u1", alias="u1-alias")])
        self.emu.import_([event("ViaAlias", "u1-alias")])
        self.assertEqual(self.users(), {"u1": {"u1", "u1-alias"}})
        self.assertEqual(self.emu.items("events", event="ViaAlias")[0]["user"],
                         "u1")

    def test_alias_already_taken(self):
        self.emu.import_([event("$create_alias", "u1", alias="shared"),
                          event("$create_alias", "u2", alias="shared")])
        self.assertEqual(self.users(), {"u1": {"u1", "shared"}, "u2": {"u2"}})
        self.assertEqual(len(self.log(outcome="rejected")), 1)

    def merge(self, **kwargs):
        record = event("$merge", None, **{"$distinct_ids": ["u1", "u2"]})
        return self.emu.import_([record], **kwargs)

    def test_merge_with_secret(self):
        self.emu.import_([event("E", "u1"), event("E", "u2")])
        self.assertEqual(self.merge(auth=("api-secret", "")).status, 200)
        self.assertEqual(self.users(), {"u1": {"u1", "u2"}})

    def test_merge_with_service_account(self):
        self.merge(auth=("sa", "pw"), params={"project_id": "7"})
        self.assertEqual(len(self.log(op="$merge", outcome="merged")), 1)

    def test_merge_refused_with_token_auth_or_track(self):
        self.emu.import_([event("E", "u1"), event("E", "u2")])
        self.assertEqual(self.merge().status, 200)
        self.emu.track([event("$merge", "u1",
                              **{"$distinct_ids": ["u1", "u2"]})])
        self.assertEqual(self.users(), {"u1": {"u1"}, "u2": {"u2"}})
        rejected = self.log(outcome="rejected")
        self.assertEqual([entry["count"] for entry in rejected], [2])
        self.assertIn("API secret or a service account",
                      rejected[0]["reason"])


class Profiles(Base):

    def test_profile_on_anonymous_id_is_not_carried_over(self):
        anon = device()
        self.emu.import_([event("Browse", anon, **{"$device_id": anon})])
        self.emu.engage([update(anon, "$set", {"plan_viewed": "pro"})])
        self.emu.import_([identify("u1", anon)])
        self.emu.engage([update("u1", "$set", {"account_id": "u1"})])
        live = self.emu.items("profiles", state="live")
        self.assertEqual([(p["distinct_id"], p["properties"]) for p in live],
                         [("u1", {"account_id": "u1"})])
        orphaned = self.emu.items("profiles", state="orphaned")
        self.assertEqual(orphaned[0]["distinct_id"], anon)
        self.assertEqual(orphaned[0]["properties"], {"plan_viewed": "pro"})
        self.assertIn("not carry", orphaned[0]["reason"])
        user = self.emu.items("users", id="u1")[0]
        self.assertEqual(len(user["profiles"]), 2)

    def test_not_carried_over_even_without_a_user_profile(self):
        anon = device()
        self.emu.engage([update(anon, "$set", {"a": 1})])
        self.emu.import_([event("Browse", anon, **{"$device_id": anon}),
                          identify("u1", anon)])
        self.assertEqual(self.emu.items("users", id="u1")[0]["profile"], None)

    def test_updates_to_a_merged_anon_id_reach_the_user(self):
        anon = device()
        self.emu.import_([identify("u1", anon)])
        self.emu.engage([update("u1", "$set", {"a": 1}),
                         update(anon, "$set", {"b": 2})])
        profiles = self.emu.items("profiles")
        self.assertEqual(len(profiles), 1)
        self.assertEqual(profiles[0]["properties"], {"a": 1, "b": 2})


class PerProjectIdentity(EmulatorTestCase):
    serve_args = ("--identity", "original", "--identity",
                  "simple-token=simplified")

    def test_identity_per_token(self):
        anon = device()
        self.emu.import_([identify("u1", anon)])
        self.emu.import_([identify("u1", anon, token="simple-token")],
                         token="simple-token")
        users = {u["token"]: u for u in self.emu.items("users", id="u1")}
        self.assertEqual(users["test-token-0123456789abcdef"]["identity"],
                         "original")
        self.assertEqual(len(users["test-token-0123456789abcdef"]["ids"]), 2)
        self.assertEqual(users["simple-token"]["identity"], "simplified")
        self.assertEqual(len(users["simple-token"]["ids"]), 1)


if __name__ == "__main__":
    tap.main()
