// Drives the official Mixpanel Node SDK against the emulator, for
// 080-node-sdk.t.  Each step waits for the SDK's callback and prints one
// JSON line: {"step": NAME, "error": MESSAGE-or-null}.
//
// Environment: MIXPANEL_MODULE (path of the installed package), EMU_HOST
// (127.0.0.1:PORT, HTTPS), MP_TOKEN, MP_SECRET, MP_SA ("user:secret:project").

"use strict";

const Mixpanel = require(process.env.MIXPANEL_MODULE);

const host = process.env.EMU_HOST;
const token = process.env.MP_TOKEN;
const [saUser, saSecret, saProject] = process.env.MP_SA.split(":");
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const base = { host, protocol: "https", logger: quiet };

const mp = Mixpanel.init(token, base);
const verbose = Mixpanel.init(token, { ...base, verbose: true });
const withSecret = Mixpanel.init(token, { ...base,
                                          secret: process.env.MP_SECRET });
const withToken = Mixpanel.init(token, { ...base, secret: token });
const withAccount = Mixpanel.init(token, { ...base,
    credentials: new Mixpanel.ServiceAccountCredentials(saUser, saSecret,
                                                        saProject) });
const wrongSecret = Mixpanel.init(token, { ...base, secret: "wrong" });

const DAY = 86400 * 1000;
const now = Date.now();

function call(fn) {
  return new Promise((resolve) => {
    try {
      fn((error) => resolve(error));
    } catch (error) {
      resolve(error);
    }
  });
}

const steps = [
  ["track", (cb) => mp.track("Node Track", { distinct_id: "node-user",
                                             plan: "pro" }, cb)],
  ["track_verbose", (cb) => verbose.track("Node Verbose",
                                          { distinct_id: "node-user" }, cb)],
  ["track_old", (cb) => mp.track("Node Old", { distinct_id: "node-user",
                                               time: now - 6 * DAY }, cb)],
  ["track_batch", (cb) => mp.track_batch([1, 2, 3].map((n) => ({
    event: "Node Batch", properties: { distinct_id: "node-user", n,
                                       time: now - n * 1000 } })), cb)],
  ["import_secret", (cb) => withSecret.import(
    "Node Import", now - 2 * DAY, { distinct_id: "node-user" }, cb)],
  ["import_batch", (cb) => withSecret.import_batch([1, 2].map((n) => ({
    event: "Node Import Batch", properties: { distinct_id: "node-user",
                                              time: now - 10 * DAY - n } })),
    cb)],
  ["import_token", (cb) => withToken.import(
    "Node Import Token", now - DAY, { distinct_id: "node-user" }, cb)],
  ["import_service_account", (cb) => withAccount.import(
    "Node Import Account", now - DAY, { distinct_id: "node-user" }, cb)],
  ["import_wrong_secret", (cb) => wrongSecret.import(
    "Node Refused", now, { distinct_id: "node-user" }, cb)],
  ["people_set", (cb) => mp.people.set("node-user",
                                       { name: "Ada", plan: "pro" }, cb)],
  ["people_set_one", (cb) => mp.people.set("node-user", "city", "Paris",
                                           cb)],
  ["people_set_once", (cb) => mp.people.set_once(
    "node-user", "first_seen", "2026-01-01", cb)],
  ["people_set_once_again", (cb) => mp.people.set_once(
    "node-user", { first_seen: "2027-01-01", plan: "free" }, cb)],
  ["people_increment", (cb) => mp.people.increment("node-user", "logins",
                                                   cb)],
  ["people_increment_many", (cb) => mp.people.increment(
    "node-user", { credits: 5 }, cb)],
  ["people_decrement", (cb) => mp.people.increment("node-user", "credits",
                                                   -2, cb)],
  ["people_append", (cb) => mp.people.append("node-user", "pages", "home",
                                             cb)],
  ["people_append_many", (cb) => mp.people.append(
    "node-user", { pages: "pricing" }, cb)],
  ["people_union", (cb) => mp.people.union("node-user",
                                           { tags: ["a", "b"] }, cb)],
  ["people_union_scalar", (cb) => mp.people.union("node-user",
                                                  { tags: "b" }, cb)],
  ["people_remove", (cb) => mp.people.remove("node-user", { tags: "a" },
                                             cb)],
  ["people_unset", (cb) => mp.people.unset("node-user", "city", cb)],
  ["people_set_ip", (cb) => mp.people.set("node-user", "ip_set", true,
                                          { $ip: "198.51.100.4" }, cb)],
  ["people_set_status", (cb) => mp.people.set("node-user", "status", "new",
                                              cb)],
  ["people_set_time_old", (cb) => mp.people.set(
    "node-user", "status", "old", { $time: new Date(now - DAY) }, cb)],
  ["people_ignore_time", (cb) => mp.people.set(
    "node-user", "quiet", true, { $ignore_time: true }, cb)],
  ["people_doomed", (cb) => mp.people.set("doomed-user", { x: 1 }, cb)],
  ["people_delete_user", (cb) => mp.people.delete_user("doomed-user", cb)],
  ["alias", (cb) => mp.alias("node-user", "node-alias", cb)],
  ["track_alias", (cb) => mp.track("Node Via Alias",
                                   { distinct_id: "node-alias" }, cb)],
  ["groups_set", (cb) => mp.groups.set("company", "acme",
                                       { plan: "enterprise" }, cb)],
  ["groups_union", (cb) => mp.groups.union("company", "acme",
                                           { regions: ["eu", "us"] }, cb)],
  ["groups_remove", (cb) => mp.groups.remove("company", "acme",
                                             { regions: "us" }, cb)],
];

(async () => {
  for (const [name, fn] of steps) {
    const error = await call(fn);
    const message = error ? String(error.message || error) : null;
    process.stdout.write(JSON.stringify({ step: name, error: message }) +
                         "\n");
  }
  process.exit(0);
})();
