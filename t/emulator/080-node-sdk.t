#!/usr/bin/env python3
"""Conformance: the official Node SDK (npm ``mixpanel``, pinned) against the
emulator.  Everything it sends must be accepted and land as documented."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tap  # noqa: E402
from emutest import (HERE, REPO, EmulatorProcess, make_certificate,  # noqa
                     now_ms)

SDK_VERSION = "0.24.0"
NPM_DIR = os.path.join(REPO, "build", "npm")
MODULE = os.path.join(NPM_DIR, "node_modules", "mixpanel")
TOKEN = "node-sdk-token"
SECRET = "node-sdk-secret"
SERVICE_ACCOUNT = "sdk-sa:sdk-sa-secret:4242"
DAY_MS = 86400 * 1000


def installed_version():
    try:
        with open(os.path.join(MODULE, "package.json")) as handle:
            return json.load(handle)["version"]
    except (OSError, ValueError, KeyError):
        return None


def install_sdk():
    """npm install mixpanel@SDK_VERSION into build/npm (once)."""
    if installed_version() == SDK_VERSION:
        return
    os.makedirs(NPM_DIR, exist_ok=True)
    result = subprocess.run(
        ["npm", "install", "--prefix", NPM_DIR, "--no-audit", "--no-fund",
         "--loglevel=error", "mixpanel@" + SDK_VERSION],
        capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or installed_version() != SDK_VERSION:
        raise RuntimeError("npm install mixpanel@%s failed:\n%s%s" % (
            SDK_VERSION, result.stdout, result.stderr))


class NodeSdk(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        install_sdk()
        cls.tmp = tempfile.mkdtemp(prefix="mpemu-sdk-")
        cert, key = make_certificate(cls.tmp)
        cls.emu = EmulatorProcess("--token", TOKEN, "--secret", SECRET,
                                  "--service-account", SERVICE_ACCOUNT,
                                  tls=(cert, key))
        env = dict(os.environ, MIXPANEL_MODULE=MODULE,
                   EMU_HOST="127.0.0.1:%d" % cls.emu.port, MP_TOKEN=TOKEN,
                   MP_SECRET=SECRET, MP_SA=SERVICE_ACCOUNT,
                   NODE_EXTRA_CA_CERTS=cert)
        env.pop("HTTPS_PROXY", None)
        env.pop("HTTP_PROXY", None)
        cls.started = now_ms()
        result = subprocess.run(
            ["node", os.path.join(HERE, "sdk-driver.js")], env=env,
            capture_output=True, text=True, timeout=300)
        cls.driver = result
        cls.steps = {}
        for line in result.stdout.splitlines():
            item = json.loads(line)
            cls.steps[item["step"]] = item["error"]

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def event(self, name):
        found = self.emu.items("events", event=name)
        self.assertEqual(len(found), 1, found)
        return found[0]

    def test_driver_ran_every_step(self):
        self.assertEqual(self.driver.returncode, 0, self.driver.stderr)
        self.assertEqual(len(self.steps), 33, self.driver.stdout)

    def test_every_call_was_accepted(self):
        refused = {step: error for step, error in self.steps.items()
                   if error is not None and step != "import_wrong_secret"}
        self.assertEqual(refused, {})

    def test_wrong_secret_is_refused(self):
        self.assertIn("Invalid credentials",
                      self.steps["import_wrong_secret"] or "")
        self.assertEqual(self.emu.items("events", event="Node Refused"), [])

    def test_track(self):
        stored = self.event("Node Track")
        props = stored["properties"]
        self.assertEqual((stored["endpoint"], stored["distinct_id"],
                          stored["token"]), ("/track", "node-user", TOKEN))
        self.assertEqual((props["plan"], props["mp_lib"],
                          props["$lib_version"]), ("pro", "node",
                                                   SDK_VERSION))
        self.assertGreaterEqual(stored["time"], self.started - 60000)
        self.assertTrue(stored["insert_id_generated"])
        request = self.emu.items("requests", path="/track")[0]
        self.assertEqual(request["method"], "GET")
        self.assertEqual(request["query"]["ip"], "0")
        self.event("Node Verbose")

    def test_track_older_than_five_days_is_dropped(self):
        self.assertIsNone(self.steps["track_old"])
        self.assertEqual(self.emu.items("events", event="Node Old"), [])
        dropped = [r for r in self.emu.items("rejected", endpoint="/track")
                   if r["record"]["event"] == "Node Old"]
        self.assertIn("older than 5 days", dropped[0]["message"])

    def test_track_batch(self):
        found = self.emu.items("events", event="Node Batch")
        self.assertEqual(sorted(e["properties"]["n"] for e in found),
                         [1, 2, 3])
        posts = self.emu.items("requests", path="/track", method="POST")
        self.assertEqual(len(posts), 1)
        self.assertEqual(len(posts[0]["records"]), 3)

    def test_import_with_secret(self):
        stored = self.event("Node Import")
        self.assertEqual(stored["endpoint"], "/import")
        self.assertLess(stored["time"], now_ms() - DAY_MS)
        batch = self.emu.items("events", event="Node Import Batch")
        self.assertEqual(len(batch), 2)
        self.assertTrue(all(e["time"] < now_ms() - 9 * DAY_MS
                            for e in batch))

    def test_import_with_token_and_service_account(self):
        self.assertEqual(self.event("Node Import Token")["token"], TOKEN)
        # project 4242 is not declared: it takes the token of its events
        stored = self.event("Node Import Account")
        self.assertEqual((stored["token"], stored["project_id"]),
                         (TOKEN, "4242"))
        with_account = [r for r in self.emu.items("requests", path="/import")
                        if r["query"].get("project_id") == "4242"]
        self.assertEqual(len(with_account), 1)
        self.assertTrue(with_account[0]["headers"]["Authorization"]
                        .startswith("Basic "))

    def test_people_operations(self):
        profile = self.emu.items("profiles", distinct_id="node-user",
                                 state="live")
        self.assertEqual(len(profile), 1)
        self.assertEqual(profile[0]["properties"], {
            "name": "Ada", "plan": "pro", "first_seen": "2026-01-01",
            "logins": 1, "credits": 3, "pages": ["home", "pricing"],
            "tags": ["b"], "ip_set": True, "status": "new", "quiet": True})
        self.assertEqual(profile[0]["last_ip"], "198.51.100.4")
        self.assertEqual(self.emu.stats()["engage"]["errors"], 0)

    def test_people_time_and_ignore_time(self):
        """the SDK's $time modifier orders updates; $ignore_time keeps
        "Updated at" where it was"""
        updates = self.emu.items("updates", distinct_id="node-user")
        late = [u for u in updates if u["update"].get("$time")]
        self.assertEqual(len(late), 1)
        self.assertEqual(late[0]["update"]["$set"], {"status": "old"})
        self.assertTrue(late[0]["out_of_order"])
        self.assertLess(late[0]["time_ms"], now_ms() - DAY_MS + 600000)
        quiet = [u for u in updates if u["update"].get("$ignore_time")]
        self.assertEqual(len(quiet), 1)
        profile = self.emu.items("profiles", distinct_id="node-user",
                                 state="live")[0]
        self.assertEqual(profile["last_seen_ms"], max(
            u["time_ms"] for u in updates
            if not u["update"].get("$ignore_time") and u["error"] is None))
        self.assertLess(profile["last_seen_ms"], quiet[0]["time_ms"] + 1)

    def test_ip_0_means_no_geolocation(self):
        """the SDK sends ip=0 (geolocate: false): nothing is located at
        the sender"""
        self.assertEqual({e["geo"] for e in self.emu.items("events")},
                         {"skipped"})
        located = [u["update"]["$set"] for u in self.emu.items("updates")
                   if u["geo"] != "skipped"]
        self.assertEqual(located, [{"ip_set": True}])
        self.assertEqual(self.emu.items("updates", geo="ip")[0]["update"][
            "$ip"], "198.51.100.4")
        report = self.emu.query("report")
        kinds = {p["kind"] for project in report["projects"]
                 for p in project["problems"]}
        self.assertNotIn("located_at_sender", kinds)

    def test_delete_user(self):
        self.assertEqual(self.emu.items("profiles", owner="doomed-user",
                                        state="live"), [])
        self.assertEqual(len(self.emu.items("profiles", owner="doomed-user",
                                            state="deleted")), 1)

    def test_alias(self):
        users = self.emu.items("users", id="node-alias")
        self.assertEqual(len(users), 1)
        self.assertEqual({i["id"] for i in users[0]["ids"]},
                         {"node-user", "node-alias"})
        self.assertEqual(self.event("Node Via Alias")["user"],
                         users[0]["canonical"])

    def test_groups(self):
        groups = self.emu.items("groups", group_key="company",
                                group_id="acme")
        self.assertEqual(groups[0]["properties"], {"plan": "enterprise",
                                                   "regions": ["eu"]})

    def test_nothing_else_was_rejected(self):
        rejected = [r for r in self.emu.items("rejected")
                    if r["field"] != "Authorization"
                    and "older than 5 days" not in r["message"]]
        self.assertEqual(rejected, [])


if __name__ == "__main__":
    if shutil.which("node") is None or shutil.which("npm") is None:
        tap.skip_all("node/npm not installed")
    if shutil.which("openssl") is None:
        tap.skip_all("openssl not installed (the SDK sends secrets over "
                     "HTTPS only)")
    tap.main()
