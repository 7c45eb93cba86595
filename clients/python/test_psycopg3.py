"""psycopg 3 (extended protocol for parameters, auto-prepare, binary results,
server-side cursors, COPY, pipelined executemany)."""
import datetime as dt

import psycopg
import psycopg.errors

from dataset import CITIES, CITY_COLUMNS, CITY_TYPE_OIDS, ORDERS
from harness import dsn, eq

CITY_BY_ID = "SELECT id, name, population, area, founded, capital, updated_at FROM cl_city WHERE id = %s"


def connect(**kw):
    return psycopg.connect(dsn("cl-psycopg3"), autocommit=True, **kw)


def city(i):
    c = CITIES[i - 1]
    return (c[0], c[1], c[3], c[4], c[5], c[6], c[7])


def check_select_types():
    with connect() as conn:
        cur = conn.execute("SELECT * FROM cl_city ORDER BY id")
        eq([d.name for d in cur.description], CITY_COLUMNS, "column names")
        eq([d.type_code for d in cur.description], CITY_TYPE_OIDS, "type OIDs")
        eq(cur.fetchall(), CITIES)


def check_params():
    """Server-side parameters ($1...) of every type psycopg dumps."""
    with connect() as conn:
        eq(conn.execute("SELECT name FROM cl_city WHERE country = %s AND population > %s ORDER BY id",
                        ("DE", 2000000)).fetchall(), [("Berlin",)])
        eq(conn.execute("SELECT id FROM cl_city WHERE founded >= %s AND capital = %s AND area > %s",
                        (dt.date(1901, 2, 3), True, 100.5)).fetchall(), [(3,)])
        eq(conn.execute("SELECT id FROM cl_city WHERE updated_at < %s ORDER BY id",
                        (dt.datetime(2024, 1, 6, 12, 0),)).fetchall(), [(1,), (2,)])


def check_param_in_select_list():
    """A parameter whose type only the client knows, in the select list."""
    with connect() as conn:
        eq(conn.execute("SELECT %s::text AS t, %s::bigint + 1 AS n", ("x", 41)).fetchone(), ("x", 42))


def check_parameter_status_after_set():
    """SET of a reported setting sends ParameterStatus, which psycopg keeps
    in conn.info (PostgreSQL reports application_name, DateStyle, ...)."""
    with connect() as conn:
        conn.execute("SET application_name = 'cl_app'")
        eq(conn.info.parameter_status("application_name"), "cl_app", "application_name")
        conn.execute("SET TIME ZONE 'UTC'")
        eq(conn.info.parameter_status("TimeZone"), "UTC", "TimeZone")


def check_auto_prepare():
    """After prepare_threshold (5) executions psycopg prepares the statement
    under a name (_pg3_N) and only Binds/Executes it."""
    with connect() as conn:
        conn.prepare_threshold = 2
        for i in [1, 2, 3, 4, 5, 1, 2]:
            eq(conn.execute(CITY_BY_ID, (i,)).fetchone(), city(i), f"execution with id {i}")
        eq(conn.execute(CITY_BY_ID, (3,), prepare=True).fetchone(), city(3), "explicitly prepared")


def check_binary_results():
    """Every column type in binary format."""
    with connect() as conn:
        cur = conn.cursor(binary=True)
        cur.execute("SELECT * FROM cl_city ORDER BY id")
        eq(cur.fetchall(), CITIES)
        cur.execute(CITY_BY_ID, (4,))
        eq(cur.fetchone(), city(4), "binary with a binary parameter")


def check_server_side_cursor():
    """DECLARE "cl_srv" CURSOR FOR ..., FETCH FORWARD n FROM "cl_srv", CLOSE."""
    with psycopg.connect(dsn("cl-psycopg3")) as conn:
        with conn.cursor(name="cl_srv") as cur:
            cur.itersize = 7
            cur.execute("SELECT id, amount FROM cl_order WHERE id > %s ORDER BY id", (10,))
            first = cur.fetchmany(3)
            rest = cur.fetchall()
        eq(first + rest, [(o[0], o[3]) for o in ORDERS if o[0] > 10])


def check_transaction():
    """BEGIN ... COMMIT around a read and a write."""
    with psycopg.connect(dsn("cl-psycopg3")) as conn:
        with conn.transaction():
            conn.execute("DELETE FROM cl_scratch WHERE id BETWEEN 200 AND 299")
            conn.execute("INSERT INTO cl_scratch VALUES (%s, %s, %s)", (200, "tx", 0.5))
        eq(conn.execute("SELECT label FROM cl_scratch WHERE id = 200").fetchone(), ("tx",))
        eq(conn.info.transaction_status.name, "INTRANS", "after the autobegun SELECT")


def check_executemany_pipeline():
    """executemany runs in libpq pipeline mode: many Parse/Bind/Execute, one Sync."""
    rows = [(210 + i, f"p{i}", i / 4) for i in range(10)]
    with connect() as conn:
        conn.execute("DELETE FROM cl_scratch WHERE id BETWEEN 210 AND 219")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO cl_scratch (id, label, score) VALUES (%s, %s, %s)", rows)
        eq(conn.execute("SELECT id, label, score FROM cl_scratch WHERE id BETWEEN 210 AND 219 ORDER BY id")
           .fetchall(), rows)


def check_copy_in_out():
    rows = [(220, "copy a", 1.25), (221, None, None), (222, "tab\there", 3.0)]
    with connect() as conn:
        conn.execute("DELETE FROM cl_scratch WHERE id BETWEEN 220 AND 229")
        with conn.cursor() as cur:
            with cur.copy("COPY cl_scratch (id, label, score) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            with cur.copy("COPY (SELECT id, label, score FROM cl_scratch WHERE id BETWEEN 220 AND 229 "
                          "ORDER BY id) TO STDOUT") as copy:
                copy.set_types(["int8", "text", "float8"])
                got = list(copy.rows())
        eq(got, rows)


def check_error_sqlstate():
    with connect() as conn:
        try:
            conn.execute("SELECT cl_no_such_column FROM cl_city")
            raise AssertionError("no error for an unknown column")
        except psycopg.errors.UndefinedColumn:
            pass
        try:
            conn.execute("SELECT * FROM cl_no_such_table WHERE id = %s", (1,))
            raise AssertionError("no error for an unknown table")
        except psycopg.errors.UndefinedTable:
            pass
        eq(conn.execute("SELECT count(*) FROM cl_order WHERE status = %s", ("paid",)).fetchone(), (20,))
