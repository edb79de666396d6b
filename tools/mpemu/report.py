"""What Mixpanel would now show, per project: users, their ids, profile and
events, and the identity mistakes worth fixing before going live.

``build_report`` makes a JSON-ready dict from the database;
``render_text`` turns it into the terminal view.
"""

import datetime
import json

from .identity import canonical_id, cluster_kind, id_role, load_clusters
from .query import project_modes

KEY_PROPERTIES = ("$device_id", "$user_id", "account_id", "active_profile_id",
                  "previous_profile_id", "$identified_id", "$anon_id",
                  "alias", "$distinct_ids")
MODE_NAMES = {"original": "Original ID Merge",
              "simplified": "Simplified ID Merge"}


def build_report(db, token=None, account_property="account_id"):
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
    return {
        "generated_ms": int(datetime.datetime.now().timestamp() * 1000),
        "account_property": account_property,
        "projects": [project_report(db, t, modes.get(t, "original"),
                                    account_property) for t in tokens],
    }


def project_report(db, token, mode, account_property):
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
        "token": token, "identity": mode,
        "summary": {
            "users": len(users), "anonymous_clusters": len(anonymous),
            "events": sum(len(e) for e in events.values()),
            "profiles": sum(1 for p in profiles.values()
                            if p["state"] == "live"),
        },
        "users": users, "anonymous": anonymous,
    }
    report["problems"] = find_problems(db, token, report, account_property)
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
            "endpoint": row["endpoint"],
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


def find_problems(db, token, report, account_property):
    found = []
    for user in report["users"]:
        found.extend(profile_problems(user))
    found.extend(split_accounts(report, account_property))
    for cluster in report["anonymous"]:
        found.extend(anonymous_problems(cluster, account_property))
    found.extend(identity_problems(db, token))
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
            "anonymous cluster never merged into a user: %s (%d events)"
            % (ids, len(cluster["events"])),
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
        found.append(problem(
            "error", "identity_not_merged",
            "%s %s did not merge%s: %s" % (
                row["op"], describe_ids(ids), times, row["reason"]),
            op=row["op"], ids=ids, reason=row["reason"], count=row["count"]))
    return found


def describe_ids(ids):
    return ", ".join("%s=%s" % (key, json.dumps(value) if not isinstance(
        value, str) else value) for key, value in ids.items())


def rejection_problems(db, token):
    found = []
    for row in db.execute(
            "SELECT endpoint, field, message, distinct_id, COUNT(*) AS n "
            "FROM rejections WHERE token IS NULL OR token = ? "
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
                "error", "rejected", "%s refused a record%s: %s" % (
                    row["endpoint"], times, row["message"]),
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
    lines = ["Project %s (%s): %d users, %d anonymous clusters, %d events, "
             "%d profiles" % (mask(project["token"]),
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
    lines.append("Problems (%d):" % len(problems))
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
