"""Request bodies and Mixpanel's validation rules.

Everything here is pure: bytes and dicts in, records or failures out.  The
numbers and messages follow Mixpanel's ingestion documentation (import-events,
track-event, the ingestion OpenAPI description); see ../shared/MIXPANEL.md.
"""

import base64
import binascii
import hashlib
import ipaddress
import json
import re
import urllib.parse
import uuid
import zlib

BANNED_IDS = frozenset((
    "00000000-0000-0000-0000-000000000000", "anon", "anonymous", "nil",
    "none", "null", "n/a", "na", "undefined", "unknown", "<nil>", "0", "-1",
    "true", "false", "[]", "{}",
))

MAX_RECORDS = 2000                  # events or updates per request
MAX_BODY_BYTES = 2 * 1024 * 1024    # uncompressed request body
MAX_EVENT_BYTES = 1024 * 1024       # one event, as JSON
MAX_UPDATE_BYTES = 1024 * 1024      # one profile update: at most 1 MB
MAX_PROPERTIES = 255                # an event has *fewer* than this
MAX_COLLECTION = 255                # nested keys / array items: fewer than
MAX_DEPTH = 3                       # nesting of objects and arrays
MAX_STRING_BYTES = 255
MIN_TIME_MS = 31536000 * 1000       # 1971-01-01T00:00:00Z
FUTURE_MS = 3600 * 1000             # more than 1 hour ahead is refused
TRACK_WINDOW_MS = 5 * 86400 * 1000  # /track keeps the last 5 days only
SECONDS_BELOW = 10 ** 11            # a smaller time is in seconds

INSERT_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,36}$")
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                      r"[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE)
# An Original-mode $anon_id: a UUIDv4 in any letter case (the iOS SDK's
# are upper case), optionally with the "$device:" prefix the SDKs give
# their anonymous distinct_id since 2023 (mixpanel-php: "UUID v4 format
# (optionally with the prefix '$device:')").
ANON_ID_RE = re.compile(r"^(?:\$device:)?"
                        r"(?i:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                        r"[89ab][0-9a-f]{3}-[0-9a-f]{12})$")

# mixpanel-browser 2.83's BLOCKED_UA_STRS: it never tracks a User-Agent
# that contains one of these (lower-cased) substrings.
BLOCKED_UA_STRS = (
    "ahrefsbot", "ahrefssiteaudit", "amazonbot", "baiduspider", "bingbot",
    "bingpreview", "chrome-lighthouse", "facebookexternal", "petalbot",
    "pinterest", "screaming frog", "yahoo! slurp", "yandex",
    "adsbot-google", "apis-google", "duplexweb-google", "feedfetcher-google",
    "google favicon", "google web preview", "google-read-aloud", "googlebot",
    "googleweblight", "mediapartners-google", "storebot-google",
)
# Event properties that may carry the client's User-Agent (compared with
# "$", "_" and "-" removed, lower case); the module sends none by default.
UA_PROPERTY_NAMES = ("useragent", "httpuseragent", "ua")

# How Mixpanel would place a record on the map (the "geo" of events and
# profile updates):
#   ip       located by the record's own ip / $ip address
#   skipped  ip / $ip "0", or the request's ip=0: no geolocation
#   manual   $latitude and $longitude, or city, region and country given
#   request  /track?ip=1: the client asked to be located by its address
#   sender   none of these: located at the address of whoever sent the
#            request (a server, when the sender is a proxy like nginx)
GEO_IP, GEO_SKIPPED, GEO_MANUAL, GEO_REQUEST, GEO_SENDER = (
    "ip", "skipped", "manual", "request", "sender")

PEOPLE_OPERATIONS = ("$set", "$set_once", "$add", "$append", "$union",
                     "$remove", "$unset", "$delete")
GROUP_OPERATIONS = ("$set", "$set_once", "$union", "$remove", "$unset",
                    "$delete")
IDENTITY_EVENTS = ("$identify", "$create_alias", "$merge")


class PayloadError(Exception):
    """The request as a whole cannot be used (bad encoding, too large...)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Failure(Exception):
    """One record failed validation.

    ``silent`` marks a record Mixpanel drops while still answering success
    (an event older than five days sent to /track).
    """

    def __init__(self, field, message, silent=False):
        super().__init__(message)
        self.field = field
        self.message = message
        self.silent = silent


def is_banned(value):
    return str(value).strip().lower() in BANNED_IDS


def is_uuid4(value):
    return isinstance(value, str) and bool(UUID4_RE.match(value))


def is_anon_id(value):
    """Original ID Merge's test of an $anon_id (see ANON_ID_RE)."""
    return isinstance(value, str) and bool(ANON_ID_RE.match(value))


def is_ip_address(value):
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return True


def is_zero_ip(value):
    """``0`` or ``"0"``: Mixpanel skips geolocation."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value == 0
    return isinstance(value, str) and value.strip() == "0"


def geolocation(ip, manual, ip_param, endpoint):
    """Where Mixpanel would locate a record (one of the GEO_ values).

    ``ip`` is the record's ``ip`` / ``$ip`` (None when absent), ``manual``
    whether it carries its own location, ``ip_param`` the request's
    ``ip=`` parameter (query or form).  An ``ip`` that is neither an
    address nor "0" counts as absent (Mixpanel's docs do not say what it
    does with one; it cannot be located by it).
    """
    if ip is not None:
        if is_zero_ip(ip):
            return GEO_SKIPPED
        if is_ip_address(ip):
            return GEO_IP
    if manual:
        return GEO_MANUAL
    if ip_param is not None and ip_param.strip() == "0":
        return GEO_SKIPPED
    if endpoint == "/track" and ip_param is not None and \
            ip_param.strip() == "1":
        return GEO_REQUEST
    return GEO_SENDER


def has_coordinates(holder):
    return all(isinstance(holder.get(key), (int, float))
               and not isinstance(holder.get(key), bool)
               for key in ("$latitude", "$longitude"))


def event_geo(props, ctx):
    manual = has_coordinates(props) or all(
        props.get(key) not in (None, "")
        for key in ("$city", "$region", "mp_country_code"))
    return geolocation(props.get("ip"), manual, ctx.ip_param, ctx.endpoint)


def update_geo(record, ip_param):
    values = record.get("$set")
    values = values if isinstance(values, dict) else {}
    manual = has_coordinates(record) or all(
        values.get(key) not in (None, "")
        for key in ("$city", "$region", "$country_code"))
    return geolocation(record.get("$ip"), manual, ip_param, "/engage")


def crawler_match(props):
    """The blocked-list string a User-Agent property of the event
    contains (as mixpanel-browser's _.isBlockedUA), or None."""
    for key, value in props.items():
        name = key.lower().lstrip("$").replace("_", "").replace("-", "")
        if name in UA_PROPERTY_NAMES and isinstance(value, str):
            agent = value.lower()
            for blocked in BLOCKED_UA_STRS:
                if blocked in agent:
                    return blocked
    return None


# -- request bodies ---------------------------------------------------------

def gunzip(body, limit):
    """Decompress a gzip body, refusing more than ``limit`` bytes of output."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise PayloadError(400, "unable to decompress gzip body: %s" % exc)
    if len(data) > limit or inflater.unconsumed_tail:
        raise PayloadError(413, "request exceeds max limit of %d bytes"
                           % limit)
    return data


def decode_body(body, headers, limit):
    """The request body as sent before any Content-Encoding."""
    encoding = (headers.get("Content-Encoding") or "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return gunzip(body, limit)
    if encoding not in ("", "identity"):
        raise PayloadError(415, "unsupported Content-Encoding %r" % encoding)
    return body


def parse_params(query, form=""):
    """Query string (and form body) parameters, last value wins."""
    params = {}
    for source in (query, form):
        for key, value in urllib.parse.parse_qsl(source,
                                                 keep_blank_values=True):
            params[key] = value
    return params


def flag(params, name):
    return params.get(name, "") not in ("", "0")


def decode_data_param(value):
    """A ``data=`` value: JSON, or base64 of JSON (standard or URL-safe)."""
    text = value.strip()
    if text[:1] in ("[", "{"):
        return parse_json_records(text)
    compact = text.replace(" ", "+").replace("\n", "")
    compact += "=" * (-len(compact) % 4)
    for decoder in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decoder(compact)
            return parse_json_records(raw.decode("utf-8"))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
    raise PayloadError(400, "data is neither JSON nor base64-encoded JSON")


def parse_json_records(text, ndjson=False):
    """A JSON array, a single JSON object, or NDJSON: always a list."""
    if not ndjson:
        try:
            value = json.loads(text)
        except ValueError:
            pass            # not one JSON value: try it as NDJSON
        else:
            return value if isinstance(value, list) else [value]
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            raise PayloadError(400, "invalid JSON on line %d: %s"
                               % (number, exc))
    if not records:
        raise PayloadError(400, "request body is empty")
    return records


def extract_records(method, headers, query, body):
    """Find the records of a request however the client encoded them.

    Returns (records, params): params merges the query string with any
    form-encoded body fields (verbose, strict, ip...).
    """
    content_type = (headers.get("Content-Type") or "").split(";")[0]
    content_type = content_type.strip().lower()
    text = body.decode("utf-8", errors="replace") if body else ""
    # curl -d labels JSON as a form; a body that opens like JSON is JSON.
    is_form = ((content_type == "application/x-www-form-urlencoded"
                and text.lstrip()[:1] not in ("[", "{"))
               or (not content_type and text.startswith("data=")))
    params = parse_params(query, text if is_form else "")
    if "data" in params:
        return decode_data_param(params["data"]), params
    if is_form or not text.strip():
        raise PayloadError(400, "no data: send a JSON body or a data= field")
    ndjson = content_type in ("application/x-ndjson", "application/ndjson")
    return parse_json_records(text, ndjson), params


# -- values -----------------------------------------------------------------

def truncate_utf8(text, limit=MAX_STRING_BYTES):
    """Cut a string to ``limit`` UTF-8 bytes on a character boundary."""
    raw = text.encode("utf-8", errors="surrogatepass")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", errors="ignore")


def truncate_strings(value, path, cut):
    """Copy of value with every string cut to 255 bytes; paths go to cut."""
    if isinstance(value, str):
        short = truncate_utf8(value)
        if short != value:
            cut.append(path)
        return short
    if isinstance(value, list):
        return [truncate_strings(item, "%s[%d]" % (path, i), cut)
                for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: truncate_strings(item, "%s.%s" % (path, key), cut)
                for key, item in value.items()}
    return value


def check_shape(value, path, depth=0, list_limit=True):
    """Mixpanel's nesting, object-size and array-size limits.

    ``depth`` is the level of ``value``: a property's value is level 1, an
    object or list inside it level 2...; a container below level 3 is
    refused, so ``{"a": {"b": {"c": 1}}}`` as a property value (three
    levels of objects) is the deepest accepted.  Lists count as levels.
    Objects and lists must have fewer than 255 keys / items (events);
    ``list_limit=False`` for profile values, whose lists Mixpanel limits
    by size only (256 KB, not modelled).
    """
    if isinstance(value, dict):
        if depth > 0 and len(value) >= MAX_COLLECTION:
            raise Failure(path, "'%s' is invalid: objects must have fewer "
                          "than %d keys (it has %d)"
                          % (path, MAX_COLLECTION, len(value)))
        items = value.items()
    elif isinstance(value, list):
        if list_limit and len(value) >= MAX_COLLECTION:
            raise Failure(path, "'%s' is invalid: lists must have fewer "
                          "than %d items (it has %d)"
                          % (path, MAX_COLLECTION, len(value)))
        items = (("%d" % i, item) for i, item in enumerate(value))
    else:
        return
    if depth > MAX_DEPTH:
        raise Failure(path, "'%s' is invalid: nesting deeper than %d levels"
                      % (path, MAX_DEPTH))
    for key, item in items:
        check_shape(item, "%s.%s" % (path, key), depth + 1, list_limit)


def time_to_ms(value):
    """Seconds or milliseconds since the epoch, as integer milliseconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Failure("properties.time", "'properties.time' is invalid: must "
                      "be specified as seconds since epoch")
    if value != value or value in (float("inf"), float("-inf")):
        raise Failure("properties.time", "'properties.time' is invalid: not "
                      "a finite number")
    if abs(value) < SECONDS_BELOW:
        return int(round(value * 1000))
    return int(round(value))


def id_string(value, field):
    """distinct_id-like values: strings, or numbers taken as strings."""
    if isinstance(value, bool) or value is None:
        raise Failure(field, "'%s' is invalid: must be a string" % field)
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if not isinstance(value, str):
        raise Failure(field, "'%s' is invalid: must be a string" % field)
    return value


# -- events -----------------------------------------------------------------

class EventContext:
    """What validation needs to know about the request an event came in."""

    def __init__(self, endpoint, now, mode_for, strict=False, client_ip="",
                 use_request_ip=False, token=None, default_token="",
                 allowed_tokens=None, ip_param=None):
        self.endpoint = endpoint
        self.ip_param = ip_param            # the request's ip= parameter
        self.now = now
        self.mode_for = mode_for            # token -> "original"/"simplified"
        self.strict = strict
        self.client_ip = client_ip
        self.use_request_ip = use_request_ip
        self.token = token                  # /import: the authenticated token
        self.default_token = default_token  # /import: when events carry none
        self.allowed_tokens = allowed_tokens


def record_insert_id(record):
    """The $insert_id of a raw record, for failure reports."""
    if isinstance(record, dict) and isinstance(record.get("properties"), dict):
        value = record["properties"].get("$insert_id")
        if isinstance(value, str):
            return value
    return None


def normalize_event(record, ctx):
    """Validate one event; return the event to store or raise Failure."""
    if not isinstance(record, dict):
        raise Failure("", "event must be a JSON object")
    name = record.get("event")
    if not isinstance(name, str) or not name:
        raise Failure("event", "'event' is invalid: must be a non-empty "
                      "string")
    props = record.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise Failure("properties", "'properties' is invalid: must be an "
                      "object")
    props = dict(props)
    check_size(record, props)
    token = event_token(props, ctx)
    time_ms = event_time(props, ctx)
    distinct_id = event_distinct_id(name, props, ctx, ctx.mode_for(token))
    insert_id, generated = event_insert_id(props, ctx)
    geo = event_geo(props, ctx)
    crawler = crawler_match(props)
    cut = []
    props = truncate_strings(props, "properties", cut)
    props["distinct_id"] = distinct_id = truncate_utf8(distinct_id)
    props["$insert_id"] = insert_id
    props.setdefault("time", time_ms)
    return {
        "token": token, "event": truncate_utf8(name),
        "distinct_id": distinct_id, "time_ms": time_ms,
        "insert_id": insert_id, "generated_insert_id": generated,
        "properties": props,
        "truncated": [path[len("properties."):] for path in cut],
        "geo": geo, "crawler": crawler,
    }


def compact_size(record):
    """A record's size as the most compact JSON (UTF-8, no spaces): how
    much of Mixpanel's 1 MB it uses, whatever spacing the sender chose."""
    return len(json.dumps(record, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8"))


def check_size(record, props):
    if len(props) >= MAX_PROPERTIES:
        raise Failure("properties", "'properties' is invalid: an event must "
                      "have fewer than %d properties (it has %d)"
                      % (MAX_PROPERTIES, len(props)))
    size = compact_size(record)
    if size >= MAX_EVENT_BYTES:
        raise Failure("", "event is invalid: must be smaller than 1MB of "
                      "uncompressed JSON (it is %d bytes)" % size)
    for key, value in props.items():
        check_shape(value, "properties.%s" % key, 1)


def event_token(props, ctx):
    token = props.get("token")
    if ctx.endpoint == "/import":
        if ctx.token:
            return ctx.token
        if isinstance(token, str) and token:
            return token
        return ctx.default_token
    if not isinstance(token, str) or not token:
        raise Failure("properties.token", "token, missing or empty")
    if ctx.allowed_tokens and token not in ctx.allowed_tokens:
        raise Failure("properties.token", "token, invalid: not a token of "
                      "this project")
    return token


def event_time(props, ctx):
    if "time" not in props:
        if ctx.endpoint == "/import":
            raise Failure("properties.time", "'properties.time' is required")
        return ctx.now
    time_ms = time_to_ms(props["time"])
    if time_ms < MIN_TIME_MS:
        raise Failure("properties.time", "'properties.time' is invalid: "
                      "before 1971-01-01")
    if time_ms > ctx.now + FUTURE_MS:
        raise Failure("properties.time", "'properties.time' is invalid: more "
                      "than 1 hour in the future")
    if ctx.endpoint == "/track" and time_ms < ctx.now - TRACK_WINDOW_MS:
        raise Failure("properties.time", "event is older than 5 days: /track "
                      "drops it silently (send old events to /import)",
                      silent=True)
    return time_ms


def event_distinct_id(name, props, ctx, mode):
    field = "properties.distinct_id"
    if "distinct_id" in props and props["distinct_id"] is not None:
        value = id_string(props["distinct_id"], field)
    else:
        value = derived_distinct_id(name, props, ctx, mode)
        if value is None:
            raise Failure(field, "'properties.distinct_id' is required")
    if value and is_banned(value):
        raise Failure(field, "'properties.distinct_id' is invalid: %r is not "
                      "allowed as a distinct_id" % value)
    return value


def derived_distinct_id(name, props, ctx, mode):
    """The distinct_id Mixpanel infers when the sender left it out."""
    if mode == "simplified":
        if props.get("$user_id"):
            return id_string(props["$user_id"], "properties.$user_id")
        if props.get("$device_id"):
            return "$device:" + id_string(props["$device_id"],
                                          "properties.$device_id")
    if name == "$identify" and props.get("$identified_id"):
        return id_string(props["$identified_id"], "properties.$identified_id")
    if name == "$merge" and isinstance(props.get("$distinct_ids"), list):
        ids = props["$distinct_ids"]
        return id_string(ids[0], "properties.$distinct_ids") if ids else None
    if ctx.endpoint == "/track" and ctx.use_request_ip and ctx.client_ip:
        return hashlib.sha1(ctx.client_ip.encode()).hexdigest()
    return None


def event_insert_id(props, ctx):
    field = "properties.$insert_id"
    value = props.get("$insert_id")
    if value is None or value == "":
        if ctx.endpoint == "/import" and ctx.strict:
            raise Failure(field, "'properties.$insert_id' is required")
        return uuid.uuid4().hex, True
    if not isinstance(value, str):
        raise Failure(field, "'properties.$insert_id' is invalid: must be a "
                      "string")
    if not INSERT_ID_RE.match(value) or is_banned(value):
        raise Failure(field, "'properties.$insert_id' is invalid: must be at "
                      "most 36 letters, digits or '-' (and not a reserved "
                      "value)")
    return value, False


# -- profile updates --------------------------------------------------------

def normalize_update(record, groups=False, allowed_tokens=None, now=None,
                     ip_param=None):
    """Validate one /engage or /groups update object; raise Failure.

    ``now`` (ms) is the update's time when it carries no ``$time``;
    ``ip_param`` the request's ``ip=`` parameter.
    """
    if not isinstance(record, dict):
        raise Failure("", "update must be a JSON object")
    token = record.get("$token")
    if not isinstance(token, str) or not token:
        raise Failure("$token", "$token, missing or empty")
    if allowed_tokens and token not in allowed_tokens:
        raise Failure("$token", "$token, invalid: not a token of this project")
    size = compact_size(record)
    if size > MAX_UPDATE_BYTES:
        raise Failure("", "update is invalid: at most 1 MB of JSON (it is %d "
                      "bytes)" % size)
    update = {"token": token, "ip": record.get("$ip"),
              "ignore_time": truthy(record.get("$ignore_time")),
              "ignore_alias": truthy(record.get("$ignore_alias")),
              "time_ms": update_time(record, now),
              "timed": "$time" in record,
              "geo": update_geo(record, ip_param)}
    if groups:
        update["group_key"] = required_id(record, "$group_key")
        update["group_id"] = required_id(record, "$group_id")
        allowed = GROUP_OPERATIONS
    else:
        update["distinct_id"] = required_id(record, "$distinct_id")
        if is_banned(update["distinct_id"]):
            raise Failure("$distinct_id", "$distinct_id is invalid: %r is not "
                          "allowed" % update["distinct_id"])
        allowed = PEOPLE_OPERATIONS
    update["operation"], update["value"] = update_operation(record, allowed)
    return update


def truthy(value):
    """``$ignore_time`` / ``$ignore_alias``: true, 1, "true" or "1" (the
    Swift SDK sends 1 / 0); "false" and "0" are false."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value) if isinstance(value, (bool, int, float)) else False


def update_time(record, now):
    """An update's ``$time`` as ms (the SDKs send ms, or seconds: the same
    rule as an event's time), else ``now``, its arrival."""
    if "$time" not in record or record["$time"] is None:
        return now
    value = record["$time"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            value != value or value in (float("inf"), float("-inf")):
        raise Failure("$time", "$time is invalid: must be a number, "
                      "milliseconds (or seconds) since the epoch")
    if abs(value) < SECONDS_BELOW:
        return int(round(value * 1000))
    return int(round(value))


def required_id(record, field):
    if field not in record or record[field] in (None, ""):
        raise Failure(field, "%s, missing or empty" % field)
    return id_string(record[field], field)


def update_operation(record, allowed):
    found = [key for key in record if key in PEOPLE_OPERATIONS]
    if len(found) != 1:
        raise Failure("", "an update must contain exactly one operation of "
                      "%s (found %s)" % (", ".join(allowed),
                                         ", ".join(found) or "none"))
    operation = found[0]
    if operation not in allowed:
        raise Failure(operation, "%s is not supported here" % operation)
    value = record[operation]
    if operation == "$delete":
        return operation, None
    if operation == "$unset":
        if not isinstance(value, list) or not all(
                isinstance(item, str) for item in value):
            raise Failure(operation, "$unset takes a list of property names")
        return operation, value
    if not isinstance(value, dict):
        raise Failure(operation, "%s takes an object" % operation)
    check_update_values(operation, value)
    return operation, truncate_strings(value, operation, [])


def check_update_values(operation, value):
    for key, item in value.items():
        if operation == "$add" and (isinstance(item, bool) or not isinstance(
                item, (int, float))):
            raise Failure("%s.%s" % (operation, key),
                          "$add values must be numbers (%s is %r)"
                          % (key, item))
        if operation == "$union" and not isinstance(item, list):
            raise Failure("%s.%s" % (operation, key),
                          "$union values must be lists (%s is %r)"
                          % (key, item))
        check_shape(item, "%s.%s" % (operation, key), 1, list_limit=False)
