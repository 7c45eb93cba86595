"""Differential test: the same dataset and queries on PostgreSQL and on redsql.

    python pgdiff/run.py --pg DSN --redsql DSN [--only ID_OR_PREFIX ...] [--json FILE]

1. loads the dataset (dataset.py) into both servers with CREATE TABLE + COPY;
2. runs every query of queries/*.sql on both and compares the outcomes
   (compare.py);
3. creates a RediSearch index on redsql's pd_orders, waits until redsql can
   use it, and runs again every query that reads only pd_orders (ids get the
   suffix @idx), so the pushdown paths are compared with PostgreSQL too;
4. drops the tables on both servers and prints `pgdiff: N/M queries match`
   and every difference.

Exit status 1 when a difference is not listed in known-differences.txt, or
when a listed query now matches (remove it from the list), 2 when the harness
itself fails, 0 otherwise.
"""

import argparse
import json
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

import dataset
from compare import Failure, Result, compare, has_top_level_order_by, show

HERE = Path(__file__).resolve().parent
QUERY_TIMEOUT = 60.0
INDEX_SUFFIX = "@idx"


def read_corpus(only=()):
    """[(id, file name, sql)] from queries/*.sql: each query follows a `-- q: ID` line."""
    queries, seen = [], set()
    for path in sorted((HERE / "queries").glob("*.sql")):
        current, lines = None, []

        def flush():
            if current is not None:
                sql = "\n".join(lines).strip().rstrip(";").strip()
                queries.append((current, path.name, sql))

        for line in path.read_text().splitlines():
            m = re.match(r"--\s*q:\s*(\S+)\s*$", line)
            if m:
                flush()
                current, lines = m.group(1), []
                if current in seen:
                    raise RuntimeError(f"duplicate query id {current} in {path.name}")
                seen.add(current)
            elif current is not None and not line.lstrip().startswith("--"):
                lines.append(line)
        flush()
    if only:
        queries = [q for q in queries if any(q[0] == o or q[0].startswith(o) for o in only)]
    return queries


def read_known():
    """{id: reason} from known-differences.txt (`ID  reason`, # comments)."""
    known = {}
    for line in (HERE / "known-differences.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            qid, _, reason = line.partition(" ")
            known[qid] = reason.strip()
    return known


def execute(conn, sql):
    """Run one query; a Result or a Failure. Cancelled after QUERY_TIMEOUT seconds."""
    timer = threading.Timer(QUERY_TIMEOUT, conn.cancel_safe)
    timer.start()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            if cur.description is None:
                return Result([], [])
            return Result([d.name for d in cur.description], cur.fetchall())
    except psycopg.Error as e:
        state = getattr(e, "sqlstate", None) or "?????"
        return Failure(state, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
    finally:
        timer.cancel()


class Server:
    """A connection that comes back after the server dropped it."""

    def __init__(self, name, dsn):
        self.name, self.dsn, self.conn = name, dsn, None

    def connect(self):
        self.conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        # NOTICEs (values read as NULL, ...) are not part of the result.
        self.conn.add_notice_handler(lambda diag: None)
        return self.conn

    def run(self, sql):
        if self.conn is None or self.conn.closed:
            try:
                self.connect()
            except psycopg.Error as e:
                return Failure("08006", f"cannot connect: {e}")
        out = execute(self.conn, sql)
        if isinstance(out, Failure) and self.conn.closed:
            out.message += " (connection lost)"
        return out


def only_orders(sql):
    low = sql.lower()
    return "pd_orders" in low and "pd_customers" not in low and "pd_products" not in low


def wait_index_usable(rs, timeout=120.0):
    deadline = time.time() + timeout
    note = None
    while time.time() < deadline:
        out = rs.run("SELECT index_usable, index_note FROM redsql.tables "
                     "WHERE table_name = 'pd_orders'")
        if isinstance(out, Result) and out.rows and out.rows[0][0]:
            return None
        note = out.rows[0][1] if isinstance(out, Result) and out.rows else show(out)
        time.sleep(0.5)
    return note


@dataclass
class Outcome:
    id: str
    file: str
    sql: str
    pg: object
    redsql: object
    difference: str | None
    # For an @idx run: redsql answered as on the scan path (same outcome).
    same_as_scan: bool = True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", required=True, help="libpq connection string of PostgreSQL")
    ap.add_argument("--redsql", required=True, help="libpq connection string of redsql")
    ap.add_argument("--only", nargs="*", default=(), help="query ids or id prefixes to run")
    ap.add_argument("--no-index", action="store_true", help="skip the pass with a RediSearch index")
    ap.add_argument("--json", help="write every outcome and difference to this file")
    ap.add_argument("--keep", action="store_true", help="leave the tables in place afterwards")
    args = ap.parse_args()

    queries = read_corpus(args.only)
    known = read_known()
    pg, rs = Server("PostgreSQL", args.pg), Server("redsql", args.redsql)
    started = time.time()
    pg.connect().execute("SET TimeZone = 'UTC'")
    dataset.load(pg.conn)
    dataset.load(rs.connect())
    print(f"pgdiff: dataset loaded into both servers in {time.time() - started:.1f}s")

    results, scan = [], {}
    for qid, fname, sql in queries:
        a, b = pg.run(sql), rs.run(sql)
        scan[qid] = (a, b)
        results.append(Outcome(qid, fname, sql, a, b, compare(a, b, has_top_level_order_by(sql))))

    pushed = 0
    if not args.no_index:
        out = rs.run(dataset.INDEX_DDL)
        if isinstance(out, Failure):
            raise RuntimeError(f"CREATE INDEX failed on redsql: {show(out)}")
        note = wait_index_usable(rs)
        if note is not None:
            raise RuntimeError(f"redsql cannot use the index pd_orders_idx: {note}")
        for qid, fname, sql in queries:
            if not only_orders(sql):
                continue
            b = rs.run(sql)
            plan = rs.run("EXPLAIN " + sql)
            if isinstance(plan, Result) and any(("FT.AGGREGATE" in str(r[0]) or "FT.SEARCH" in str(r[0])) for r in plan.rows):
                pushed += 1
            a, b_scan = scan[qid]
            ordered = has_top_level_order_by(sql)
            results.append(Outcome(qid + INDEX_SUFFIX, fname, sql, a, b, compare(a, b, ordered),
                                   same_as_scan=compare(b_scan, b, ordered) is None))

    if not args.keep:
        for server in (rs, pg):
            if server.conn is None or server.conn.closed:
                server.connect()
            dataset.drop_all(server.conn)

    return report(results, known, pushed, args, time.time() - started)


def known_reason(o, known):
    """Why o's difference is expected, or None. `ID` in the list also covers the run
    of ID with an index (ID@idx), as long as the index does not change redsql's answer."""
    if o.id in known:
        return known[o.id]
    base = o.id.removesuffix(INDEX_SUFFIX)
    if base != o.id and base in known and o.same_as_scan:
        return known[base]
    return None


def report(results, known, pushed, args, elapsed):
    diffs = [o for o in results if o.difference is not None]
    unlisted = [o for o in diffs if known_reason(o, known) is None]
    differing = {o.id for o in diffs} | {o.id.removesuffix(INDEX_SUFFIX) for o in diffs if o.same_as_scan}
    ran = {o.id for o in results}
    stale = sorted(q for q in known if q in ran and q not in differing)
    for o in diffs:
        reason = known_reason(o, known)
        print(f"\n--- {'known' if reason else 'NEW'} difference {o.id} ({o.file}): {o.difference}")
        if reason:
            print(f"    reason: {reason}")
        elif not o.same_as_scan:
            print("    (redsql answers differently with the index than without it)")
        print("    " + o.sql.replace("\n", "\n    "))
        print("  PostgreSQL: " + show(o.pg).replace("\n", "\n  "))
        print("  redsql:     " + show(o.redsql).replace("\n", "\n  "))
    for qid in stale:
        print(f"\n--- {qid} is listed in known-differences.txt but now matches: remove it from the list")
    matched = len(results) - len(diffs)
    indexed = sum(1 for o in results if o.id.endswith(INDEX_SUFFIX))
    print(f"\npgdiff: {matched}/{len(results)} queries match "
          f"({len(results) - indexed} queries, and {indexed} of them again with a RediSearch index "
          f"on pd_orders, {pushed} of those pushed down); {len(diffs) - len(unlisted)} known differences, "
          f"{len(unlisted)} new, {len(stale)} listed but now matching; {elapsed:.1f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{"id": o.id, "file": o.file, "sql": o.sql, "pg": show(o.pg, limit=20),
              "redsql": show(o.redsql, limit=20), "difference": o.difference,
              "same_as_scan": o.same_as_scan, "known": known_reason(o, known)}
             for o in results], indent=1, ensure_ascii=False))
    if args.only:
        return 1 if unlisted else 0
    return 1 if unlisted or stale else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a harness failure, not a difference: exit 2
        import traceback
        traceback.print_exc()
        print(f"pgdiff: the harness failed: {e}", file=sys.stderr)
        sys.exit(2)
