"""A local Mixpanel stand-in: ingestion endpoints, identity, profiles, report.

The package behind ``tools/mixpanel-emulator``.  Python 3 standard library
only.  Modules:

    store     SQLite schema, the lock that serialises all access, counters
    payload   decoding request bodies (JSON, NDJSON, form ``data=``, base64,
              gzip) and the Mixpanel validation rules
    identity  identity clusters: Original and Simplified ID Merge
    profiles  people (/engage) and group (/groups) profile operations
    ingest    the /track, /import, /engage and /groups endpoints
    faults    injected failures (status, delay, hang, close)
    query     the /_emulator/... query API
    server    the threaded HTTP(S) server
    report    the terminal and JSON report
    cli       command line: serve, report
"""

__version__ = "1.0.0"
