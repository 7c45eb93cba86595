"""Replay what a GUI tool sends, statement by statement, and check the answers.

    python replay.py dbeaver.sql [metabase.sql ...]

Each file is one session (one connection, statements in order). A statement
starts at a `-- check: NAME` line; the `-- ...:` lines right after it are
directives, and everything after them up to the next `-- check:` is the
statement text, sent exactly (a comment-only statement such as `-- ping` is
sent as it is):

    -- protocol: simple | extended | binary     (default: the file's, see below)
    -- bind: SQL        one parameter per line, the first value SQL returns
                        (sent as int8 when it is all digits, else untyped text)
    -- expect rows: N | >=N
    -- expect columns: a, b      these output names are present
    -- expect row: col=value, col2=value   some row has these values (text as
                        PostgreSQL prints them; NULL for null); repeatable
    -- expect value: V  the first column of the first row
    -- expect absent: col=value  no row has these values

A file-level `-- default protocol: extended` line (before the first check)
sets the default: `simple` is a Query message, `extended` is
Parse/Bind/Describe/Execute/Sync with text results (what pgjdbc sends before
its prepare threshold), `binary` the same with binary results (pgx).

Prints `CHECK PASS replay.<file>.<NAME>` / `CHECK FAIL ... :: <error>`.
"""
import datetime as dt
import os
import re
import sys

import psycopg
from psycopg import pq
from psycopg.adapt import Transformer

HOST = os.environ.get("REDSQL_HOST", "127.0.0.1")
PORT = int(os.environ.get("REDSQL_PORT", "5433"))


class Check:
    def __init__(self, name, protocol):
        self.name = name
        self.protocol = protocol
        self.binds = []
        self.expects = []  # (kind, argument)
        self.sql_lines = []


def parse(path):
    checks, default = [], "extended"
    current = None
    in_directives = False
    for line in open(path, encoding="utf-8").read().splitlines():
        m = re.match(r"--\s*check:\s*(\S+)\s*$", line)
        if m:
            current = Check(m.group(1), default)
            checks.append(current)
            in_directives = True
            continue
        if current is None:
            m = re.match(r"--\s*default protocol:\s*(\w+)", line)
            if m:
                default = m.group(1)
            continue
        if in_directives:
            m = re.match(r"--\s*(protocol|bind|expect \w+):\s*(.*)$", line)
            if m:
                key, arg = m.group(1), m.group(2).strip()
                if key == "protocol":
                    current.protocol = arg
                elif key == "bind":
                    current.binds.append(arg)
                else:
                    current.expects.append((key.split()[1], arg))
                continue
            in_directives = False
        current.sql_lines.append(line)
    for c in checks:
        c.sql = "\n".join(c.sql_lines).strip()
    return checks


def pgtext(v):
    """A Python value as PostgreSQL prints it in text format."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    if isinstance(v, list):
        return "{" + ",".join(pgtext(x) for x in v) + "}"
    return str(v)


class Result:
    def __init__(self, columns, rows):
        self.columns, self.rows = columns, rows


def run(conn, check):
    pgconn = conn.pgconn
    params = []
    for sql in check.binds:
        rows = conn.execute(sql).fetchall()
        if not rows:
            raise AssertionError(f"bind query returned no row: {sql}")
        params.append(str(rows[0][0]))
    sql = check.sql.encode()
    if check.protocol == "simple":
        if params:
            raise AssertionError("bind needs the extended protocol")
        res = pgconn.exec_(sql)
    elif check.protocol in ("extended", "binary"):
        types = [20 if p.isdigit() else 0 for p in params]
        res = pgconn.exec_params(sql, [p.encode() for p in params], types,
                                 result_format=pq.Format.BINARY if check.protocol == "binary" else pq.Format.TEXT)
    else:
        raise AssertionError(f"unknown protocol {check.protocol}")
    if res.status == pq.ExecStatus.FATAL_ERROR:
        state = (res.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
        msg = " ".join((res.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"").decode().split())
        raise RuntimeError(f"[{state}] {msg}")
    if res.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK, pq.ExecStatus.EMPTY_QUERY):
        raise RuntimeError(f"unexpected result status {res.status.name}: {res.error_message.decode()}")
    columns = [res.fname(i).decode() for i in range(res.nfields)]
    if check.protocol == "binary":
        tx = Transformer.from_context(conn)
        tx.set_pgresult(res)
        rows = [[pgtext(v) for v in row] for row in tx.load_rows(0, res.ntuples, list)]
    else:
        rows = [[("NULL" if res.get_value(r, c) is None else res.get_value(r, c).decode())
                 for c in range(res.nfields)] for r in range(res.ntuples)]
    return Result(columns, rows)


def pairs(arg):
    out = []
    for part in arg.split(","):
        k, _, v = part.strip().partition("=")
        out.append((k.strip(), v.strip()))
    return out


def matches(result, wanted):
    for k, _ in wanted:
        if k not in result.columns:
            raise AssertionError(f"no column {k!r} in {result.columns}")
    idx = {k: result.columns.index(k) for k, _ in wanted}
    return any(all(same(row[idx[k]], v) for k, v in wanted) for row in result.rows)


def same(got, want):
    """Equal as text, or as numbers (1525 = 1525.0 = 1525.000000: PostgreSQL
    answers numeric where redsql may answer double precision)."""
    if got == want:
        return True
    try:
        return float(got) == float(want)
    except ValueError:
        return False


def verify(check, result):
    for kind, arg in check.expects:
        if kind == "rows":
            n = len(result.rows)
            ok = n >= int(arg[2:]) if arg.startswith(">=") else n == int(arg)
            if not ok:
                raise AssertionError(f"expected {arg} rows, got {n}")
        elif kind == "columns":
            missing = [c.strip() for c in arg.split(",") if c.strip() not in result.columns]
            if missing:
                raise AssertionError(f"columns {missing} missing from {result.columns}")
        elif kind == "row":
            if not matches(result, pairs(arg)):
                raise AssertionError(f"no row with {arg} among {len(result.rows)} rows: {result.rows[:5]}")
        elif kind == "absent":
            if matches(result, pairs(arg)):
                raise AssertionError(f"a row has {arg}")
        elif kind == "value":
            got = result.rows[0][0] if result.rows else "<no row>"
            if not same(got, arg):
                raise AssertionError(f"expected value {arg!r}, got {got!r}")
        else:
            raise AssertionError(f"unknown expectation {kind}")


def connect(app):
    return psycopg.connect(host=HOST, port=PORT, dbname="redsql", user="redsql", application_name=app,
                           autocommit=True, connect_timeout=10)


def replay(path):
    tool = os.path.basename(path).removesuffix(".sql")
    conn = connect(f"cl-replay-{tool}")
    try:
        for check in parse(path):
            cid = f"replay.{tool}.{check.name}"
            try:
                if conn.closed or conn.pgconn.status != pq.ConnStatus.OK:
                    conn = connect(f"cl-replay-{tool}")
                verify(check, run(conn, check))
                print(f"CHECK PASS {cid}", flush=True)
            except Exception as e:
                msg = " ".join(str(e).split())
                print(f"CHECK FAIL {cid} :: {type(e).__name__}: {msg[:400]}", flush=True)
    finally:
        conn.close()


if __name__ == "__main__":
    for p in sys.argv[1:]:
        replay(p)
