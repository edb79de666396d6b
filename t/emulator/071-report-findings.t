#!/usr/bin/env python3
"""The report's findings on what a new user misses: logins without a merge,
shared devices, refused identifies, users located at the sender, crawler
traffic, events in another project; ``report --check`` fails on errors
only.  Each mistake is paired with the same journey done right."""

import os
import subprocess
import sys
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tap  # noqa: E402
from emutest import (EMULATOR, EmulatorTestCase, event, now_ms,  # noqa: E402
                     update)
from journeys import device  # noqa: E402

IP = "203.0.113.7"
GOOGLEBOT = ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) "
             "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile "
             "Safari/537.36 (compatible; Googlebot/2.1; "
             "+http://www.google.com/bot.html)")
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/124.0.6367.91 Safari/537.36")


class Clock:
    def __init__(self):
        self.now = now_ms() - 3600 * 1000

    def __call__(self):
        self.now += 1000
        return self.now


class Findings(EmulatorTestCase):
    serve_args = ("--identity", "original")

    def setUp(self):
        super().setUp()
        self.tick = Clock()

    def ev(self, name, distinct_id, **props):
        """An event as the module sends it: with the client's ip."""
        return event(name, distinct_id, time=self.tick(),
                     **dict({"ip": IP}, **props))

    def identify(self, account, anon):
        return self.ev("$identify", account, **{
            "$identified_id": account, "$anon_id": anon,
            "$device_id": anon})

    def send(self, *events, **kwargs):
        answer = self.emu.import_(list(events), **kwargs)
        self.assertEqual(answer.status, 200, answer)

    def report(self, **params):
        project = self.emu.query("report", **params)["projects"]
        self.assertEqual(len(project), 1, project)
        return project[0]

    def problems(self, **params):
        return [(p["severity"], p["kind"], p["message"])
                for p in self.report(**params)["problems"]]

    def check(self, *args):
        """``report --check`` through the command line: (status, text)."""
        result = subprocess.run(
            [sys.executable, EMULATOR, "report", "--url", self.emu.url,
             "--check"] + list(args), capture_output=True, text=True,
            timeout=120)
        return result.returncode, result.stdout

    # -- a login without a merge ----------------------------------------------

    def browse_then_log_in(self, d, identify):
        self.send(self.ev("App Open", d, **{"$device_id": d}),
                  self.ev("View Plans", d, **{"$device_id": d}))
        login = [self.identify("acct-1", d)] if identify else []
        self.send(*(login + [self.ev("Log In", "acct-1", **{
            "$device_id": d, "account_id": "acct-1"})]))

    def test_login_without_identify(self):
        """issue 14, 1: Log In sent with no $identify"""
        d = device()
        self.browse_then_log_in(d, identify=False)
        first = self.tick.now
        self.assertEqual(self.problems(), [(
            "error", "device_not_merged",
            "device %s: 2 anonymous events (%s) never merged into user "
            "acct-1, whose events carry the same $device_id from %s: a "
            "login or sign-up without a merge ($identify missing or "
            "refused)" % (d, d, self.when(first))), (
            "warning", "anonymous_cluster",
            "anonymous cluster never merged into a user: %s (2 events)" % d)])
        status, text = self.check()
        self.assertEqual(status, 1)
        self.assertIn("Problems (2: 1 error, 1 warning):\n  [error] device "
                      "%s: 2 anonymous events" % d, text)
        # the same journey with the $identify: nothing to report
        self.emu.reset()
        self.browse_then_log_in(device(), identify=True)
        self.assertEqual(self.problems(), [])
        status, text = self.check()
        self.assertEqual(status, 0)
        self.assertIn("No problems found.", text)

    def when(self, ms):
        stamp = datetime.fromtimestamp(ms / 1000.0, timezone.utc)
        return stamp.strftime("%Y-%m-%d %H:%M:%S.") + "%03dZ" % (ms % 1000)

    def test_login_event_on_an_anonymous_id(self):
        """the account was not known when Log In went out"""
        d = device()
        self.send(self.ev("App Open", d, **{"$device_id": d}),
                  self.ev("Log In", d, **{"$device_id": d}),
                  self.ev("Sign Up", d, **{"$device_id": d}),
                  self.ev("Sign Up", d, **{"$device_id": d}))
        self.assertEqual(self.problems(), [
            ("error", "login_on_anonymous_id",
             "Log In sent on anonymous id %s: the account was not known "
             "when it was sent; the id never merged into a user, so no user "
             "has it" % d),
            ("error", "login_on_anonymous_id",
             "Sign Up sent on anonymous id %s (2 times): the account was not "
             "known when it was sent; the id never merged into a user, so "
             "no user has it" % d),
            ("warning", "anonymous_cluster",
             "anonymous cluster never merged into a user: %s (4 events)"
             % d)])
        # a later merge brings the events to the user: a warning remains
        self.send(self.identify("acct-1", d))
        self.assertEqual(self.problems(), [
            ("warning", "login_on_anonymous_id",
             "Log In sent on anonymous id %s: the account was not known "
             "when it was sent; the id merged later into user acct-1" % d),
            ("warning", "login_on_anonymous_id",
             "Sign Up sent on anonymous id %s (2 times): the account was not "
             "known when it was sent; the id merged later into user acct-1"
             % d)])
        self.assertEqual(self.check()[0], 0)

    def test_login_event_names(self):
        d = device()
        self.send(self.ev("Signed In", d, **{"$device_id": d}))
        self.assertEqual([kind for _, kind, _ in self.problems()],
                         ["anonymous_cluster"])
        answer = self.emu.get("/_emulator/report?login_event=Signed+In&"
                              "login_event=Log+In")
        self.assertEqual([p["kind"] for p in
                          answer.json()["projects"][0]["problems"]],
                         ["login_on_anonymous_id", "anonymous_cluster"])
        self.assertEqual(self.check("--login-event", "Signed In")[0], 1)
        self.assertEqual(self.check()[0], 0)

    # -- shared devices -------------------------------------------------------

    def test_second_person_on_a_device(self):
        """issue 14, 2: Ben logs in on Ana's device without a new id"""
        d = device()
        self.send(self.ev("App Open", d, **{"$device_id": d}),
                  self.identify("ana", d),
                  self.ev("Log In", "ana", **{"$device_id": d}))
        self.send(self.identify("ben", d),
                  self.ev("Log In", "ben", **{"$device_id": d}),
                  self.ev("API Request", "ben", **{"$device_id": d}))
        problems = self.problems()
        self.assertEqual(problems, [
            ("error", "device_shared",
             "device %s has events in 2 users (ana: 3 events, ben: 3 "
             "events): a second person used the device without a new "
             "device id, or its merge was refused; the device id belongs to "
             "one of them only" % d),
            ("error", "identity_not_merged",
             "$identify $identified_id=ben, $anon_id=%s did not merge: "
             "$anon_id %s already belongs to another user (ana), not to ben "
             "(errAnonDistinctIdAssignedAlready)" % (d, d))])
        refused = [p for p in self.report()["problems"]
                   if p["kind"] == "identity_not_merged"]
        self.assertEqual(refused[0]["code"],
                         "errAnonDistinctIdAssignedAlready")
        # Ben on a new device id: no problem
        self.emu.reset()
        d1, d2 = device(), device()
        self.send(self.identify("ana", d1),
                  self.ev("Log In", "ana", **{"$device_id": d1}))
        self.send(self.identify("ben", d2),
                  self.ev("Log In", "ben", **{"$device_id": d2}))
        self.assertEqual(self.problems(), [])

    def test_one_device_two_anonymous_users(self):
        """an SDK's $device:X and a server's X that never merge"""
        x = device()
        self.send(self.ev("SDK Page", "$device:" + x, **{"$device_id": x}),
                  self.ev("API Request", x, **{"$device_id": x}))
        problems = self.problems()
        self.assertEqual([kind for _, kind, _ in problems],
                         ["anonymous_cluster", "anonymous_cluster",
                          "cookieless_clients", "device_split"])
        self.assertEqual(problems[3], (
            "warning", "device_split",
            "device %s is 2 anonymous users ($device:%s, %s): its events use "
            "distinct_ids that never merged (e.g. an SDK's $device:%s and a "
            "server's bare id)" % (x, x, x, x)))
        self.assertEqual(self.check()[0], 0)

    # -- refused identifies ---------------------------------------------------

    def test_refusals_with_their_codes(self):
        same = device()
        self.send(self.identify(same, same),
                  self.identify("u1", "device-1"))
        found = [(p["severity"], p["code"]) for p in
                 self.report()["problems"]
                 if p["kind"] == "identity_not_merged"]
        self.assertEqual(found, [("error", "errAnonDistinctIdNonGUIDForm"),
                                 ("warning", "errSameIDs")])
        self.assertEqual(self.check()[0], 1)
        self.emu.reset()
        self.send(self.identify(same, same))
        status, text = self.check()
        self.assertEqual(status, 0)
        self.assertIn("Problems (2: 0 errors, 2 warnings):\n  [warning] "
                      "anonymous cluster never merged into a user: %s (1 "
                      "event)\n  [warning] " % same + 
                      "$identify $identified_id=%s, $anon_id=%s did not "
                      "merge: $anon_id equals $identified_id: nothing to "
                      "merge (errSameIDs)" % (same, same), text)

    # -- geolocation ----------------------------------------------------------

    def test_located_at_the_sender(self):
        d = device()
        self.send(self.ev("App Open", d, **{"$device_id": d}),
                  event("$identify", "acct-1", time=self.tick(), **{
                      "$identified_id": "acct-1", "$anon_id": d}),
                  event("Log In", "acct-1", time=self.tick()),
                  event("API Request", "acct-1", time=self.tick(),
                        ip="203.0.113.9, 10.0.0.2"),
                  event("API Request", "acct-1", time=self.tick(),
                        ip=""),
                  self.ev("API Request", "acct-1"),
                  event("Skipped", "acct-1", time=self.tick(), ip="0"))
        self.emu.engage([update("acct-1", "$set", {"a": 1}),
                         update("acct-1", "$set_once", {"b": 1}),
                         update("acct-1", "$set", {"c": 1},
                                **{"$ip": IP}),
                         update("acct-1", "$set", {"c": 1},
                                **{"$ip": "0"}),
                         update(d, "$add", {"n": 1}),
                         update("nobody", "$unset", ["x"]),
                         update("acct-1", "$add", {"bad": "x"})])
        self.assertEqual(self.problems(), [
            ("error", "located_at_sender",
             "user acct-1: 4 events located at the sender (no usable ip; "
             "Mixpanel uses the address the request came from, the nginx "
             "server's): API Request x2, $identify x1, Log In x1"),
            ("error", "located_at_sender",
             "user acct-1: 3 profile updates located at the sender (no "
             "usable $ip; the profile's location becomes the nginx "
             "server's): $add x1, $set x1, $set_once x1"),
            ("error", "rejected", "/engage refused a record: $add values "
             "must be numbers (bad is 'x')"),
        ])
        details = [p for p in self.report()["problems"]]
        self.assertEqual(details[0]["events"], {"API Request": 2,
                                                "$identify": 1, "Log In": 1})
        self.assertEqual(details[1]["updates"], {"$set": 1, "$set_once": 1,
                                                 "$add": 1})
        # the same, each with the client's address or "0": nothing
        self.emu.reset()
        self.send(self.ev("App Open", d, **{"$device_id": d}),
                  self.identify("acct-1", d), self.ev("Log In", "acct-1"))
        self.emu.engage([update("acct-1", "$set", {"a": 1}, **{"$ip": IP}),
                         update("acct-1", "$set", {"a": 1}, **{"$ip": "0"})])
        self.assertEqual(self.problems(), [])

    # -- crawlers -------------------------------------------------------------

    def test_crawler_user_agent_property(self):
        self.send(self.ev("Page", "u1", user_agent=GOOGLEBOT),
                  self.ev("Page", "u1", **{"$user_agent": "bingbot/2.0"}),
                  self.ev("Page", "u1", http_user_agent="Googlebot-Image"),
                  self.ev("Page", "u1", user_agent=CHROME))
        self.assertEqual(self.problems(), [(
            "warning", "crawler_tracked",
            "3 events from crawler User-Agents (googlebot x2, bingbot x1): "
            "mixpanel-browser never tracks these; the module tracks them "
            "only with mixpanel_track_bots on")])
        self.assertEqual(self.check()[0], 0)
        self.emu.reset()
        self.send(self.ev("Page", "u1", user_agent=CHROME))
        self.assertEqual(self.problems(), [])

    def test_clients_without_cookies(self):
        """a crawler that keeps no cookie: a new device id per request"""
        devices = [device(), device()]
        self.send(*[self.ev("API Request", d, **{"$device_id": d})
                    for d in devices])
        problems = self.problems()
        self.assertEqual(problems[2], (
            "warning", "cookieless_clients",
            "2 anonymous users hold a single event each (API Request x2): "
            "clients that keep no cookie (crawlers, monitors, scripts) get "
            "a new device id on every request, and so does each of a new "
            "browser's first requests sent in parallel, before a response "
            "set the cookie; mixpanel-browser tracks no crawler on its "
            "blocked list"))
        self.assertEqual([kind for _, kind, _ in problems],
                         ["anonymous_cluster", "anonymous_cluster",
                          "cookieless_clients"])
        # one device that comes back: no pattern
        self.emu.reset()
        self.send(*[self.ev("API Request", devices[0],
                            **{"$device_id": devices[0]})] * 1,
                  self.ev("API Request", devices[0],
                          **{"$device_id": devices[0]}))
        self.assertEqual([kind for _, kind, _ in self.problems()],
                         ["anonymous_cluster"])


class Projects(EmulatorTestCase):
    """issue 15, 8: a service account with per-request tokens"""

    serve_args = ("--project", "4242=tok-a", "--project", "7=tok-b")

    def test_events_in_another_project(self):
        batch = [event("A", "u1", token="tok-a", ip=IP),
                 event("B", "u2", token="tok-b", ip=IP),
                 event("B", "u2", token="tok-b", ip=IP)]
        self.emu.import_(batch, auth=("sa", "pw"),
                         params={"project_id": "4242"})
        reports = self.emu.query("report")["projects"]
        self.assertEqual([(p["token"], p["project_id"]) for p in reports],
                         [("tok-a", "4242")])
        self.assertEqual([(p["severity"], p["kind"], p["message"])
                          for p in reports[0]["problems"]], [(
                              "error", "events_in_other_project",
                              "2 events sent with token to... landed in "
                              "project to... (project_id 4242): /import "
                              "files events under the project its "
                              "credentials name (a service account's "
                              "project_id, or the token used as Basic "
                              "user), not under each event's own token")])
        text = subprocess.run(
            [sys.executable, EMULATOR, "report", "--url", self.emu.url],
            capture_output=True, text=True, timeout=120).stdout
        self.assertIn("Project to... (project_id 4242) (Original ID Merge)",
                      text)
        # each token through its own credentials: nothing to report
        self.emu.reset()
        self.emu.import_(batch[:1], token="tok-a")
        self.emu.import_(batch[1:], token="tok-b")
        self.assertEqual([p["problems"] for p in
                          self.emu.query("report")["projects"]], [[], []])


if __name__ == "__main__":
    tap.main()
