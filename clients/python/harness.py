"""The tiny check framework of the Python clients (no pytest needed).

    python run.py test_psycopg2 [test_psycopg3 ...]

runs every `check_*` function of each module in definition order and prints
one line per check, the format every client of scripts/test-clients.sh uses:

    CHECK PASS <id>
    CHECK FAIL <id> :: <error, one line>

where <id> is `<module without test_>.<function without check_>`, e.g.
`psycopg2.params`. A check passes when it returns; anything raised fails it.
"""
import os
import time

HOST = os.environ.get("REDSQL_HOST", "127.0.0.1")
PORT = int(os.environ.get("REDSQL_PORT", "5433"))
DB = "redsql"
USER = "redsql"


def dsn(app):
    """A libpq connection string naming the client in application_name."""
    return f"host={HOST} port={PORT} dbname={DB} user={USER} application_name={app} connect_timeout=10"


def uri(scheme="postgresql", app=None):
    q = f"?application_name={app}" if app else ""
    return f"{scheme}://{USER}@{HOST}:{PORT}/{DB}{q}"


def eq(actual, expected, what=""):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}" if what
                             else f"expected {expected!r}, got {actual!r}")


def contains(container, items, what=""):
    missing = [i for i in items if i not in container]
    if missing:
        raise AssertionError(f"{what}: missing {missing!r} in {container!r}")


def one_line(e):
    """An exception as one line: class, SQLSTATE when there is one, message."""
    state = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
    msg = " ".join(str(e).split())
    # SQLAlchemy appends the statement and a help link: the trace log has the SQL
    for tail in (" [SQL: ", " (Background on this error"):
        msg = msg.split(tail)[0]
    if len(msg) > 400:
        msg = msg[:400] + "..."
    name = type(e).__name__
    return f"{name} [{state}]: {msg}" if state else f"{name}: {msg}"


def run_module(module):
    prefix = module.__name__.removeprefix("test_")
    failed = 0
    for name, fn in list(vars(module).items()):
        if not (name.startswith("check_") and callable(fn)):
            continue
        cid = f"{prefix}.{name.removeprefix('check_')}"
        start = time.monotonic()
        try:
            fn()
            print(f"CHECK PASS {cid}", flush=True)
        except Exception as e:  # every failure is a result, not a crash
            failed += 1
            print(f"CHECK FAIL {cid} :: {one_line(e)}", flush=True)
        took = time.monotonic() - start
        if took > 5:
            print(f"  ({cid} took {took:.1f}s)", flush=True)
    return failed
