"""The read side: what the emulator received and what Mixpanel would show.

Each collection is a function ``(db, params) -> list`` of JSON-ready items,
filtered by query parameters; the server adds ``wait_for=N`` long-polling on
top (see server.py).
"""

import base64
import json
import urllib.parse

from . import payload
from .identity import (canonical_id, cluster_kind, id_role, load_clusters,
                       parse_ids)
from .payload import PayloadError


def parse_query(query):
    """Query parameters: a value, or a list when the key repeats."""
    result = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if key in result:
            if not isinstance(result[key], list):
                result[key] = [result[key]]
            result[key].append(value)
        else:
            result[key] = value
    return result


def int_param(params, name, default=None):
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError("%s must be an integer" % name)


class Headers(dict):
    """Just enough of a message object for payload.extract_records."""

    def get(self, name, default=None):
        for key, value in self.items():
            if key.lower() == name.lower():
                return value
        return default


# -- requests ---------------------------------------------------------------

def requests(db, params):
    sql, args = "SELECT * FROM requests WHERE 1 = 1", []
    for name in ("path", "method"):
        if params.get(name):
            sql += " AND %s = ?" % name
            args.append(params[name])
    if params.get("status"):
        sql += " AND status = ?"
        args.append(int_param(params, "status"))
    since = int_param(params, "since")
    if since is not None:
        sql += " AND id > ?"
        args.append(since)
    return [request_item(row) for row in db.execute(sql + " ORDER BY id",
                                                    args)]


def request_item(row):
    body = row["body"]
    headers = Headers(json.loads(row["headers"]))
    item = {
        "id": row["id"], "received_ms": row["received_ms"],
        "client": row["client"], "method": row["method"],
        "path": row["path"], "query_string": row["query"],
        "query": parse_query(row["query"]), "headers": dict(headers),
        "body": None, "body_json": None, "records": None,
        "body_error": row["body_error"], "status": row["status"],
        "response": row["response"],
        "fault": json.loads(row["fault"]) if row["fault"] else None,
    }
    if body is not None:
        try:
            item["body"] = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            item["body_base64"] = base64.b64encode(bytes(body)).decode()
    if item["body"]:
        try:
            item["body_json"] = json.loads(item["body"])
        except ValueError:
            pass
    if row["body_error"] is None:
        try:
            item["records"], _ = payload.extract_records(
                row["method"], headers, row["query"], bytes(body or b""))
        except PayloadError:
            pass
    return item


# -- events -----------------------------------------------------------------

def column(row, name):
    """A column that a database written by an older emulator may lack."""
    return row[name] if name in row.keys() else None


def events(db, params):
    sql, args = "SELECT * FROM events WHERE 1 = 1", []
    for name in ("event", "distinct_id", "token", "insert_id", "endpoint",
                 "geo"):
        if params.get(name) is not None:
            sql += " AND %s = ?" % name
            args.append(params[name])
    if params.get("project_id") is not None:
        sql += " AND token IN (SELECT token FROM projects WHERE " \
               "project_id = ?)"
        args.append(params["project_id"])
    since = int_param(params, "since")
    if since is not None:
        sql += " AND id > ?"
        args.append(since)
    order = " ORDER BY time_ms, id" if params.get("order") == "time" else \
        " ORDER BY id"
    rows = db.execute(sql + order, args).fetchall()
    names = ClusterNames(db)
    owners = project_ids(db)
    clusters = None
    if params.get("user") is not None:
        clusters = names.clusters_of(params["user"])
    items = []
    for row in rows:
        item = event_item(row, names, owners)
        if clusters is not None and item["cluster_id"] not in clusters:
            continue
        if matches_properties(item["properties"], params):
            items.append(item)
    return items


def event_item(row, names, projects=None):
    cluster, canonical = names.lookup(row["token"], row["distinct_id"])
    return {
        "id": row["id"], "token": row["token"],
        "project_id": (projects or {}).get(row["token"]),
        "event": row["event"],
        "distinct_id": row["distinct_id"], "time": row["time_ms"],
        "insert_id": row["insert_id"],
        "insert_id_generated": bool(row["generated_insert_id"]),
        "properties": json.loads(row["properties"]),
        "endpoint": row["endpoint"], "request_id": row["request_id"],
        "received_ms": row["received_ms"], "receipts": row["receipts"],
        "truncated": json.loads(row["truncated"]) if row["truncated"]
        else [],
        "cluster_id": cluster, "user": canonical,
        "geo": column(row, "geo"),
    }


def project_ids(db):
    return {row["token"]: column(row, "project_id")
            for row in db.execute("SELECT * FROM projects")}


def matches_properties(props, params):
    """``prop.NAME=VALUE`` filters; VALUE is compared as text or JSON."""
    for key, wanted in params.items():
        if not key.startswith("prop."):
            continue
        name = key[len("prop."):]
        if name not in props:
            return False
        value = props[name]
        text = value if isinstance(value, str) else json.dumps(value)
        if text != wanted:
            return False
    return True


class ClusterNames:
    """distinct_id -> (cluster id, canonical id), per token."""

    def __init__(self, db):
        self.by_id = {}
        self.canonical = {}
        for cluster, rows in load_clusters(db).items():
            self.canonical[cluster] = canonical_id(rows)
            for row in rows:
                self.by_id[(row["token"], row["distinct_id"])] = cluster

    def lookup(self, token, distinct_id):
        cluster = self.by_id.get((token, distinct_id))
        return cluster, self.canonical.get(cluster)

    def clusters_of(self, distinct_id):
        """Every cluster (of any token) that holds distinct_id."""
        return {cluster for (_, member), cluster in self.by_id.items()
                if member == distinct_id}


# -- users, profiles, groups ------------------------------------------------

def users(db, params):
    token = params.get("token")
    clusters = load_clusters(db, token)
    modes = project_modes(db)
    primaries = {row["id"]: row["profile_id"] for row in db.execute(
        "SELECT id, profile_id FROM clusters")}
    profile_rows = {row["id"]: row for row in db.execute(
        "SELECT * FROM profiles")}
    counts = event_counts(db)
    items = []
    for cluster, rows in sorted(clusters.items()):
        ids = [row["distinct_id"] for row in rows]
        if params.get("id") is not None and params["id"] not in ids:
            continue
        kind = cluster_kind(rows)
        if params.get("kind") and params["kind"] != kind:
            continue
        member_tokens = rows[0]["token"]
        canonical = canonical_id(rows)
        owned = [profile_item(profile, canonical)
                 for profile in profile_rows.values()
                 if profile["token"] == member_tokens
                 and profile["distinct_id"] in ids
                 and profile["state"] != "deleted"]
        primary = profile_rows.get(primaries.get(cluster))
        items.append({
            "cluster_id": cluster, "token": member_tokens,
            "identity": modes.get(member_tokens, "original"),
            "kind": kind, "canonical": canonical,
            "ids": [{"id": row["distinct_id"], "role": id_role(row),
                     "first_ms": row["first_ms"]} for row in rows],
            "profile": profile_item(primary, canonical) if primary else None,
            "profiles": owned,
            "event_count": sum(counts.get((member_tokens, i), 0)
                               for i in ids),
        })
    return items


def event_counts(db):
    return {(row["token"], row["distinct_id"]): row["n"] for row in
            db.execute("SELECT token, distinct_id, COUNT(*) AS n "
                       "FROM events GROUP BY token, distinct_id")}


def project_modes(db):
    return {row["token"]: row["identity"]
            for row in db.execute("SELECT token, identity FROM projects")}


def profile_item(row, user=None):
    return {
        "id": row["id"], "token": row["token"],
        "distinct_id": row["distinct_id"], "user": user,
        "state": row["state"], "reason": row["reason"],
        "properties": json.loads(row["properties"]),
        "created_ms": row["created_ms"], "updated_ms": row["updated_ms"],
        "last_seen_ms": column(row, "last_seen_ms"),
        "last_ip": row["last_ip"], "updates": row["updates"],
    }


def profiles(db, params):
    names = ClusterNames(db)
    sql, args = "SELECT * FROM profiles WHERE 1 = 1", []
    for name, column in (("token", "token"), ("owner", "distinct_id"),
                         ("state", "state")):
        if params.get(name) is not None:
            sql += " AND %s = ?" % column
            args.append(params[name])
    items = []
    for row in db.execute(sql + " ORDER BY id", args):
        cluster, canonical = names.lookup(row["token"], row["distinct_id"])
        wanted = params.get("distinct_id")
        if wanted is not None and cluster not in names.clusters_of(wanted):
            continue
        items.append(profile_item(row, canonical))
    return items


def projects(db, params):
    """The projects data landed in: token, project_id, ID Merge API and
    how much each holds."""
    counts = {row["token"]: row["n"] for row in db.execute(
        "SELECT token, COUNT(*) AS n FROM events GROUP BY token")}
    live = {row["token"]: row["n"] for row in db.execute(
        "SELECT token, COUNT(*) AS n FROM profiles WHERE state = 'live' "
        "GROUP BY token")}
    items = []
    for row in db.execute("SELECT * FROM projects ORDER BY first_ms, token"):
        if params.get("project_id") is not None and \
                column(row, "project_id") != params["project_id"]:
            continue
        if params.get("token") is not None and \
                row["token"] != params["token"]:
            continue
        items.append({"token": row["token"],
                      "project_id": column(row, "project_id"),
                      "identity": row["identity"],
                      "events": counts.get(row["token"], 0),
                      "profiles": live.get(row["token"], 0)})
    return items


def updates(db, params):
    """Every /engage update as received, applied or not, in arrival order:
    its effective time (``$time``, else arrival), where Mixpanel would
    locate it (``geo``), whether it arrived after a newer one
    (``out_of_order``) and the error, if it was refused."""
    sql, args = "SELECT * FROM profile_updates WHERE 1 = 1", []
    for name in ("token", "distinct_id", "operation", "geo"):
        if params.get(name) is not None:
            sql += " AND %s = ?" % name
            args.append(params[name])
    since = int_param(params, "since")
    if since is not None:
        sql += " AND id > ?"
        args.append(since)
    items = []
    for row in db.execute(sql + " ORDER BY id", args):
        items.append({
            "id": row["id"], "received_ms": row["received_ms"],
            "request_id": row["request_id"], "token": row["token"],
            "distinct_id": row["distinct_id"],
            "operation": row["operation"], "profile_id": row["profile_id"],
            "time_ms": column(row, "time_ms"), "geo": column(row, "geo"),
            "out_of_order": bool(column(row, "out_of_order")),
            "error": row["error"],
            "update": json.loads(row["payload"]) if row["payload"] else None,
        })
    return items


def groups(db, params):
    sql, args = "SELECT * FROM groups WHERE 1 = 1", []
    for name in ("token", "group_key", "group_id", "state"):
        if params.get(name) is not None:
            sql += " AND %s = ?" % name
            args.append(params[name])
    return [{"token": row["token"], "group_key": row["group_key"],
             "group_id": row["group_id"], "state": row["state"],
             "properties": json.loads(row["properties"]),
             "updated_ms": row["updated_ms"]}
            for row in db.execute(sql + " ORDER BY rowid", args)]


# -- identity log, rejections, stats ----------------------------------------

def identity(db, params):
    sql, args = "SELECT * FROM identity_log WHERE 1 = 1", []
    for name in ("token", "op", "outcome"):
        if params.get(name) is not None:
            sql += " AND %s = ?" % name
            args.append(params[name])
    return [{"id": row["id"], "received_ms": row["received_ms"],
             "token": row["token"], "op": row["op"],
             "ids": parse_ids(row["ids"]), "outcome": row["outcome"],
             "reason": row["reason"], "endpoint": row["endpoint"],
             "event_id": row["event_id"], "count": row["count"]}
            for row in db.execute(sql + " ORDER BY id", args)]


def rejected(db, params):
    sql, args = "SELECT * FROM rejections WHERE 1 = 1", []
    for name in ("endpoint", "token", "field", "insert_id", "distinct_id"):
        if params.get(name) is not None:
            sql += " AND %s = ?" % name
            args.append(params[name])
    items = []
    for row in db.execute(sql + " ORDER BY id", args):
        record = row["record"]
        try:
            record = json.loads(record) if record else None
        except ValueError:
            pass
        items.append({"id": row["id"], "received_ms": row["received_ms"],
                      "request_id": row["request_id"],
                      "endpoint": row["endpoint"], "token": row["token"],
                      "index": row["idx"], "insert_id": row["insert_id"],
                      "distinct_id": row["distinct_id"],
                      "field": row["field"], "message": row["message"],
                      "record": record})
    return items


def stats(db, counters):
    """Counts a test can assert on, built from the counters table."""
    result = {
        "requests": {"total": counters.get("requests", 0),
                     "by_endpoint": {}, "by_status": {}, "faulted": {}},
        "events": {"received": 0, "stored": 0, "duplicates": 0,
                   "rejected": 0, "dropped": 0, "by_endpoint": {}},
        "engage": section(counters, "engage"),
        "groups": section(counters, "groups"),
        "identity": {outcome: counters.get("identity:%s" % outcome, 0)
                     for outcome in ("merged", "rejected", "ignored")},
        "strings_truncated": counters.get("strings_truncated", 0),
    }
    for name, value in counters.items():
        add_counter(result, name, value)
    result["insert_id_receipts"] = {
        row["insert_id"]: row["receipts"] for row in db.execute(
            "SELECT insert_id, SUM(receipts) AS receipts FROM events "
            "GROUP BY insert_id HAVING SUM(receipts) > 1")}
    kinds = [user["kind"] for user in users(db, {})]
    result["users"] = kinds.count("user")
    result["anonymous_clusters"] = kinds.count("anonymous")
    result["profiles"] = db.execute(
        "SELECT COUNT(*) FROM profiles WHERE state = 'live'").fetchone()[0]
    return result


def section(counters, name):
    return {key: counters.get("%s:%s" % (name, key), 0)
            for key in ("updates", "applied", "errors", "out_of_order")}


EVENT_COUNTERS = {"received": "received", "stored": "stored",
                  "duplicate": "duplicates", "rejected": "rejected",
                  "dropped": "dropped"}


def add_counter(result, name, value):
    parts = name.split(":")
    if parts[0] == "requests" and len(parts) == 2:
        result["requests"]["by_endpoint"][parts[1]] = value
    elif parts[0] == "status" and len(parts) == 3:
        result["requests"]["by_status"].setdefault(parts[1], {})[
            parts[2]] = value
    elif parts[0] == "faulted" and len(parts) == 2:
        result["requests"]["faulted"][parts[1]] = value
    elif parts[0] == "events" and len(parts) == 3:
        key = EVENT_COUNTERS.get(parts[1])
        if key:
            result["events"][key] += value
            endpoint = result["events"]["by_endpoint"].setdefault(
                parts[2], dict.fromkeys(EVENT_COUNTERS.values(), 0))
            endpoint[key] += value


COLLECTIONS = {
    "requests": requests, "events": events, "users": users,
    "profiles": profiles, "groups": groups, "identity": identity,
    "rejected": rejected, "projects": projects, "updates": updates,
}
