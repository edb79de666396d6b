"""The ingestion endpoints: /track, /import, /engage, /groups.

``Emulator.handle`` takes one parsed HTTP request and returns the answer
Mixpanel would give, storing what Mixpanel would keep.  Every request is also
kept raw (the ``requests`` table) for the query API.
"""

import base64
import binascii
import json

from . import payload
from .identity import Identity
from .payload import Failure, PayloadError, flag
from .profiles import Profiles
from .store import dumps, now_ms

ENDPOINTS = ("/track", "/import", "/engage", "/groups")
RECORD_TEXT_LIMIT = 8192


class Settings:
    """How the emulated project is configured (see ``serve --help``)."""

    def __init__(self, identity="original", identity_by_token=None,
                 tokens=(), secrets=(), service_accounts=(),
                 max_body_bytes=payload.MAX_BODY_BYTES,
                 failed_insert_id_key="$insert_id", max_requests=100000,
                 projects=None):
        self.identity = identity
        self.identity_by_token = dict(identity_by_token or {})
        self.tokens = frozenset(tokens)
        self.secrets = frozenset(secrets)
        self.service_accounts = frozenset(service_accounts)
        self.max_body_bytes = max_body_bytes
        self.failed_insert_id_key = failed_insert_id_key
        self.max_requests = max_requests
        # project_id -> its token (--project); other projects are learned
        # from the first events a service account files under them
        self.projects = dict(projects or {})

    def mode_for(self, token):
        return self.identity_by_token.get(token, self.identity)

    @property
    def sole_token(self):
        return next(iter(self.tokens)) if len(self.tokens) == 1 else ""


class Request:
    """One HTTP request as the server read it."""

    def __init__(self, method, path, query, headers, body, client_ip,
                 received_ms=None):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers          # case-insensitive .get()
        self.body = body                # bytes as received (maybe gzip)
        self.client_ip = client_ip
        self.received_ms = received_ms or now_ms()
        self.decoded = None             # body without Content-Encoding
        self.error = None               # PayloadError from decoding


class Answer:
    """An HTTP answer: status, body text, content type, extra headers."""

    def __init__(self, status, body, content_type="application/json",
                 headers=None, header_case=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}
        self.header_case = header_case   # None, "lower" or "upper"


def json_answer(status, value, headers=None):
    return Answer(status, json.dumps(value), headers=headers)


def strict_error(status, message):
    names = {400: "Bad Request", 401: "Unauthorized", 413:
             "Request Entity Too Large", 415: "Unsupported Media Type"}
    return json_answer(status, {"code": status, "error": message,
                                "status": names.get(status, "Error")})


def legacy_answer(params, ok, error=None, partial=False):
    """/track and /engage answers: ``1``/``0`` or the verbose JSON.

    ``partial``: a success whose verbose answer still says what failed
    (/engage with some invalid updates).
    """
    if flag(params, "verbose"):
        body = json.dumps({"status": 1 if ok else 0,
                           "error": error if not ok or partial else None})
        content_type = "application/json"
    else:
        body = "1" if ok else "0"
        content_type = "text/plain"
    callback = params.get("callback")
    if callback:
        return Answer(200, "%s(%s)" % (callback, body), "text/javascript")
    return Answer(200, body, content_type)


class Auth:
    """The outcome of /import authentication."""

    def __init__(self, ok, kind=None, token=None, hint=""):
        self.ok = ok
        self.kind = kind        # token, secret, service_account, api_key
        self.token = token      # the project, when the credentials name it
        self.hint = hint        # the project for events that carry no token
        self.project_id = None  # a service account's project_id


def basic_credentials(headers):
    value = headers.get("Authorization") or ""
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
        user, _, password = decoded.decode("utf-8").partition(":")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return user, password


class Emulator:
    """The emulated Mixpanel project(s): endpoints over a Store."""

    def __init__(self, store, settings):
        self.store = store
        self.settings = settings
        self.identity = Identity(store)
        self.profiles = Profiles(store, self.identity)
        self.known_projects = set()

    def reset(self):
        """Forget everything received (POST /_emulator/reset)."""
        with self.store.write():
            self.store.reset()
            self.known_projects.clear()

    # -- requests -----------------------------------------------------------

    def handle(self, request, fault=None, ingest=True, replace=False,
               replacement=None):
        """Keep a request and answer it; returns the Answer sent.

        With ``ingest`` the request is handled as Mixpanel would; with
        ``replace`` a fault's ``replacement`` (None: no answer at all) is
        what the client gets instead.
        """
        self.decode(request)
        with self.store.write():
            request_id = self.log_request(request, fault)
            answer = self.dispatch(request, request_id) if ingest else None
            if replace:
                answer = replacement
            self.finish_request(request_id, request.path,
                                answer.status if answer else None,
                                answer.body if answer else None)
        return answer

    def dispatch(self, request, request_id):
        handler = {"/track": self.track, "/import": self.import_,
                   "/engage": self.engage, "/groups": self.groups}
        return handler[request.path](request, request_id)

    def decode(self, request):
        """Undo the Content-Encoding once, within the body size limit."""
        try:
            request.decoded = payload.decode_body(
                request.body, request.headers, self.settings.max_body_bytes)
            request.error = None
        except PayloadError as exc:
            request.decoded, request.error = None, exc

    def log_request(self, request, fault):
        """Keep the request as received (the body decoded when it could
        be) for /_emulator/requests."""
        if request.error is None:
            body, body_error = request.decoded, None
        else:
            body, body_error = request.body, request.error.message
        headers = {}
        for name, value in request.headers.items():
            headers[name] = (headers[name] + ", " + value
                             if name in headers else value)
        request_id = self.store.db.execute(
            "INSERT INTO requests (received_ms, client, method, path, query, "
            "headers, body, body_error, fault) VALUES (?,?,?,?,?,?,?,?,?)",
            (request.received_ms, request.client_ip, request.method,
             request.path, request.query, dumps(headers), body, body_error,
             dumps(fault) if fault else None)).lastrowid
        self.store.bump("requests")
        self.store.bump("requests:%s" % request.path)
        if fault:
            self.store.bump("faulted:%s" % request.path)
        limit = self.settings.max_requests
        if limit and request_id % 100 == 0:
            self.store.db.execute("DELETE FROM requests WHERE id <= ?",
                                  (request_id - limit,))
        return request_id

    def finish_request(self, request_id, path, status, response):
        self.store.db.execute(
            "UPDATE requests SET status = ?, response = ? WHERE id = ?",
            (status, response, request_id))
        self.store.bump("status:%s:%s" % (path, status or "none"))

    def read_records(self, request):
        """Decoded records and parameters; raises PayloadError."""
        if request.error is not None:
            raise request.error
        limit = self.settings.max_body_bytes
        if len(request.decoded) > limit:
            raise PayloadError(413, "request exceeds max limit of %d bytes"
                               % limit)
        records, params = payload.extract_records(
            request.method, request.headers, request.query, request.decoded)
        if len(records) > payload.MAX_RECORDS:
            raise PayloadError(413, "request exceeds max limit of %d records "
                               "(it has %d)" % (payload.MAX_RECORDS,
                                                len(records)))
        return records, params

    # -- /track -------------------------------------------------------------

    def track(self, request, request_id):
        params = payload.parse_params(request.query)
        try:
            records, params = self.read_records(request)
        except PayloadError as exc:
            if exc.status == 413:
                return strict_error(413, exc.message)
            self.reject(request_id, "/track", None, None, "", exc.message)
            return legacy_answer(params, False, exc.message)
        if not records:
            message = "no data: the request holds no event"
            self.reject(request_id, "/track", None, None, "", message)
            return legacy_answer(params, False, message)
        ctx = payload.EventContext(
            "/track", request.received_ms, self.settings.mode_for,
            client_ip=request.client_ip,
            use_request_ip=flag(params, "ip"),
            allowed_tokens=self.settings.tokens,
            ip_param=params.get("ip"))
        _, failures = self.ingest_events(records, ctx, request_id, None)
        # Mixpanel answers 1 when at least one event is well-formed, even
        # one it then drops for being older than five days.
        visible = [failure for _, failure in failures if not failure.silent]
        if len(visible) < len(records):
            return legacy_answer(params, True)
        return legacy_answer(params, False, visible[0].message)

    # -- /import ------------------------------------------------------------

    def import_(self, request, request_id):
        params = payload.parse_params(request.query)
        auth = self.authenticate(request.headers, params)
        if not auth.ok:
            self.reject(request_id, "/import", None, None, "Authorization",
                        "invalid credentials")
            return strict_error(401, "Invalid credentials")
        try:
            records, params = self.read_records(request)
        except PayloadError as exc:
            self.reject(request_id, "/import", None, None, "", exc.message)
            return strict_error(exc.status, exc.message)
        strict = flag(params, "strict")
        token = auth.token
        if auth.kind == "service_account":
            # Mixpanel files a service account's events under the project
            # its project_id names, whatever token each event carries.
            auth.project_id = params["project_id"]
            token = self.project_token(auth.project_id, records)
        ctx = payload.EventContext(
            "/import", request.received_ms, self.settings.mode_for,
            strict=strict, token=token,
            default_token=auth.hint or self.settings.sole_token,
            ip_param=params.get("ip"))
        stored, failures = self.ingest_events(records, ctx, request_id,
                                              auth.kind, auth.project_id)
        imported = len(records) - len(failures)
        if not strict:
            return legacy_answer(params, imported > 0 or not records,
                                 failures[0][1].message if failures else None)
        if not failures:
            return json_answer(200, {"code": 200,
                                     "num_records_imported": imported,
                                     "status": "OK"})
        key = self.settings.failed_insert_id_key
        failed = [{"index": index, key: payload.record_insert_id(
            records[index]), "field": failure.field,
            "message": failure.message} for index, failure in failures]
        return json_answer(400, {
            "code": 400,
            "error": "some data points in the request failed validation",
            "status": "Bad Request", "num_records_imported": imported,
            "failed_records": failed})

    def authenticate(self, headers, params):
        """Check /import credentials.

        Each kind is checked only when the settings name some: any token
        unless --token, any service account unless --service-account; a
        Basic user that is a --secret authenticates as the API secret.
        """
        settings = self.settings
        credentials = basic_credentials(headers)
        if credentials is None:
            key = params.get("api_key")
            if key and (not settings.secrets or key in settings.secrets):
                return Auth(True, "api_key")
            return Auth(False)
        user, password = credentials
        if params.get("project_id"):
            account = (user, password, params["project_id"])
            if settings.service_accounts:
                return Auth(account in settings.service_accounts,
                            "service_account")
            return Auth(bool(user and password), "service_account")
        if user in settings.secrets:
            return Auth(True, "secret")
        if settings.tokens:
            return Auth(user in settings.tokens, "token", user)
        # Any token is accepted; the events' own token names the project,
        # the credentials only when an event has none.
        return Auth(bool(user), "token", hint=user)

    def project_token(self, project_id, records):
        """The token of project ``project_id`` (the key the emulator files
        a project's data under): declared with --project, else learned,
        else the first token of these events that belongs to no other
        project (so one project, one token), else ``project:<id>``."""
        declared = self.settings.projects.get(project_id)
        if declared:
            return declared
        db = self.store.db
        row = db.execute("SELECT token FROM projects WHERE project_id = ? "
                         "ORDER BY first_ms LIMIT 1", (project_id,)).fetchone()
        if row is not None:
            return row["token"]
        taken = set(self.settings.projects.values())
        taken.update(row["token"] for row in db.execute(
            "SELECT token FROM projects WHERE project_id IS NOT NULL"))
        for record in records:
            props = record.get("properties") if isinstance(record,
                                                           dict) else None
            token = props.get("token") if isinstance(props, dict) else None
            if isinstance(token, str) and token and token not in taken:
                return token
        return "project:%s" % project_id

    # -- events -------------------------------------------------------------

    def ingest_events(self, records, ctx, request_id, auth_kind,
                      project_id=None):
        """Validate and store events; returns (stored, [(index, Failure)])."""
        stored, failures = 0, []
        endpoint = ctx.endpoint
        for index, record in enumerate(records):
            self.store.bump("events:received:%s" % endpoint)
            try:
                event = payload.normalize_event(record, ctx)
            except Failure as failure:
                failures.append((index, failure))
                self.reject_record(request_id, endpoint, index, record,
                                   failure)
                continue
            if self.store_event(event, endpoint, request_id, auth_kind,
                                ctx.now, project_id):
                stored += 1
        return stored, failures

    def store_event(self, event, endpoint, request_id, auth_kind, now,
                    project_id=None):
        """Keep an event unless it duplicates one; True when it is new."""
        db = self.store.db
        self.register_project(event["token"], now, project_id)
        key = (event["token"], event["event"], event["distinct_id"],
               event["time_ms"], event["insert_id"])
        if event["truncated"]:
            self.store.bump("strings_truncated", len(event["truncated"]))
        row = db.execute(
            "SELECT id FROM events WHERE token = ? AND event = ? AND "
            "distinct_id = ? AND time_ms = ? AND insert_id = ?",
            key).fetchone()
        if row is not None:
            # Mixpanel shows the most recent version of a duplicate.
            db.execute(
                "UPDATE events SET receipts = receipts + 1, last_ms = ?, "
                "properties = ?, geo = ? WHERE id = ?",
                (now, dumps(event["properties"]), event["geo"], row["id"]))
            self.store.bump("events:duplicate:%s" % endpoint)
            return False
        event_id = db.execute(
            "INSERT INTO events (token, event, distinct_id, time_ms, "
            "insert_id, generated_insert_id, properties, endpoint, "
            "request_id, received_ms, last_ms, truncated, geo) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            key + (int(event["generated_insert_id"]),
                   dumps(event["properties"]), endpoint, request_id, now,
                   now, dumps(event["truncated"]) if event["truncated"]
                   else None, event["geo"])).lastrowid
        self.store.bump("events:stored:%s" % endpoint)
        self.identity.apply_event(event, self.settings.mode_for(
            event["token"]), endpoint, auth_kind, event_id, now)
        return True

    def register_project(self, token, now, project_id=None):
        if project_id is None:
            for declared, owner in self.settings.projects.items():
                if owner == token:
                    project_id = declared
        if (token, project_id) in self.known_projects:
            return
        self.known_projects.add((token, project_id))
        self.store.db.execute(
            "INSERT INTO projects (token, identity, first_ms, project_id) "
            "VALUES (?,?,?,?) ON CONFLICT (token) DO UPDATE SET "
            "identity = excluded.identity, "
            "project_id = COALESCE(project_id, excluded.project_id)",
            (token, self.settings.mode_for(token), now, project_id))

    def reject_record(self, request_id, endpoint, index, record, failure):
        props = record.get("properties") if isinstance(record, dict) else None
        props = props if isinstance(props, dict) else {}
        token = props.get("token", props.get("$token"))
        if isinstance(record, dict) and "$token" in record:
            token = record["$token"]
        distinct_id = props.get("distinct_id")
        if isinstance(record, dict) and "$distinct_id" in record:
            distinct_id = record["$distinct_id"]
        kind = "dropped" if failure.silent else "rejected"
        self.store.bump("events:%s:%s" % (kind, endpoint)
                        if endpoint in ("/track", "/import")
                        else "%s:errors" % endpoint.strip("/"))
        self.reject(request_id, endpoint, index, record, failure.field,
                    failure.message, token, payload.record_insert_id(record),
                    distinct_id)

    def reject(self, request_id, endpoint, index, record, field, message,
               token=None, insert_id=None, distinct_id=None):
        text = None
        if record is not None:
            text = dumps(record)
            if len(text) > RECORD_TEXT_LIMIT:
                text = text[:RECORD_TEXT_LIMIT] + "..."
        self.store.db.execute(
            "INSERT INTO rejections (received_ms, request_id, endpoint, "
            "token, idx, insert_id, distinct_id, field, message, record) "
            "VALUES (?,?,?,?,?,?,?,?,?,?)",
            (now_ms(), request_id, endpoint, as_text(token), index,
             as_text(insert_id), as_text(distinct_id), field, message, text))

    # -- /engage and /groups ------------------------------------------------

    def engage(self, request, request_id):
        return self.profile_updates(request, request_id, groups=False)

    def groups(self, request, request_id):
        return self.profile_updates(request, request_id, groups=True)

    def profile_updates(self, request, request_id, groups):
        endpoint = request.path
        params = payload.parse_params(request.query)
        encoding = (request.headers.get("Content-Encoding") or "").strip()
        if not groups and encoding.lower() in ("gzip", "x-gzip"):
            # profile-set.mdx: "This API does not support gzip encoding."
            # What Mixpanel answers is undocumented; /engage answers 200
            # with the error in the body for everything else it refuses.
            message = "This API does not support gzip encoding"
            self.reject(request_id, endpoint, None, None,
                        "Content-Encoding", message)
            return legacy_answer(params, False, message)
        try:
            records, params = self.read_records(request)
        except PayloadError as exc:
            if exc.status == 413:
                return strict_error(413, exc.message)
            self.reject(request_id, endpoint, None, None, "", exc.message)
            return legacy_answer(params, False, exc.message)
        if not records:
            message = "no data: the request holds no update"
            self.reject(request_id, endpoint, None, None, "", message)
            return legacy_answer(params, False, message)
        errors = []
        for index, record in enumerate(records):
            error = self.profile_update(record, index, groups, request_id,
                                        request.received_ms,
                                        params.get("ip"))
            if error:
                errors.append("update %d: %s" % (index, error))
        # "1 - One or more objects provided are valid", "0 - No data
        # objects in the body are valid" (the ingestion API's Received).
        if len(errors) == len(records):
            return legacy_answer(params, False, "; ".join(errors))
        return legacy_answer(params, True, "; ".join(errors) or None,
                             partial=True)

    def profile_update(self, record, index, groups, request_id, now,
                       ip_param=None):
        """Validate and apply one update; returns an error text or None."""
        endpoint = "/groups" if groups else "/engage"
        name = endpoint.strip("/")
        self.store.bump("%s:updates" % name)
        update = None
        try:
            update = payload.normalize_update(record, groups,
                                              self.settings.tokens, now,
                                              ip_param)
            self.register_project(update["token"], now)
            if groups:
                profile_id = None
                self.profiles.apply_group(update, now)
            else:
                profile_id = self.profiles.apply(update, now)
        except Failure as failure:
            self.reject_record(request_id, endpoint, index, record, failure)
            if not groups:
                self.log_update(request_id, update, record, None,
                                failure.message, now)
            return failure.message
        self.store.bump("%s:applied" % name)
        if update.get("out_of_order"):
            self.store.bump("%s:out_of_order" % name)
        if not groups:
            self.log_update(request_id, update, record, profile_id, None, now)
        return None

    def log_update(self, request_id, update, record, profile_id, error, now):
        update = update or {}
        self.store.db.execute(
            "INSERT INTO profile_updates (received_ms, request_id, token, "
            "distinct_id, profile_id, operation, payload, error, time_ms, "
            "geo, out_of_order) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (now, request_id, update.get("token"), update.get("distinct_id"),
             profile_id, update.get("operation"), dumps(record), error,
             update.get("time_ms"), update.get("geo"),
             int(bool(update.get("out_of_order")))))


def as_text(value):
    if value is None or isinstance(value, str):
        return value
    return dumps(value)
