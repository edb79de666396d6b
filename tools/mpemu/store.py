"""SQLite storage shared by every request thread.

One connection, one re-entrant lock.  Every read and write happens with the
lock held, so a request's validation, de-duplication and identity changes are
one atomic step, and long-polling readers are woken through the condition
variable whenever a write transaction commits.
"""

import contextlib
import json
import os
import sqlite3
import threading
import time
import urllib.parse

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    token       TEXT PRIMARY KEY,
    identity    TEXT NOT NULL,
    first_ms    INTEGER NOT NULL,
    project_id  TEXT
);
CREATE TABLE IF NOT EXISTS requests (
    id          INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    client      TEXT,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    query       TEXT NOT NULL,
    headers     TEXT NOT NULL,
    body        BLOB,
    body_error  TEXT,
    status      INTEGER,
    response    TEXT,
    fault       TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY,
    token       TEXT NOT NULL,
    event       TEXT NOT NULL,
    distinct_id TEXT NOT NULL,
    time_ms     INTEGER NOT NULL,
    insert_id   TEXT NOT NULL,
    generated_insert_id INTEGER NOT NULL DEFAULT 0,
    properties  TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    request_id  INTEGER,
    received_ms INTEGER NOT NULL,
    last_ms     INTEGER NOT NULL,
    receipts    INTEGER NOT NULL DEFAULT 1,
    truncated   TEXT,
    geo         TEXT,
    UNIQUE (token, event, distinct_id, time_ms, insert_id)
);
CREATE INDEX IF NOT EXISTS events_distinct ON events (token, distinct_id);
CREATE INDEX IF NOT EXISTS events_insert ON events (insert_id);
CREATE TABLE IF NOT EXISTS rejections (
    id          INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    request_id  INTEGER,
    endpoint    TEXT NOT NULL,
    token       TEXT,
    idx         INTEGER,
    insert_id   TEXT,
    distinct_id TEXT,
    field       TEXT,
    message     TEXT NOT NULL,
    record      TEXT
);
CREATE TABLE IF NOT EXISTS clusters (
    id          INTEGER PRIMARY KEY,
    token       TEXT NOT NULL,
    profile_id  INTEGER,
    created_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ids (
    token       TEXT NOT NULL,
    distinct_id TEXT NOT NULL,
    cluster_id  INTEGER NOT NULL,
    user_evidence INTEGER NOT NULL DEFAULT 0,
    anon_evidence INTEGER NOT NULL DEFAULT 0,
    first_ms    INTEGER NOT NULL,
    PRIMARY KEY (token, distinct_id)
);
CREATE INDEX IF NOT EXISTS ids_cluster ON ids (cluster_id);
CREATE TABLE IF NOT EXISTS identity_log (
    id          INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    token       TEXT NOT NULL,
    op          TEXT NOT NULL,
    ids         TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    endpoint    TEXT,
    event_id    INTEGER,
    count       INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS profiles (
    id          INTEGER PRIMARY KEY,
    token       TEXT NOT NULL,
    distinct_id TEXT NOT NULL,
    properties  TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    last_ip     TEXT,
    updates     INTEGER NOT NULL DEFAULT 0,
    last_seen_ms INTEGER,
    max_time_ms INTEGER
);
CREATE TABLE IF NOT EXISTS profile_ops (
    id          INTEGER PRIMARY KEY,
    profile_id  INTEGER NOT NULL,
    time_ms     INTEGER NOT NULL,
    operation   TEXT NOT NULL,
    value       TEXT
);
CREATE INDEX IF NOT EXISTS profile_ops_profile ON profile_ops (profile_id);
CREATE TABLE IF NOT EXISTS profile_updates (
    id          INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    request_id  INTEGER,
    token       TEXT,
    distinct_id TEXT,
    profile_id  INTEGER,
    operation   TEXT,
    payload     TEXT,
    error       TEXT,
    time_ms     INTEGER,
    geo         TEXT,
    out_of_order INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS groups (
    token       TEXT NOT NULL,
    group_key   TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    properties  TEXT NOT NULL,
    state       TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (token, group_key, group_id)
);
CREATE TABLE IF NOT EXISTS counters (
    name        TEXT PRIMARY KEY,
    value       INTEGER NOT NULL
);
"""

TABLES = ("projects", "requests", "events", "rejections", "clusters", "ids",
          "identity_log", "profiles", "profile_ops", "profile_updates",
          "groups", "counters")

# Columns added after the first release: a database file written by an
# older emulator gets them when it is opened for writing.
ADDED_COLUMNS = (
    ("projects", "project_id", "TEXT"),
    ("events", "geo", "TEXT"),
    ("profiles", "last_seen_ms", "INTEGER"),
    ("profiles", "max_time_ms", "INTEGER"),
    ("profile_updates", "time_ms", "INTEGER"),
    ("profile_updates", "geo", "TEXT"),
    ("profile_updates", "out_of_order", "INTEGER NOT NULL DEFAULT 0"),
)


def now_ms():
    """Current wall-clock time in integer milliseconds."""
    return int(time.time() * 1000)


def dumps(value):
    """Compact JSON that keeps non-ASCII text readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Store:
    """The emulator's database and the lock around it."""

    def __init__(self, path=":memory:", readonly=False):
        self.path = path
        if readonly:
            uri = "file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(path))
            self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self.db = sqlite3.connect(path, check_same_thread=False,
                                      isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.cond = threading.Condition(threading.RLock())
        self.depth = 0          # write() nesting, guarded by cond
        if not readonly:
            if path != ":memory:":
                self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=OFF")
            self.add_columns()
            self.db.executescript(SCHEMA)

    def add_columns(self):
        """Bring the tables of an older database file up to date."""
        for table, column, declaration in ADDED_COLUMNS:
            names = [row[1] for row in self.db.execute(
                "PRAGMA table_info(%s)" % table)]
            if names and column not in names:
                self.db.execute("ALTER TABLE %s ADD COLUMN %s %s"
                                % (table, column, declaration))

    def close(self):
        with self.cond:
            self.db.close()

    @contextlib.contextmanager
    def write(self):
        """One atomic write transaction; wakes long-polling readers.

        Nested calls join the outer transaction.
        """
        with self.cond:
            if self.depth:
                self.depth += 1
                try:
                    yield self.db
                finally:
                    self.depth -= 1
                return
            self.db.execute("BEGIN IMMEDIATE")
            self.depth = 1
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")
                self.cond.notify_all()
            finally:
                self.depth = 0

    @contextlib.contextmanager
    def read(self):
        with self.cond:
            yield self.db

    def wait_until(self, predicate, timeout):
        """Call predicate() under the lock until it is true or time is up.

        Returns the last value predicate() returned.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self.cond:
            while True:
                value = predicate()
                remaining = deadline - time.monotonic()
                if value or remaining <= 0:
                    return value
                self.cond.wait(remaining)

    def notify(self):
        with self.cond:
            self.cond.notify_all()

    def reset(self):
        """Forget everything received so far."""
        with self.write() as db:
            for table in TABLES:
                db.execute("DELETE FROM %s" % table)

    def bump(self, name, amount=1):
        """Add to a named counter (call inside write())."""
        if amount:
            self.db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + ?",
                (name, amount, amount))

    def counters(self):
        with self.read() as db:
            rows = db.execute("SELECT name, value FROM counters").fetchall()
        return {row["name"]: row["value"] for row in rows}
