"""User profiles (/engage) and group profiles (/groups).

A user profile belongs to the identity cluster of the distinct_id it was
first set on; later updates to any id of that cluster reach the same
profile.  ``$ignore_alias`` targets the profile created on that exact id.

Order: "Updates are applied in $time order ... If $time is not included in
a request, Mixpanel will use the time the update arrives" (Mixpanel's
legacy HTTP spec; the official SDKs send ``$time``).  Each profile keeps
the operations applied to it with their time; an update no older than the
newest one applied is applied at once, an older one makes the profile be
recomputed from all its operations in (time, arrival) order — so a
replayed ``$set`` never overwrites what a newer one set, and a late
``$add`` still counts.  ``$delete`` is applied on arrival.  "Updated at"
(``$last_seen``, ``last_seen_ms`` here) is the newest time of an update
without ``$ignore_time``.  Group profiles are applied in arrival order.
"""

import json

from .payload import Failure
from .store import dumps

CREATING = ("$set", "$set_once", "$add", "$append", "$union")


def apply_operation(props, operation, value):
    """A copy of a properties dict with one profile operation applied.

    Raises Failure (and changes nothing) when the operation conflicts with
    the profile.
    """
    props = dict(props)
    if operation == "$set":
        props.update(value)
    elif operation == "$set_once":
        for key, item in value.items():
            props.setdefault(key, item)
    elif operation == "$add":
        for key, amount in value.items():
            current = props.get(key, 0)
            if isinstance(current, bool) or not isinstance(current,
                                                           (int, float)):
                raise Failure("$add.%s" % key, "$add: %s is not a number on "
                              "the profile" % key)
            props[key] = current + amount
    elif operation in ("$append", "$union"):
        for key, item in value.items():
            current = props.get(key, [])
            if not isinstance(current, list):
                raise Failure("%s.%s" % (operation, key), "%s: %s is not a "
                              "list on the profile" % (operation, key))
            items = [item] if operation == "$append" else item
            for element in items:
                if operation == "$append" or element not in current:
                    current = current + [element]
            props[key] = current
    elif operation == "$remove":
        for key, item in value.items():
            if isinstance(props.get(key), list):
                props[key] = [element for element in props[key]
                              if element != item]
    elif operation == "$unset":
        for key in value:
            props.pop(key, None)
    return props


class Profiles:
    """Profile updates against the store (call inside a write)."""

    def __init__(self, store, identity):
        self.store = store
        self.identity = identity

    @property
    def db(self):
        return self.store.db

    def apply(self, update, now):
        """Apply a validated /engage update; returns the profile id touched.

        Raises Failure when the operation conflicts with the profile.
        """
        token, distinct_id = update["token"], update["distinct_id"]
        cluster = self.identity.touch(token, distinct_id, now)
        operation = update["operation"]
        profile = self.target(token, distinct_id, cluster,
                              update["ignore_alias"])
        if operation == "$delete":
            if profile is not None:
                self.delete(profile, cluster, now)
            return profile and profile["id"]
        if profile is None:
            if operation not in CREATING:
                return None
            profile = self.create(token, distinct_id, cluster, now)
        when = update.get("time_ms")
        when = now if when is None else when
        newest = profile["max_time_ms"]
        if newest is None and profile["properties"] != "{}":
            # a profile from an emulator that kept no operations: what it
            # holds comes first
            self.db.execute(
                "INSERT INTO profile_ops (profile_id, time_ms, operation, "
                "value) VALUES (?, 0, '$set', ?)",
                (profile["id"], profile["properties"]))
        if newest is None or when >= newest:
            props = apply_operation(json.loads(profile["properties"]),
                                    operation, update["value"])
        else:
            props = self.replay(profile["id"], operation, update["value"],
                                when)
            update["out_of_order"] = True
        self.db.execute(
            "INSERT INTO profile_ops (profile_id, time_ms, operation, value) "
            "VALUES (?, ?, ?, ?)", (profile["id"], when, operation,
                                    dumps(update["value"])))
        ip = update.get("ip")
        seen = None if update.get("ignore_time") else when
        self.db.execute(
            "UPDATE profiles SET properties = ?, updated_ms = ?, "
            "last_ip = COALESCE(?, last_ip), updates = updates + 1, "
            "max_time_ms = MAX(COALESCE(max_time_ms, ?), ?), "
            "last_seen_ms = CASE WHEN ? IS NULL THEN last_seen_ms "
            "ELSE MAX(COALESCE(last_seen_ms, ?), ?) END WHERE id = ?",
            (dumps(props), now, None if ip is None else str(ip), when, when,
             seen, seen, seen, profile["id"]))
        return profile["id"]

    def replay(self, profile_id, operation, value, when):
        """The profile recomputed with a late operation in its place.

        Operations of the same time keep their arrival order (the late one
        comes after them).  One that fails where it now stands is skipped
        (its answer went out long ago); the late one failing raises.
        """
        ops = [(row["time_ms"], row["id"], row["operation"],
                json.loads(row["value"]) if row["value"] else None)
               for row in self.db.execute(
                   "SELECT * FROM profile_ops WHERE profile_id = ?",
                   (profile_id,))]
        ops.append((when, float("inf"), operation, value))
        ops.sort(key=lambda op: (op[0], op[1]))
        props = {}
        for _, seq, name, item in ops:
            try:
                props = apply_operation(props, name, item)
            except Failure:
                if seq == float("inf"):
                    raise
        return props

    def target(self, token, distinct_id, cluster, ignore_alias):
        if ignore_alias:
            return self.db.execute(
                "SELECT * FROM profiles WHERE token = ? AND distinct_id = ? "
                "AND state != 'deleted' ORDER BY id DESC LIMIT 1",
                (token, distinct_id)).fetchone()
        return self.db.execute(
            "SELECT profiles.* FROM clusters JOIN profiles "
            "ON profiles.id = clusters.profile_id WHERE clusters.id = ?",
            (cluster,)).fetchone()

    def create(self, token, distinct_id, cluster, now):
        profile_id = self.db.execute(
            "INSERT INTO profiles (token, distinct_id, properties, state, "
            "created_ms, updated_ms) VALUES (?, ?, '{}', 'live', ?, ?)",
            (token, distinct_id, now, now)).lastrowid
        self.db.execute("UPDATE clusters SET profile_id = ? WHERE id = ? "
                        "AND profile_id IS NULL", (profile_id, cluster))
        return self.db.execute("SELECT * FROM profiles WHERE id = ?",
                               (profile_id,)).fetchone()

    def delete(self, profile, cluster, now):
        self.db.execute(
            "UPDATE profiles SET state = 'deleted', reason = 'deleted by "
            "$delete', updated_ms = ? WHERE id = ?", (now, profile["id"]))
        self.db.execute("UPDATE clusters SET profile_id = NULL "
                        "WHERE profile_id = ?", (profile["id"],))

    def apply_group(self, update, now):
        """Apply a validated /groups update."""
        key = (update["token"], update["group_key"], update["group_id"])
        row = self.db.execute(
            "SELECT * FROM groups WHERE token = ? AND group_key = ? AND "
            "group_id = ?", key).fetchone()
        operation = update["operation"]
        if operation == "$delete":
            if row is not None:
                self.db.execute(
                    "UPDATE groups SET state = 'deleted', updated_ms = ? "
                    "WHERE token = ? AND group_key = ? AND group_id = ?",
                    (now,) + key)
            return
        live = row is not None and row["state"] == "live"
        if not live and operation not in CREATING:
            return
        props = json.loads(row["properties"]) if live else {}
        props = apply_operation(props, operation, update["value"])
        self.db.execute(
            "INSERT INTO groups (token, group_key, group_id, properties, "
            "state, updated_ms) VALUES (?, ?, ?, ?, 'live', ?) "
            "ON CONFLICT (token, group_key, group_id) DO UPDATE SET "
            "properties = excluded.properties, state = 'live', "
            "updated_ms = excluded.updated_ms",
            key + (dumps(props), now))
