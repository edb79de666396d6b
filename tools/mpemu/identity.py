"""Identity clusters: Mixpanel's Original and Simplified ID Merge.

Every distinct_id the emulator sees belongs to exactly one cluster (at first
a cluster of its own).  Merges move every id of one cluster into another.
Each id keeps the evidence of what it is: *user* evidence (it was an
``$identified_id`` or a ``$user_id``) and *anonymous* evidence (an
``$anon_id``, a ``$device_id``, a ``$device:`` id).  A cluster with no id
that is anything but anonymous is an anonymous cluster; the others are
users.

Original ID Merge (``$identify``, ``$create_alias``, ``$merge``):
  * ``$identify`` merges ``$anon_id`` into ``$identified_id``'s cluster
    following Mixpanel's "Identify Criteria" (create-identity.mdx): the two
    ids differ (errSameIDs), ``$anon_id`` is a UUIDv4 in any letter case,
    optionally prefixed ``$device:`` (errAnonDistinctIdNonGUIDForm), it is
    not merged with another identified id
    (errAnonDistinctIdAssignedAlready), the cluster stays within 500 ids
    (errManyIDs).  mixpanel-js's shape (``distinct_id`` = the new id,
    ``$anon_distinct_id`` = the previous one) is read the same way;
  * ``$create_alias`` merges the alias into distinct_id's cluster unless the
    alias already belongs to another cluster of more than one id;
  * ``$merge`` merges any two clusters, and only arrives through /import
    authenticated with the API secret or a service account;
  * a cluster never grows past 500 ids.
Simplified ID Merge: the first event carrying both ``$device_id`` and
``$user_id`` merges ``$device:<device_id>`` into the user's cluster, unless
that device is already merged with another user id (one user id per
cluster); the three identity events do nothing.

Profiles belong to clusters (``clusters.profile_id``).  When an anonymous
cluster merges into a user's, its profile is *not* carried over: it is
marked orphaned, which is what Mixpanel does with properties set on an
anonymous id, and what the report flags.
"""

import json

from .payload import IDENTITY_EVENTS, is_anon_id
from .store import dumps

CLUSTER_LIMIT = 500


class Identity:
    """Identity operations on the store's tables (call inside a write)."""

    def __init__(self, store):
        self.store = store

    @property
    def db(self):
        return self.store.db

    # -- ids and clusters ---------------------------------------------------

    def touch(self, token, distinct_id, now, user=False, anon=False):
        """Make sure distinct_id has a cluster; record evidence; return it."""
        row = self.db.execute(
            "SELECT cluster_id FROM ids WHERE token = ? AND distinct_id = ?",
            (token, distinct_id)).fetchone()
        if row is None:
            cluster = self.db.execute(
                "INSERT INTO clusters (token, created_ms) VALUES (?, ?)",
                (token, now)).lastrowid
            self.db.execute(
                "INSERT INTO ids (token, distinct_id, cluster_id, "
                "user_evidence, anon_evidence, first_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (token, distinct_id, cluster, int(user), int(anon), now))
            return cluster
        if user or anon:
            self.db.execute(
                "UPDATE ids SET user_evidence = user_evidence | ?, "
                "anon_evidence = anon_evidence | ? "
                "WHERE token = ? AND distinct_id = ?",
                (int(user), int(anon), token, distinct_id))
        return row["cluster_id"]

    def cluster_of(self, token, distinct_id):
        row = self.db.execute(
            "SELECT cluster_id FROM ids WHERE token = ? AND distinct_id = ?",
            (token, distinct_id)).fetchone()
        return row["cluster_id"] if row else None

    def size(self, cluster):
        return self.db.execute("SELECT COUNT(*) FROM ids WHERE cluster_id = ?",
                               (cluster,)).fetchone()[0]

    def identified_member(self, cluster):
        """An id of the cluster with user evidence, or None."""
        row = self.db.execute(
            "SELECT distinct_id FROM ids WHERE cluster_id = ? AND "
            "user_evidence = 1 ORDER BY first_ms, rowid LIMIT 1",
            (cluster,)).fetchone()
        return row["distinct_id"] if row else None

    def is_anonymous_cluster(self, cluster):
        row = self.db.execute(
            "SELECT COUNT(*) FROM ids WHERE cluster_id = ? AND "
            "(user_evidence = 1 OR (anon_evidence = 0 AND "
            "distinct_id NOT LIKE '$device:%'))", (cluster,)).fetchone()
        return row[0] == 0

    def merge(self, keep, gone, now, reason):
        """Move every id of cluster ``gone`` into ``keep``."""
        self.db.execute("UPDATE ids SET cluster_id = ? WHERE cluster_id = ?",
                        (keep, gone))
        kept = self.db.execute("SELECT profile_id FROM clusters WHERE id = ?",
                               (keep,)).fetchone()["profile_id"]
        moved = self.db.execute("SELECT profile_id FROM clusters WHERE id = ?",
                                (gone,)).fetchone()["profile_id"]
        if moved is not None:
            if kept is None and reason == "merge":
                self.db.execute("UPDATE clusters SET profile_id = ? "
                                "WHERE id = ?", (moved, keep))
            else:
                self.orphan_profile(moved, now, reason)
        self.db.execute("DELETE FROM clusters WHERE id = ?", (gone,))

    def orphan_profile(self, profile_id, now, reason):
        text = {
            "anonymous": "set on an anonymous id before it merged into a "
                         "user; Mixpanel does not carry these properties "
                         "over",
            "merge": "its cluster was merged by $merge into one that has a "
                     "profile already; Mixpanel keeps one",
        }[reason]
        self.db.execute(
            "UPDATE profiles SET state = 'orphaned', reason = ?, "
            "updated_ms = ? WHERE id = ?", (text, now, profile_id))

    # -- the log ------------------------------------------------------------

    def log(self, token, op, ids, outcome, reason, endpoint, event_id, now):
        """Record an identity operation; repeated refusals are counted."""
        ids_json = dumps(ids)
        if outcome != "merged":
            row = self.db.execute(
                "SELECT id FROM identity_log WHERE token = ? AND op = ? AND "
                "ids = ? AND outcome = ? AND reason IS ?",
                (token, op, ids_json, outcome, reason)).fetchone()
            if row:
                self.db.execute("UPDATE identity_log SET count = count + 1 "
                                "WHERE id = ?", (row["id"],))
                return
        self.db.execute(
            "INSERT INTO identity_log (received_ms, token, op, ids, outcome, "
            "reason, endpoint, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (now, token, op, ids_json, outcome, reason, endpoint, event_id))
        self.store.bump("identity:%s" % outcome)

    # -- events -------------------------------------------------------------

    def apply_event(self, event, mode, endpoint, auth, event_id, now):
        """Record the ids an event carries and apply its identity effect."""
        token, props = event["token"], event["properties"]
        distinct_id = event["distinct_id"]
        device = props.get("$device_id")
        if distinct_id:
            self.touch(token, distinct_id, now,
                       user=distinct_id == props.get("$user_id"),
                       anon=(distinct_id.startswith("$device:")
                             or (device is not None
                                 and distinct_id == str(device))))
        name = event["event"]
        if mode == "simplified":
            if name in IDENTITY_EVENTS:
                outcome = ("ignored", "%s has no effect with Simplified ID "
                           "Merge" % name)
            elif props.get("$device_id") and props.get("$user_id"):
                name = "link"
                outcome = self.link_device(token, str(props["$user_id"]),
                                           str(props["$device_id"]), now)
            else:
                return
        elif name == "$identify":
            identified, anon = identify_ids(props, distinct_id)
            outcome = self.identify(token, identified, anon, now)
        elif name == "$create_alias":
            outcome = self.alias(token, props.get("distinct_id"),
                                 props.get("alias"), now)
        elif name == "$merge":
            outcome = self.merge_ids(token, props.get("$distinct_ids"),
                                     endpoint, auth, now)
        else:
            return
        if outcome is not None:
            self.log(token, name, identity_ids(name, props), outcome[0],
                     outcome[1], endpoint, event_id, now)

    def identify(self, token, identified, anon, now):
        """Original ``$identify``; returns (outcome, reason).

        The checks and their order are Mixpanel's Identify Criteria; the
        reason names the ``$failure_reason`` Mixpanel gives.  An
        ``$identify`` whose ids are already one cluster is "ignored" (the
        criteria would call a repeat errAnonDistinctIdAssignedAlready, but
        nothing is lost by it).
        """
        if not identified or not anon:
            return "rejected", ("$identify needs $identified_id (or "
                                "distinct_id) and $anon_id (or "
                                "$anon_distinct_id)")
        identified, anon = str(identified), str(anon)
        if identified == anon:
            return "rejected", ("$anon_id equals $identified_id: nothing to "
                                "merge (errSameIDs)")
        if not is_anon_id(anon):
            return "rejected", ("$anon_id %s is not a UUIDv4 (optionally "
                                "prefixed $device:), so Original ID Merge "
                                "does not merge it "
                                "(errAnonDistinctIdNonGUIDForm)" % anon)
        user_cluster = self.touch(token, identified, now, user=True)
        anon_cluster = self.touch(token, anon, now, anon=True)
        if user_cluster == anon_cluster:
            return "ignored", "already merged"
        other = self.identified_member(anon_cluster)
        if other is not None:
            return "rejected", ("$anon_id %s already belongs to another "
                                "user (%s), not to %s "
                                "(errAnonDistinctIdAssignedAlready)"
                                % (anon, other, identified))
        return self.merge_checked(user_cluster, anon_cluster, now,
                                  "anonymous")

    def alias(self, token, distinct_id, alias, now):
        """Original ``$create_alias``; returns (outcome, reason)."""
        if not distinct_id or not alias:
            return "rejected", "$create_alias needs distinct_id and alias"
        distinct_id, alias = str(distinct_id), str(alias)
        if distinct_id == alias:
            return "ignored", "alias equals distinct_id"
        target = self.touch(token, distinct_id, now)
        existing = self.cluster_of(token, alias)
        if existing == target:
            return "ignored", "already merged"
        if existing is not None and self.size(existing) > 1:
            return "rejected", ("the alias already belongs to another "
                                "cluster (an alias maps to one distinct_id)")
        source = existing or self.touch(token, alias, now)
        return self.merge_checked(target, source, now, self.kind_of(source))

    def merge_ids(self, token, distinct_ids, endpoint, auth, now):
        """Original ``$merge``; returns (outcome, reason)."""
        if endpoint != "/import" or auth not in ("secret", "service_account"):
            return "rejected", ("$merge is only accepted through /import "
                                "authenticated with the API secret or a "
                                "service account")
        if (not isinstance(distinct_ids, list) or len(distinct_ids) != 2
                or not all(distinct_ids)):
            return "rejected", "$merge needs $distinct_ids: two ids"
        keep = self.touch(token, str(distinct_ids[0]), now)
        gone = self.touch(token, str(distinct_ids[1]), now)
        if keep == gone:
            return "ignored", "already merged"
        if (self.identified_member(keep) is None
                and self.identified_member(gone) is not None):
            keep, gone = gone, keep
        return self.merge_checked(keep, gone, now, self.kind_of(gone))

    def link_device(self, token, user_id, device_id, now):
        """Simplified: an event with both $device_id and $user_id.

        Returns (outcome, reason), or None when already linked.
        """
        user_cluster = self.touch(token, user_id, now, user=True)
        device_cluster = self.touch(token, "$device:" + device_id, now,
                                    anon=True)
        if user_cluster == device_cluster:
            return None
        other = self.identified_member(device_cluster)
        if other is not None:
            return "rejected", ("the device is already merged with another "
                                "$user_id (%s): one user id per cluster"
                                % other)
        self.merge(user_cluster, device_cluster, now, "anonymous")
        return "merged", None

    def merge_checked(self, keep, gone, now, reason):
        """Merge unless the cluster would pass Original's 500-id cap."""
        if self.size(keep) + self.size(gone) > CLUSTER_LIMIT:
            return "rejected", ("the cluster would exceed %d ids "
                                "(errManyIDs)" % CLUSTER_LIMIT)
        self.merge(keep, gone, now, reason)
        return "merged", None

    def kind_of(self, cluster):
        """How a merged-away cluster's profile is treated (see merge)."""
        return "anonymous" if self.is_anonymous_cluster(cluster) else "merge"


def identify_ids(props, distinct_id):
    """(identified, anon) of an ``$identify``: ``$identified_id`` and
    ``$anon_id`` as Mixpanel documents them, else mixpanel-js's (and the
    mobile SDKs') ``distinct_id`` and ``$anon_distinct_id``."""
    identified = props.get("$identified_id")
    if identified in (None, ""):
        identified = distinct_id
    anon = props.get("$anon_id")
    if anon in (None, ""):
        anon = props.get("$anon_distinct_id")
    return identified, anon


def identity_ids(name, props):
    """The ids an identity operation names, for the log."""
    if name == "$identify":
        identified, anon = identify_ids(props, props.get("distinct_id"))
        return {"$identified_id": identified, "$anon_id": anon}
    keys = {"$create_alias": ("distinct_id", "alias"),
            "$merge": ("$distinct_ids",),
            "link": ("$user_id", "$device_id")}[name]
    return {key: props.get(key) for key in keys}


def load_clusters(db, token=None):
    """All clusters as {cluster_id: [id rows]}, ids in first-seen order."""
    sql = "SELECT * FROM ids"
    args = ()
    if token is not None:
        sql += " WHERE token = ?"
        args = (token,)
    clusters = {}
    for row in db.execute(sql + " ORDER BY first_ms, rowid", args):
        clusters.setdefault(row["cluster_id"], []).append(dict(row))
    return clusters


def id_role(row):
    """'user', 'anonymous' or 'unknown' (an id no event explained)."""
    if row["user_evidence"]:
        return "user"
    if row["anon_evidence"] or row["distinct_id"].startswith("$device:"):
        return "anonymous"
    return "unknown"


def canonical_id(rows):
    """The id the emulator shows for a cluster.

    Mixpanel picks any id of an Original cluster; the emulator shows the
    first identified id, then the first id that is not anonymous, then the
    first id.
    """
    for role in ("user", "unknown"):
        for row in rows:
            if id_role(row) == role:
                return row["distinct_id"]
    return rows[0]["distinct_id"] if rows else None


def cluster_kind(rows):
    if any(id_role(row) != "anonymous" for row in rows):
        return "user"
    return "anonymous"


def parse_ids(text):
    return json.loads(text) if text else None
