#!/usr/bin/env python3
"""Judge the client checks against clients/expected-failures.txt.

    judge.py RESULTS EXPECTED_FAILURES [TRACE_LOG]

RESULTS holds the clients' `CHECK PASS id` / `CHECK FAIL id :: error` lines
and one `CLIENT name EXIT code` line per client program. A check fails the
run when it fails and is not listed, when it is listed and passes (remove it
from the list: the gap is fixed), or when it is listed and did not run. A
client program that exits non-zero or reports no check fails the run too.

With TRACE_LOG (clients/pgtrace.py's log), also prints every statement redsql
answered with an error, with the client that sent it.

Exits 1 when the run fails.
"""
import json
import re
import sys
from collections import OrderedDict


def load_expected(path):
    expected = OrderedDict()
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) != 3:
            sys.exit(f"{path}:{n}: expected 'check id | error | missing feature', got: {line}")
        expected[parts[0]] = (parts[1], parts[2])
    return expected


def load_results(path):
    results, clients = OrderedDict(), OrderedDict()
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"CHECK (PASS|FAIL) (\S+)(?: :: (.*))?$", line)
        if m:
            results[m.group(2)] = (m.group(1), m.group(3) or "")
            continue
        m = re.match(r"CLIENT (\S+) EXIT (\d+)$", line)
        if m:
            clients[m.group(1)] = int(m.group(2))
    return results, clients


def same_error(a, b):
    """Equal but for numbers (task ids, positions in panics vary between runs)."""
    return re.sub(r"\d+", "N", a) == re.sub(r"\d+", "N", b)


def client_of(check_id):
    parts = check_id.split(".")
    return ".".join(parts[:2]) if parts[0] == "replay" else parts[0]


def rejected_statements(trace_path):
    """(client, sql, error) for every ErrorResponse in the trace, first seen order."""
    app, last_sql, named, seen = {}, {}, {}, OrderedDict()
    for line in open(trace_path, encoding="utf-8", errors="replace"):
        m = re.match(r"\S+ (c\d+) ([<>!]) (.*)$", line.rstrip("\n"))
        if not m:
            continue
        conn, direction, text = m.groups()
        if text.startswith("Startup "):
            app[conn] = text.partition("application_name=")[2]
        elif text.startswith("Query: "):
            last_sql[conn] = json.loads(text[len("Query: "):])
        elif text.startswith("Parse "):
            head, _, sql = text.partition("]: ")
            last_sql[conn] = json.loads(sql)
            named[(conn, head.split()[1])] = last_sql[conn]
        elif text.startswith("Bind "):
            stmt = re.search(r"stmt=(\S+)", text).group(1)
            last_sql[conn] = named.get((conn, stmt), last_sql.get(conn, "?"))
        elif text.startswith("ERROR "):
            sql = last_sql.get(conn, "?")
            if "cl_no_such_" in sql:  # errors the checks provoke on purpose
                continue
            key = (sql, text)
            if key not in seen:
                seen[key] = app.get(conn, "") or "?"
        m = re.match(r"(?i)\s*SET\s+application_name\s*(?:=|TO)\s*'([^']*)'", last_sql.get(conn, ""))
        if m and direction == ">":
            app[conn] = m.group(1)
    return [(client, sql, err) for (sql, err), client in seen.items()]


def main():
    results, clients = load_results(sys.argv[1])
    expected = load_expected(sys.argv[2])
    trace = sys.argv[3] if len(sys.argv) > 3 else None

    per_client = OrderedDict()
    problems, xfails = [], []
    for cid, (status, err) in results.items():
        counts = per_client.setdefault(client_of(cid), [0, 0, 0])
        listed = expected.get(cid)
        if status == "PASS" and not listed:
            counts[0] += 1
        elif status == "PASS":
            counts[1] += 1
            problems.append(f"XPASS {cid}: passes now; remove it from clients/expected-failures.txt")
        elif listed:
            counts[2] += 1
            note = "" if same_error(err, listed[0]) else f"\n        (error changed; listed: {listed[0]})"
            xfails.append(f"XFAIL {cid} :: {err}\n        missing: {listed[1]}{note}")
        else:
            counts[1] += 1
            problems.append(f"FAIL  {cid} :: {err}")
    for cid in expected:
        if cid not in results and client_of(cid) in clients:
            problems.append(f"MISSING {cid}: listed in clients/expected-failures.txt but did not run")
    for name, code in clients.items():
        if code != 0:
            problems.append(f"FAIL  {name}: the client program exited with code {code} (see its log)")
        if not any(client_of(c) == name for c in results):
            problems.append(f"FAIL  {name}: reported no check")

    if trace:
        rejected = rejected_statements(trace)
        if rejected:
            print(f"\nStatements redsql answered with an error ({len(rejected)}, from {trace}):")
            for client, sql, err in rejected:
                one = " ".join(sql.split())
                print(f"  [{client}] {err}\n      {one[:300]}{'...' if len(one) > 300 else ''}")
    if xfails:
        print(f"\nExpected failures (known redsql gaps, clients/expected-failures.txt): {len(xfails)}")
        for x in xfails:
            print("  " + x)
    print("\nPer client:                    passed  failed  xfail")
    for name, (p, f, x) in per_client.items():
        print(f"  {name:<28} {p:6d}  {f:6d}  {x:5d}")
    if problems:
        print("\nProblems:")
        for p in problems:
            print("  " + p)
    passed = sum(c[0] for c in per_client.values())
    failed = len(problems)
    xfail = sum(c[2] for c in per_client.values())
    print(f"\nclients: {passed} passed, {failed} failed, {xfail} skipped")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
