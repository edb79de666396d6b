"""What Mixpanel would now show, per project: users, their ids, profile and
events, and the identity mistakes worth fixing before going live.

``build_report`` makes a JSON-ready dict from the database;
``render_text`` turns it into the terminal view.
"""

import datetime
import json
import re

from .identity import canonical_id, cluster_kind, id_role, load_clusters
from .payload import GEO_SENDER, crawler_match
from .query import column, project_ids, project_modes

KEY_PROPERTIES = ("$device_id", "$user_id", "account_id", "active_profile_id",
                  "previous_profile_id", "$identified_id", "$anon_id",
                  "alias", "$distinct_ids")
MODE_NAMES = {"original": "Original ID Merge",
              "simplified": "Simplified ID Merge"}
# The module's default names for the events of a login and a sign-up.
LOGIN_EVENTS = ("Sign Up", "Log In")
REASON_CODE = re.compile(r"\((err[A-Za-z]+)\)")
# Refusals that lose nothing: warnings, not errors.
HARMLESS_CODES = ("errSameIDs",)
COOKIELESS_MIN = 2      # single-event anonymous users before it is a pattern


def build_report(db, token=None, account_property="account_id",
                 login_events=LOGIN_EVENTS):
    """The whole report as a dict (the ``--json`` output)."""
    modes = project_modes(db)
    tokens = set(modes)
    for sql in ("SELECT DISTINCT token FROM ids",
                "SELECT DISTINCT token FROM rejections"):
        tokens.update(row[0] for row in db.execute(sql))
    tokens.discard(None)
    if not tokens and db.execute("SELECT 1 FROM rejections").fetchone():
        tokens = {""}       # only refusals, none naming a project
    tokens = sorted(tokens)
    if token is not None:
        tokens = [t for t in tokens if t == token]
    owners = project_ids(db)
    return {
        "generated_ms": int(datetime.datetime.now().timestamp() * 1000),
        "account_property": account_property,
        "login_events": list(login_events),
        "projects": [project_report(db, t, modes.get(t, "original"),
                                    account_property, login_events,
                                    owners.get(t)) for t in tokens],
    }


def project_report(db, token, mode, account_property,
                   login_events=LOGIN_EVENTS, project_id=None):
    clusters = load_clusters(db, token)
    profiles = {row["id"]: dict(row) for row in db.execute(
        "SELECT * FROM profiles WHERE token = ?", (token,))}
    primaries = {row["id"]: row["profile_id"] for row in db.execute(
        "SELECT id, profile_id FROM clusters WHERE token = ?", (token,))}
    events = events_by_cluster(db, token, clusters)
    users, anonymous = [], []
    for cluster, rows in sorted(clusters.items(),
                                key=lambda item: item[1][0]["first_ms"]):
        entry = cluster_entry(cluster, rows, profiles, primaries,
                              events.get(cluster, []))
        if entry["kind"] == "user":
            users.append(entry)
        elif entry["events"] or entry["profiles"]:
            anonymous.append(entry)
    report = {
        "token": token, "project_id": project_id, "identity": mode,
        "summary": {
            "users": len(users), "anonymous_clusters": len(anonymous),
            "events": sum(len(e) for e in events.values()),
            "profiles": sum(1 for p in profiles.values()
                            if p["state"] == "live"),
        },
        "users": users, "anonymous": anonymous,
    }
    problems = find_problems(db, token, report, account_property,
                             login_events, clusters)
    problems.sort(key=lambda item: item["severity"] != "error")
    report["problems"] = problems
    report["summary"]["errors"] = sum(p["severity"] == "error"
                                      for p in problems)
    report["summary"]["warnings"] = len(problems) - report["summary"][
        "errors"]
    return report


def events_by_cluster(db, token, clusters):
    where = {row["distinct_id"]: cluster
             for cluster, rows in clusters.items() for row in rows}
    grouped = {}
    for row in db.execute(
            "SELECT * FROM events WHERE token = ? ORDER BY time_ms, id",
            (token,)):
        cluster = where.get(row["distinct_id"])
        props = json.loads(row["properties"])
        grouped.setdefault(cluster, []).append({
            "time": row["time_ms"], "event": row["event"],
            "distinct_id": row["distinct_id"],
            "properties": {key: props[key] for key in KEY_PROPERTIES
                           if key in props},
            "all_properties": props, "receipts": row["receipts"],
            "endpoint": row["endpoint"], "geo": column(row, "geo"),
        })
    return grouped


def cluster_entry(cluster, rows, profiles, primaries, events):
    ids = [row["distinct_id"] for row in rows]
    primary = profiles.get(primaries.get(cluster))
    owned = [profile_entry(p) for p in profiles.values()
             if p["distinct_id"] in ids and p["state"] != "deleted"]
    return {
        "cluster_id": cluster, "kind": cluster_kind(rows),
        "canonical": canonical_id(rows),
        "ids": [{"id": row["distinct_id"], "role": id_role(row)}
                for row in rows],
        "profile": json.loads(primary["properties"]) if primary else None,
        "profiles": owned, "events": events,
    }


def profile_entry(row):
    return {"distinct_id": row["distinct_id"], "state": row["state"],
            "reason": row["reason"],
            "properties": json.loads(row["properties"])}


# -- problems ---------------------------------------------------------------

def problem(severity, kind, message, **details):
    return dict(severity=severity, kind=kind, message=message, **details)


def find_problems(db, token, report, account_property,
                  login_events=LOGIN_EVENTS, clusters=None):
    found = []
    for user in report["users"]:
        found.extend(profile_problems(user))
    found.extend(split_accounts(report, account_property))
    for cluster in report["anonymous"]:
        found.extend(anonymous_problems(cluster, account_property))
    found.extend(cookieless_clients(report))
    found.extend(logins_on_anonymous_ids(report, login_events))
    found.extend(device_problems(report))
    found.extend(identity_problems(db, token))
    found.extend(located_at_sender(report))
    found.extend(profile_updates_at_sender(db, token, clusters or {}))
    found.extend(crawlers(report))
    found.extend(other_project_tokens(report))
    found.extend(rejection_problems(db, token))
    return found


def profile_problems(user):
    found = []
    live = [p for p in user["profiles"] if p["state"] in ("live",
                                                          "orphaned")]
    if len(live) > 1:
        found.append(problem(
            "error", "duplicate_profiles",
            "user %s has %d profiles (on %s): Mixpanel shows one; the "
            "others' properties are lost" % (
                user["canonical"], len(live),
                ", ".join(p["distinct_id"] for p in live)),
            user=user["canonical"],
            profiles=[p["distinct_id"] for p in live]))
    roles = {i["id"]: i["role"] for i in user["ids"]}
    for profile in live:
        if roles.get(profile["distinct_id"]) == "anonymous":
            found.append(anonymous_profile(profile, user["canonical"]))
    return found


def anonymous_profile(profile, user=None):
    where = " (now part of user %s)" % user if user else ""
    return problem(
        "error", "profile_on_anonymous_id",
        "profile set on anonymous id %s%s: %s" % (
            profile["distinct_id"], where, profile["reason"]
            or "set profiles only once the user is identified"),
        distinct_id=profile["distinct_id"], user=user,
        properties=profile["properties"])


def split_accounts(report, account_property):
    """One account (by its account id property) in several users."""
    owners = {}
    for user in report["users"]:
        values = set()
        if user["profile"] and account_property in user["profile"]:
            values.add(str(user["profile"][account_property]))
        for event in user["events"]:
            value = event["all_properties"].get(account_property)
            if value is not None:
                values.add(str(value))
        for value in values:
            owners.setdefault(value, []).append(user["canonical"])
    return [problem("error", "account_split",
                    "account %s=%s appears as %d separate users: %s" % (
                        account_property, value, len(users),
                        ", ".join(users)),
                    account=value, users=users)
            for value, users in sorted(owners.items()) if len(users) > 1]


def anonymous_problems(cluster, account_property):
    found = []
    ids = ", ".join(i["id"] for i in cluster["ids"])
    accounts = sorted({str(e["all_properties"][account_property])
                       for e in cluster["events"]
                       if e["all_properties"].get(account_property)
                       is not None})
    if accounts:
        found.append(problem(
            "error", "account_activity_anonymous",
            "anonymous cluster %s has events of account %s but never "
            "merged into the account's user" % (ids, ", ".join(accounts)),
            ids=[i["id"] for i in cluster["ids"]], accounts=accounts))
    else:
        found.append(problem(
            "warning", "anonymous_cluster",
            "anonymous cluster never merged into a user: %s (%s)"
            % (ids, plural(len(cluster["events"]), "event")),
            ids=[i["id"] for i in cluster["ids"]]))
    for profile in cluster["profiles"]:
        found.append(anonymous_profile(profile))
    return found


def identity_problems(db, token):
    found = []
    for row in db.execute(
            "SELECT * FROM identity_log WHERE token = ? AND outcome = "
            "'rejected' ORDER BY id", (token,)):
        ids = json.loads(row["ids"])
        times = " (%d times)" % row["count"] if row["count"] > 1 else ""
        match = REASON_CODE.search(row["reason"] or "")
        code = match.group(1) if match else None
        found.append(problem(
            "warning" if code in HARMLESS_CODES else "error",
            "identity_not_merged",
            "%s %s did not merge%s: %s" % (
                row["op"], describe_ids(ids), times, row["reason"]),
            op=row["op"], ids=ids, reason=row["reason"], code=code,
            count=row["count"]))
    return found


def all_clusters(report):
    return report["users"] + report["anonymous"]


def cookieless_clients(report):
    """Anonymous users of one event each: clients that keep no cookie.

    The emulator cannot see a User-Agent the sender does not forward, so
    crawlers (which mixpanel-browser never tracks) show up this way.
    """
    single = [cluster for cluster in report["anonymous"]
              if len(cluster["events"]) == 1 and not cluster["profiles"]]
    if len(single) < COOKIELESS_MIN:
        return []
    names = count_names(cluster["events"][0]["event"] for cluster in single)
    return [problem(
        "warning", "cookieless_clients",
        "%d anonymous users hold a single event each (%s): clients that "
        "keep no cookie (crawlers, monitors, scripts) get a new device id "
        "on every request, and so does each of a new browser's first "
        "requests sent in parallel, before a response set the cookie; "
        "mixpanel-browser tracks no crawler on its blocked list"
        % (len(single), format_counts(names)),
        count=len(single), events=names)]


def logins_on_anonymous_ids(report, login_events):
    """A sign-up or login event sent on an anonymous distinct_id: the
    account was not known when it went out."""
    found, seen = [], {}
    for cluster in all_clusters(report):
        roles = {i["id"]: i["role"] for i in cluster["ids"]}
        for event in cluster["events"]:
            if event["event"] in login_events and \
                    roles.get(event["distinct_id"]) == "anonymous":
                key = (event["event"], event["distinct_id"])
                seen.setdefault(key, [0, cluster["canonical"]])[0] += 1
    for (name, distinct_id), (count, owner) in seen.items():
        times = " (%d times)" % count if count > 1 else ""
        lost = cluster_is_anonymous(report, owner)
        found.append(problem(
            "error" if lost else "warning", "login_on_anonymous_id",
            "%s sent on anonymous id %s%s: the account was not known when "
            "it was sent; %s" % (
                name, distinct_id, times,
                "the id never merged into a user, so no user has it"
                if lost else "the id merged later into user %s" % owner),
            event=name, distinct_id=distinct_id, user=None if lost else owner,
            count=count))
    return found


def cluster_is_anonymous(report, canonical):
    return any(c["canonical"] == canonical for c in report["anonymous"])


def event_device(event, roles):
    """The device an event comes from: its $device_id, else the device of
    an anonymous distinct_id (``$device:X`` is X)."""
    device = event["all_properties"].get("$device_id")
    if isinstance(device, (str, int)) and not isinstance(device, bool) \
            and device != "":
        return str(device)
    distinct_id = event["distinct_id"]
    if distinct_id.startswith("$device:"):
        return distinct_id[len("$device:"):]
    if roles.get(distinct_id) == "anonymous":
        return distinct_id
    return None


def device_problems(report):
    """One device's events in several Mixpanel users."""
    where = {}          # device -> {canonical: [kind, events, first ms]}
    for kind, clusters in (("user", report["users"]),
                           ("anonymous", report["anonymous"])):
        for cluster in clusters:
            roles = {i["id"]: i["role"] for i in cluster["ids"]}
            for event in cluster["events"]:
                device = event_device(event, roles)
                if device is None:
                    continue
                slot = where.setdefault(device, {}).setdefault(
                    cluster["canonical"], [kind, 0, event["time"]])
                slot[1] += 1
    found = []
    for device, owners in where.items():
        if len(owners) < 2:
            continue
        users = [name for name, slot in owners.items() if slot[0] == "user"]
        anonymous = [name for name, slot in owners.items()
                     if slot[0] == "anonymous"]
        if len(users) > 1:
            found.append(problem(
                "error", "device_shared",
                "device %s has events in %d users (%s): a second person "
                "used the device without a new device id, or its merge was "
                "refused; the device id belongs to one of them only" % (
                    device, len(users), ", ".join(
                        "%s: %s" % (name, plural(owners[name][1], "event"))
                        for name in users)),
                device=device, users=users))
        if users and anonymous:
            first = min(owners[name][2] for name in users)
            found.append(problem(
                "error", "device_not_merged",
                "device %s: %s (%s) never merged into "
                "user %s, whose events carry the same $device_id from %s: "
                "a login or sign-up without a merge ($identify missing or "
                "refused)" % (
                    device, plural(sum(owners[name][1] for name in anonymous),
                                   "anonymous event"),
                    ", ".join(anonymous), ", ".join(users), when(first)),
                device=device, users=users, anonymous=anonymous))
        if not users:
            found.append(problem(
                "warning", "device_split",
                "device %s is %d anonymous users (%s): its events use "
                "distinct_ids that never merged (e.g. an SDK's $device:%s "
                "and a server's bare id)" % (
                    device, len(anonymous), ", ".join(anonymous), device),
                device=device, anonymous=anonymous))
    return found


def plural(count, noun):
    return "%d %s%s" % (count, noun, "" if count == 1 else "s")


def count_names(names):
    counts = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return counts


def format_counts(counts):
    return ", ".join("%s x%d" % (name, count) for name, count in sorted(
        counts.items(), key=lambda item: (-item[1], item[0])))


def located_at_sender(report):
    """Events Mixpanel would locate at the address that sent them: no
    usable ``ip``, not ``ip`` "0", no ``ip=0`` on the request."""
    found = []
    for cluster in all_clusters(report):
        names = count_names(event["event"] for event in cluster["events"]
                            if event["geo"] == GEO_SENDER)
        if not names:
            continue
        total = sum(names.values())
        found.append(problem(
            "error", "located_at_sender",
            "user %s: %d event%s located at the sender (no usable ip; "
            "Mixpanel uses the address the request came from, the nginx "
            "server's): %s" % (cluster["canonical"], total,
                               "s" if total > 1 else "",
                               format_counts(names)),
            user=cluster["canonical"], count=total, events=names))
    return found


def profile_updates_at_sender(db, token, clusters):
    """Profile updates without a usable ``$ip``: Mixpanel sets the
    profile's location from the sender's address."""
    where, canonical = {}, {}
    for cluster, rows in clusters.items():
        canonical[cluster] = canonical_id(rows)
        for row in rows:
            where[row["distinct_id"]] = cluster
    if "geo" not in [row[1] for row in db.execute(
            "PRAGMA table_info(profile_updates)")]:
        return []
    grouped = {}
    for row in db.execute(
            "SELECT distinct_id, operation, COUNT(*) AS n FROM "
            "profile_updates WHERE token = ? AND error IS NULL AND "
            "profile_id IS NOT NULL AND geo = ? AND operation != '$delete' "
            "GROUP BY distinct_id, operation ORDER BY MIN(id)",
            (token, GEO_SENDER)):
        owner = canonical.get(where.get(row["distinct_id"]),
                              row["distinct_id"])
        names = grouped.setdefault(owner, {})
        names[row["operation"]] = names.get(row["operation"], 0) + row["n"]
    found = []
    for owner, names in grouped.items():
        total = sum(names.values())
        found.append(problem(
            "error", "located_at_sender",
            "user %s: %d profile update%s located at the sender (no usable "
            "$ip; the profile's location becomes the nginx server's): %s"
            % (owner, total, "s" if total > 1 else "", format_counts(names)),
            user=owner, count=total, updates=names))
    return found


def crawlers(report):
    """Events whose User-Agent property is on mixpanel-browser's blocked
    list (only visible when the sender forwards the User-Agent)."""
    matches = count_names(
        crawler for cluster in all_clusters(report)
        for crawler in (crawler_match(event["all_properties"])
                        for event in cluster["events"]) if crawler)
    if not matches:
        return []
    total = sum(matches.values())
    return [problem(
        "warning", "crawler_tracked",
        "%d event%s from crawler User-Agents (%s): mixpanel-browser never "
        "tracks these; the module tracks them only with "
        "mixpanel_track_bots on" % (total, "s" if total > 1 else "",
                                    format_counts(matches)),
        count=total, crawlers=matches)]


def other_project_tokens(report):
    """Events that carry another token than the project they landed in."""
    sent = {}
    for cluster in all_clusters(report):
        for event in cluster["events"]:
            own = event["all_properties"].get("token")
            if isinstance(own, str) and own and own != report["token"]:
                sent[own] = sent.get(own, 0) + 1
    where = mask(report["token"])
    if report["project_id"] is not None:
        where = "%s (project_id %s)" % (where, report["project_id"])
    return [problem(
        "error", "events_in_other_project",
        "%d event%s sent with token %s landed in project %s: /import files "
        "events under the project its credentials name (a service "
        "account's project_id, or the token used as Basic user), not under "
        "each event's own token" % (count, "s" if count > 1 else "",
                                    mask(token), where),
        token=token, count=count)
        for token, count in sorted(sent.items())]


def describe_ids(ids):
    return ", ".join("%s=%s" % (key, json.dumps(value) if not isinstance(
        value, str) else value) for key, value in ids.items())


def rejection_problems(db, token):
    found = []
    for row in db.execute(
            "SELECT endpoint, field, message, distinct_id, COUNT(*) AS n, "
            "MAX(idx IS NULL) AS whole FROM rejections "
            "WHERE token IS NULL OR token = ? "
            "GROUP BY endpoint, field, message, distinct_id ORDER BY "
            "MIN(id)", (token,)):
        banned = "not allowed" in row["message"] and "distinct_id" in (
            row["field"] or "")
        times = " (%d times)" % row["n"] if row["n"] > 1 else ""
        if banned:
            found.append(problem(
                "error", "banned_distinct_id",
                "%s refused %s %r%s: %s" % (
                    row["endpoint"], row["field"], row["distinct_id"], times,
                    row["message"]),
                endpoint=row["endpoint"], distinct_id=row["distinct_id"],
                count=row["n"]))
        else:
            found.append(problem(
                "error", "rejected", "%s refused a %s%s: %s" % (
                    row["endpoint"], "request" if row["whole"] else "record",
                    times, row["message"]),
                endpoint=row["endpoint"], field=row["field"],
                count=row["n"]))
    return found


# -- the terminal view ------------------------------------------------------

def when(ms):
    stamp = datetime.datetime.fromtimestamp(ms / 1000.0,
                                            datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + "%03dZ" % (ms % 1000)


def mask(token):
    """Tokens are not secret, but logs and terminals need not show them."""
    if len(token) <= 8:
        return token[:2] + "..." if token else "(none)"
    return "%s...%s" % (token[:4], token[-2:])


def render_text(report):
    lines = ["Mixpanel emulator report", ""]
    if not report["projects"]:
        lines.append("Nothing received yet.")
    for project in report["projects"]:
        lines.extend(render_project(project))
    return "\n".join(lines) + "\n"


def render_project(project):
    summary = project["summary"]
    name = mask(project["token"])
    if project.get("project_id") is not None:
        name += " (project_id %s)" % project["project_id"]
    lines = ["Project %s (%s): %d users, %d anonymous clusters, %d events, "
             "%d profiles" % (name,
                              MODE_NAMES.get(project["identity"],
                                             project["identity"]),
                              summary["users"],
                              summary["anonymous_clusters"],
                              summary["events"], summary["profiles"]), ""]
    for user in project["users"]:
        lines.extend(render_cluster("User", user))
    for cluster in project["anonymous"]:
        lines.extend(render_cluster("Anonymous", cluster))
    problems = project["problems"]
    if not problems:
        lines.extend(["No problems found.", ""])
        return lines
    lines.append("Problems (%d: %s, %s):" % (
        len(problems), plural(summary["errors"], "error"),
        plural(summary["warnings"], "warning")))
    for item in problems:
        lines.append("  [%s] %s" % (item["severity"], item["message"]))
    lines.append("")
    return lines


def render_cluster(title, cluster):
    ids = ", ".join(i["id"] + ("" if i["role"] != "anonymous"
                               else " (anonymous)") for i in cluster["ids"])
    lines = ["%s %s" % (title, cluster["canonical"]), "  ids: %s" % ids]
    if cluster["profile"] is not None:
        lines.append("  profile: %s" % format_props(cluster["profile"]))
    for profile in cluster["profiles"]:
        if profile["state"] == "orphaned":
            lines.append("  lost profile on %s: %s" % (
                profile["distinct_id"], format_props(profile["properties"])))
        elif cluster["profile"] is None:
            lines.append("  profile on %s: %s" % (
                profile["distinct_id"], format_props(profile["properties"])))
    lines.append("  events (%d):" % len(cluster["events"]))
    for event in cluster["events"]:
        extra = format_props(dict(distinct_id=event["distinct_id"],
                                  **event["properties"]))
        lines.append("    %s  %-20s %s" % (when(event["time"]), event["event"],
                                           extra))
    lines.append("")
    return lines


def format_props(props):
    if not props:
        return "(empty)"
    return "  ".join("%s=%s" % (key, value if isinstance(value, str)
                                else json.dumps(value, ensure_ascii=False))
                     for key, value in props.items())
