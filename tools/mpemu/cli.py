"""Command line: ``mixpanel-emulator serve`` and ``... report``."""

import argparse
import ipaddress
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

from . import __version__, payload
from .faults import FaultError, Faults
from .ingest import Emulator, Settings
from .report import LOGIN_EVENTS, build_report, render_text
from .server import Application, Server, tls_context
from .store import Store

MODES = ("original", "simplified")


def parse_listen(value):
    """HOST:PORT, [IPv6]:PORT or :PORT (loopback)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % value)
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def parse_identity(values):
    """``MODE`` (every project) and ``TOKEN=MODE`` (one project)."""
    default, by_token = "original", {}
    for value in values or ():
        token, sep, mode = value.rpartition("=")
        if mode not in MODES:
            raise SystemExit("--identity: %r is not original or simplified"
                             % mode)
        if sep:
            by_token[token] = mode
        else:
            default = mode
    return default, by_token


def parse_service_account(value):
    parts = value.split(":")
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(
            "expected USER:SECRET:PROJECT_ID for --service-account")
    return tuple(parts)


def parse_project(value):
    """PROJECT_ID=TOKEN: the token of a project (one token a project)."""
    project_id, sep, token = value.partition("=")
    if not sep or not project_id or not token:
        raise argparse.ArgumentTypeError(
            "expected PROJECT_ID=TOKEN for --project")
    return project_id, token


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mixpanel-emulator",
        description="A local Mixpanel ingestion API for tests, demos and "
                    "QA (docs/emulator.md).")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the emulator",
        description="Serve /track, /import, /engage, /groups and the "
                    "/_emulator query API.")
    serve.add_argument("--listen", type=parse_listen,
                       default=("127.0.0.1", 8085), metavar="HOST:PORT",
                       help="address to listen on (default 127.0.0.1:8085; "
                            "port 0 picks a free one)")
    serve.add_argument("--port-file", metavar="FILE",
                       help="write the port listened on to FILE")
    serve.add_argument("--db", default=":memory:", metavar="FILE",
                       help="SQLite file to keep data in (default: memory)")
    serve.add_argument("--identity", action="append", metavar="MODE",
                       help="original (default) or simplified; TOKEN=MODE "
                            "sets one project's (repeatable)")
    serve.add_argument("--token", action="append", default=[],
                       metavar="TOKEN",
                       help="accept only this project token (repeatable; "
                            "default: any token)")
    serve.add_argument("--secret", action="append", default=[],
                       metavar="SECRET",
                       help="a project API secret /import accepts as Basic "
                            "user (repeatable)")
    serve.add_argument("--service-account", action="append", default=[],
                       type=parse_service_account,
                       metavar="USER:SECRET:PROJECT_ID",
                       help="a service account /import accepts "
                            "(repeatable)")
    serve.add_argument("--project", action="append", default=[],
                       type=parse_project, metavar="PROJECT_ID=TOKEN",
                       help="the token of a project: a service account's "
                            "/import with ?project_id= files its events "
                            "there, whatever their token (repeatable)")
    serve.add_argument("--tls-cert", metavar="FILE",
                       help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", metavar="FILE",
                       help="private key of --tls-cert (PEM)")
    serve.add_argument("--fault", action="append", default=[],
                       metavar="JSON",
                       help="queue a fault at start-up, e.g. "
                            "'{\"status\":503,\"count\":3}' (repeatable)")
    serve.add_argument("--max-body-bytes", type=int,
                       default=payload.MAX_BODY_BYTES, metavar="N",
                       help="uncompressed body limit, answered with 413 "
                            "(default 2097152)")
    serve.add_argument("--failed-records-key",
                       choices=("$insert_id", "insert_id"),
                       default="$insert_id",
                       help="key naming the insert id in strict-mode "
                            "failed_records (Mixpanel's docs show both)")
    serve.add_argument("--max-requests", type=int, default=100000,
                       metavar="N",
                       help="raw requests kept for /_emulator/requests "
                            "(0: all)")
    serve.add_argument("-v", "--verbose", action="store_true",
                       help="log each request (method, path, status) to "
                            "stderr")
    serve.set_defaults(run=serve_command)

    report = commands.add_parser(
        "report", help="print what Mixpanel would show",
        description="Users with their identity clusters, profiles and "
                    "events, and the identity problems found.")
    source = report.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", metavar="FILE",
                        help="the emulator's SQLite file")
    source.add_argument("--url", metavar="URL",
                        help="a running emulator, e.g. http://127.0.0.1:8085")
    report.add_argument("--json", action="store_true",
                        help="print the report as JSON")
    report.add_argument("--token", help="only this project")
    report.add_argument("--account-property", default="account_id",
                        metavar="NAME",
                        help="the property that names the account "
                             "(default account_id)")
    report.add_argument("--login-event", action="append", metavar="NAME",
                        help="an event that marks a sign-up or login "
                             "(repeatable; default: %s)"
                             % ", ".join(LOGIN_EVENTS))
    report.add_argument("--check", action="store_true",
                        help="exit 1 when an error-level problem is found "
                             "(warnings do not count)")
    report.set_defaults(run=report_command)
    return parser


def serve_command(args):
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together")
    default, by_token = parse_identity(args.identity)
    projects = {}
    for project_id, token in args.project:
        owner = [known for known, value in projects.items()
                 if value == token]
        if projects.get(project_id, token) != token or \
                owner not in ([], [project_id]):
            raise SystemExit("--project: a project has one token, and a "
                             "token one project (%s=%s)"
                             % (project_id, token))
        projects[project_id] = token
    settings = Settings(identity=default, identity_by_token=by_token,
                        tokens=args.token, secrets=args.secret,
                        service_accounts=args.service_account,
                        max_body_bytes=args.max_body_bytes,
                        failed_insert_id_key=args.failed_records_key,
                        max_requests=args.max_requests, projects=projects)
    faults = Faults()
    try:
        for spec in args.fault:
            faults.add(json.loads(spec))
    except (ValueError, FaultError) as exc:
        raise SystemExit("--fault: %s" % exc)
    store = Store(args.db)
    app = Application(store, Emulator(store, settings), faults, args.verbose)
    context = tls_context(args.tls_cert, args.tls_key) if args.tls_cert \
        else None
    host, port = args.listen
    server = Server((host, port), app, context)
    port = server.server_address[1]
    if not is_loopback(host):
        sys.stderr.write("warning: listening on %s, not a loopback address; "
                         "the emulator has no access control\n" % host)
    if args.port_file:
        write_atomically(args.port_file, "%d\n" % port)
    return run_until_signal(server, app, host, port)


def write_atomically(path, text):
    partial = path + ".tmp"
    with open(partial, "w") as handle:
        handle.write(text)
    os.replace(partial, path)


def run_until_signal(server, app, host, port):
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    shown = "[%s]" % host if ":" in host else host
    print("listening on %s:%d" % (shown, port), flush=True)
    while not stop.wait(0.5):
        pass
    app.stopping.set()
    app.faults.clear()
    server.shutdown()
    server.server_close()
    app.store.close()
    return 0


def report_command(args):
    login_events = tuple(args.login_event or LOGIN_EVENTS)
    if args.url:
        report = fetch_report(args.url, args.token, args.account_property,
                              login_events)
    else:
        if not os.path.exists(args.db):
            raise SystemExit("no such database: %s" % args.db)
        store = Store(args.db, readonly=True)
        with store.read() as db:
            report = build_report(db, args.token, args.account_property,
                                  login_events)
    if args.json:
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(report))
    if args.check and any(item["severity"] == "error"
                          for project in report["projects"]
                          for item in project["problems"]):
        return 1
    return 0


def fetch_report(url, token, account_property, login_events=LOGIN_EVENTS):
    params = {"account_property": account_property,
              "login_event": list(login_events)}
    if token is not None:
        params["token"] = token
    address = "%s/_emulator/report?%s" % (url.rstrip("/"),
                                          urllib.parse.urlencode(params,
                                                                 doseq=True))
    try:
        with urllib.request.urlopen(address, timeout=30) as answer:
            return json.load(answer)
    except (OSError, ValueError) as exc:
        raise SystemExit("cannot read the report from %s: %s" % (url, exc))


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except OSError as exc:
        sys.stderr.write("mixpanel-emulator: %s\n" % exc)
        return 1
