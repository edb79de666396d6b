#!/usr/bin/env python3
"""``mixpanel-emulator report``: one user per account with all its devices,
and the identity mistakes flagged."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tap  # noqa: E402
from emutest import EMULATOR, EmulatorProcess  # noqa: E402
from journeys import Sender, customer_journeys, mistakes  # noqa: E402


def report(*args):
    result = subprocess.run([sys.executable, EMULATOR, "report"] + list(args),
                            capture_output=True, text=True, timeout=120)
    return result


class Journeys(unittest.TestCase):
    """The journeys played against an emulator keeping a database file."""

    mode = "original"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mpemu-report-")
        cls.db = os.path.join(cls.tmp, "emulator.db")
        emu = EmulatorProcess("--db", cls.db, "--identity", cls.mode)
        try:
            cls.expected = customer_journeys(Sender(emu, cls.mode))
            cls.live = report("--url", emu.url, "--json")
            cls.live_db = report("--db", cls.db, "--json")
        finally:
            cls.status = emu.stop()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_emulator_stopped_cleanly(self):
        self.assertEqual(self.status, 0)

    def test_text_one_user_per_account_with_all_devices(self):
        result = report("--db", self.db)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        for account, ids in self.expected.items():
            headers = [i for i, line in enumerate(lines)
                       if line == "User %s" % account]
            self.assertEqual(len(headers), 1, result.stdout)
            ids_line = lines[headers[0] + 1]
            self.assertTrue(ids_line.startswith("  ids: "), ids_line)
            shown = {part.replace(" (anonymous)", "")
                     for part in ids_line[len("  ids: "):].split(", ")}
            self.assertEqual(shown, ids)
        self.assertEqual(sum(line.startswith("User ") for line in lines), 3)
        self.assertFalse(any(line.startswith("Anonymous ") for line in lines))
        self.assertIn("No problems found.", result.stdout)
        self.assertIn("active_profile_id=prof-partner", result.stdout)
        self.assertNotIn("test-token-0123456789abcdef", result.stdout)

    def test_json(self):
        result = report("--db", self.db, "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        project = json.loads(result.stdout)["projects"][0]
        self.assertEqual(project["identity"], self.mode)
        users = {u["canonical"]: {i["id"] for i in u["ids"]}
                 for u in project["users"]}
        self.assertEqual(users, self.expected)
        self.assertEqual(project["anonymous"], [])
        self.assertEqual(project["problems"], [])
        first = [u for u in project["users"]
                 if u["canonical"] == "acct-1001"][0]
        times = [e["time"] for e in first["events"]]
        self.assertEqual(times, sorted(times))
        self.assertEqual(first["events"][0]["event"], "App Open")
        self.assertEqual(first["profile"]["active_profile_id"],
                         "prof-partner")

    def test_same_report_live_and_from_the_file(self):
        self.assertEqual(self.live.returncode, 0, self.live.stderr)
        live = json.loads(self.live.stdout)
        saved = json.loads(self.live_db.stdout)
        for data in (live, saved):
            del data["generated_ms"]
        self.assertEqual(live, saved)

    def test_check_passes(self):
        self.assertEqual(report("--db", self.db, "--check").returncode, 0)


class SimplifiedJourneys(Journeys):
    mode = "simplified"


class Mistakes(unittest.TestCase):
    mode = "original"

    @classmethod
    def setUpClass(cls):
        cls.emu = EmulatorProcess("--identity", cls.mode)
        try:
            cls.ids = mistakes(Sender(cls.emu, cls.mode))
            cls.text = report("--url", cls.emu.url, "--check")
            cls.data = json.loads(report("--url", cls.emu.url,
                                         "--json").stdout)
        finally:
            cls.emu.stop()

    def kinds(self):
        return [p["kind"] for p in self.data["projects"][0]["problems"]]

    def test_check_fails(self):
        self.assertEqual(self.text.returncode, 1)
        self.assertIn("Problems (", self.text.stdout)

    def test_profile_on_anonymous_id_and_duplicate_profiles(self):
        self.assertIn("duplicate_profiles", self.kinds())
        self.assertIn("profile_on_anonymous_id", self.kinds())
        self.assertIn("lost profile on", self.text.stdout)
        self.assertIn("plan_viewed=pro", self.text.stdout)

    def test_second_account_on_a_device(self):
        problems = [p for p in self.data["projects"][0]["problems"]
                    if p["kind"] == "identity_not_merged"
                    and "acct-6006" in p["reason"]]
        self.assertEqual(len(problems), 1, self.data)

    def test_activity_that_never_reached_its_account(self):
        self.assertIn("account_activity_anonymous", self.kinds())
        self.assertIn("acct-8008", self.text.stdout)

    def test_banned_distinct_id(self):
        self.assertIn("banned_distinct_id", self.kinds())
        self.assertIn("'undefined'", self.text.stdout)

    def test_anon_id_not_uuid4(self):
        if self.mode != "original":
            self.skipTest("only Original ID Merge needs UUIDv4 device ids")
        self.assertIn("errAnonDistinctIdNonGUIDForm", self.text.stdout)


class SimplifiedMistakes(Mistakes):
    mode = "simplified"


class Edges(unittest.TestCase):

    def test_empty(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "e.db")
            emu = EmulatorProcess("--db", db)
            emu.stop()
            result = report("--db", db)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("Nothing received yet.", result.stdout)

    def test_database_of_an_older_emulator(self):
        """a file without the columns added since: report reads it,
        serve adds them"""
        import sqlite3
        from emutest import TOKEN, event
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "old.db")
            emu = EmulatorProcess("--db", db)
            emu.import_([event("Old", "u1", ip="203.0.113.7")])
            emu.engage([{"$token": "t", "$distinct_id": "u1",
                         "$set": {"a": 1}}])
            emu.stop()
            conn = sqlite3.connect(db)
            for table, column in (("projects", "project_id"),
                                  ("events", "geo"),
                                  ("profiles", "last_seen_ms"),
                                  ("profiles", "max_time_ms"),
                                  ("profile_updates", "time_ms"),
                                  ("profile_updates", "geo"),
                                  ("profile_updates", "out_of_order")):
                conn.execute("ALTER TABLE %s DROP COLUMN %s"
                             % (table, column))
            conn.execute("DROP TABLE profile_ops")
            conn.commit()
            conn.close()
            result = report("--db", db, "--json")
            self.assertEqual(result.returncode, 0, result.stderr)
            projects = {p["token"]: p for p in
                        json.loads(result.stdout)["projects"]}
            self.assertEqual(projects[TOKEN]["users"][0]["events"][0]["geo"],
                             None)
            self.assertEqual(projects["t"]["users"][0]["profile"], {"a": 1})
            emu = EmulatorProcess("--db", db)
            try:
                emu.import_([event("New", "u1")])
                emu.engage([{"$token": "t", "$distinct_id": "u1",
                             "$set": {"b": 1}},
                            {"$token": "t", "$distinct_id": "u1",
                             "$set": {"b": 0, "c": 1}, "$time": 1000}])
                self.assertEqual([e["geo"] for e in emu.items("events")],
                                 [None, "sender"])
                self.assertEqual(emu.items("profiles")[0]["properties"],
                                 {"a": 1, "b": 1, "c": 1})
            finally:
                emu.stop()

    def test_missing_database(self):
        result = report("--db", "/nonexistent/emulator.db")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no such database", result.stderr)

    def test_unreachable_url(self):
        result = report("--url", "http://127.0.0.1:9")
        self.assertNotEqual(result.returncode, 0)


if __name__ == "__main__":
    tap.main()
