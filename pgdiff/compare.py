"""Comparing one query's outcome on PostgreSQL and on redsql.

An outcome is either Result(columns, rows) or Failure(sqlstate, message).

Values are compared the way a client sees them, with these allowances:
  * numbers are compared by value whatever their type (int, float, Decimal),
    floats with a relative tolerance of 1e-9;
  * timestamps, dates, times and intervals are compared as values (so the
    text form on the wire does not matter), but a date is not a timestamp;
  * rows are compared in order only when the query has a top-level ORDER BY
    (the corpus makes those orders total); otherwise as multisets.
Everything else (column names, row counts, text, booleans, NULLs) must be equal.
"""

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

REL_TOL = 1e-9


@dataclass
class Result:
    columns: list
    rows: list


@dataclass
class Failure:
    sqlstate: str
    message: str


def _norm(v):
    """A comparable (tag, value) form of one value."""
    if v is None:
        return ("null", None)
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, (int, float, Decimal)):
        return ("num", float(v))
    if isinstance(v, dt.datetime):
        return ("timestamptz" if v.tzinfo else "timestamp", v)
    if isinstance(v, dt.date):
        return ("date", v)
    if isinstance(v, dt.time):
        return ("time", v)
    if isinstance(v, dt.timedelta):
        return ("interval", v)
    if isinstance(v, str):
        return ("text", v)
    if isinstance(v, (list, tuple)):
        return ("array", tuple(_norm(x) for x in v))
    return ("other", repr(v))


def _sort_key(nv):
    tag, v = nv
    if tag == "null":
        return (0, "", 0)
    if tag == "num":
        if math.isnan(v):
            return (1, tag, math.inf)
        # Near-equal floats must sort alike on both sides.
        return (1, tag, v if math.isinf(v) else float(f"{v:.8g}"))
    if tag == "array":
        return (1, tag, tuple(_sort_key(x) for x in v))
    if tag == "timestamptz":
        return (1, tag, v.astimezone(dt.timezone.utc).isoformat())
    return (1, tag, v if tag != "other" else str(v))


def _value_eq(a, b):
    (ta, va), (tb, vb) = a, b
    if ta != tb:
        return False
    if ta == "num":
        if math.isnan(va) or math.isnan(vb):
            return math.isnan(va) and math.isnan(vb)
        if math.isinf(va) or math.isinf(vb):
            return va == vb
        return math.isclose(va, vb, rel_tol=REL_TOL, abs_tol=1e-12)
    if ta == "array":
        return len(va) == len(vb) and all(_value_eq(x, y) for x, y in zip(va, vb))
    return va == vb


def _rows_eq(ra, rb):
    return len(ra) == len(rb) and all(_value_eq(x, y) for x, y in zip(ra, rb))


def compare(pg, rs, ordered):
    """None when the outcomes match, else a one-line description of the difference."""
    if isinstance(pg, Failure) or isinstance(rs, Failure):
        if isinstance(pg, Failure) and isinstance(rs, Failure):
            if pg.sqlstate[:2] == rs.sqlstate[:2]:
                return None
            return f"both fail, SQLSTATE class differs: {pg.sqlstate} vs {rs.sqlstate}"
        return "PostgreSQL fails, redsql does not" if isinstance(pg, Failure) \
            else "redsql fails, PostgreSQL does not"
    if pg.columns != rs.columns:
        return f"column names differ: {pg.columns} vs {rs.columns}"
    if len(pg.rows) != len(rs.rows):
        return f"row counts differ: {len(pg.rows)} vs {len(rs.rows)}" + _count_diff(pg.rows, rs.rows)
    a = [(tuple(_norm(v) for v in row), row) for row in pg.rows]
    b = [(tuple(_norm(v) for v in row), row) for row in rs.rows]
    if not ordered:
        def key(pair):
            return tuple(_sort_key(v) for v in pair[0])
        a.sort(key=key)
        b.sort(key=key)
    for i, ((x, rx), (y, ry)) in enumerate(zip(a, b)):
        if not _rows_eq(x, y):
            where = f"row {i + 1}" if ordered else "sorted row " + str(i + 1)
            return f"values differ at {where}: {_show_row(rx)} vs {_show_row(ry)}"
    return None


def _count_diff(pg_rows, rs_rows):
    """A few rows that only one side returned (compared by their sort keys)."""
    def keyed(rows):
        out = {}
        for row in rows:
            out.setdefault(tuple(_sort_key(_norm(v)) for v in row), []).append(row)
        return out
    a, b = keyed(pg_rows), keyed(rs_rows)
    only_pg = [r for k, rs in a.items() for r in rs[len(b.get(k, [])):]]
    only_rs = [r for k, rs in b.items() for r in rs[len(a.get(k, [])):]]
    parts = []
    if only_pg:
        parts.append("only in PostgreSQL: " + ", ".join(_show_row(r) for r in only_pg[:3]))
    if only_rs:
        parts.append("only in redsql: " + ", ".join(_show_row(r) for r in only_rs[:3]))
    return "; " + "; ".join(parts) if parts else ""


def _show_value(v):
    """One value as a client would print it, with its Python type where it matters."""
    if v is None:
        return "NULL"
    if isinstance(v, (list, tuple)):
        return "{" + ",".join(_show_value(x) for x in v) + "}"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, (bool, int, float, Decimal)):
        return str(v)
    return f"{v} ({type(v).__name__})"


def _show_row(row):
    return "(" + ", ".join(_show_value(v) for v in row) + ")"


def show(outcome, limit=5, width=400):
    """A short human-readable rendering of an outcome."""
    if isinstance(outcome, Failure):
        text = f"ERROR {outcome.sqlstate}: {outcome.message}"
        return text if len(text) <= width else text[:width] + "…"
    lines = [f"{len(outcome.rows)} rows, columns {outcome.columns}"]
    for row in outcome.rows[:limit]:
        line = _show_row(row)
        lines.append("  " + (line if len(line) <= width else line[:width] + "…"))
    if len(outcome.rows) > limit:
        lines.append(f"  … {len(outcome.rows) - limit} more")
    return "\n".join(lines)


def has_top_level_order_by(sql):
    """True when ORDER BY appears outside parentheses, quotes and comments."""
    depth, i, n = 0, 0, len(sql)
    low = sql.lower()
    while i < n:
        c = sql[i]
        if c == "'":
            j = sql.find("'", i + 1)
            while j != -1 and j + 1 < n and sql[j + 1] == "'":
                j = sql.find("'", j + 2)
            i = n if j == -1 else j + 1
            continue
        if c == '"':
            j = sql.find('"', i + 1)
            i = n if j == -1 else j + 1
            continue
        if low.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j == -1 else j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and low.startswith("order", i) and (i == 0 or not low[i - 1].isalnum()):
            rest = low[i + 5:].lstrip()
            if rest.startswith("by"):
                return True
        i += 1
    return False
