"""psycopg2 (simple protocol, client-side parameters, named cursors)."""
import psycopg2
import psycopg2.errors

from dataset import CITIES, CITY_COLUMNS, CITY_TYPE_OIDS, ORDERS
from harness import contains, dsn, eq


def connect():
    return psycopg2.connect(dsn("cl-psycopg2"))


def check_connect():
    with connect() as conn:
        eq(conn.server_version >= 100000, True, f"server_version {conn.server_version}")
        with conn.cursor() as cur:
            cur.execute("SELECT 1 + 1 AS two")
            eq(cur.fetchone(), (2,))


def check_select_types():
    """Every column type converts to its Python type."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM cl_city ORDER BY id")
        eq([d.name for d in cur.description], CITY_COLUMNS, "column names")
        eq([d.type_code for d in cur.description], CITY_TYPE_OIDS, "type OIDs")
        eq(cur.fetchall(), CITIES)


def check_params():
    """Client-side interpolation of str, int, float, date, bool, None."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT name FROM cl_city WHERE country = %s AND population > %s ORDER BY id",
                    ("DE", 2000000))
        eq(cur.fetchall(), [("Berlin",)])
        cur.execute("SELECT id FROM cl_city WHERE founded >= %(d)s AND capital = %(c)s AND area > %(a)s",
                    {"d": CITIES[1][5], "c": True, "a": 100.5})
        eq(cur.fetchall(), [(3,)])
        cur.execute("SELECT count(*) FROM cl_city WHERE updated_at IS NULL OR name = %s", (None,))
        eq(cur.fetchone(), (1,))


def check_aggregate():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT status, count(*), sum(amount) FROM cl_order GROUP BY status ORDER BY status")
        expected = {}
        for _, _, status, amount, _ in ORDERS:
            n, s = expected.get(status, (0, 0.0))
            expected[status] = (n + 1, s + amount)
        eq(cur.fetchall(), [(k, v[0], v[1]) for k, v in sorted(expected.items())])


def check_named_cursor():
    """A server-side cursor: DECLARE ... CURSOR WITHOUT HOLD FOR, FETCH FORWARD n, CLOSE."""
    with connect() as conn:
        with conn.cursor(name="cl_pg2_cur") as cur:
            cur.itersize = 7
            cur.execute("SELECT id, amount FROM cl_order ORDER BY id")
            rows = list(cur)
        eq(rows, [(o[0], o[3]) for o in ORDERS])


def check_error_then_recover():
    """An unknown table is 42P01 (UndefinedTable); after ROLLBACK the connection works."""
    conn = connect()
    try:
        cur = conn.cursor()
        try:
            cur.execute("SELECT * FROM cl_no_such_table")
            raise AssertionError("no error for an unknown table")
        except psycopg2.errors.UndefinedTable:
            pass
        conn.rollback()
        cur.execute("SELECT count(*) FROM cl_city")
        eq(cur.fetchone(), (5,))
    finally:
        conn.close()


def check_insert_executemany():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM cl_scratch WHERE id BETWEEN 100 AND 199")
        cur.executemany("INSERT INTO cl_scratch (id, label, score) VALUES (%s, %s, %s)",
                        [(100, "a", 1.5), (101, "b'quote", None), (102, "ç", -2.0)])
        conn.commit()
        cur.execute("SELECT id, label, score FROM cl_scratch WHERE id BETWEEN 100 AND 199 ORDER BY id")
        eq(cur.fetchall(), [(100, "a", 1.5), (101, "b'quote", None), (102, "ç", -2.0)])


def check_copy_expert():
    import io
    with connect() as conn, conn.cursor() as cur:
        buf = io.StringIO()
        cur.copy_expert("COPY (SELECT id, name FROM cl_city ORDER BY id) TO STDOUT WITH (FORMAT csv)", buf)
        eq(buf.getvalue().splitlines(), [f"{c[0]},{c[1]}" for c in CITIES])


def check_catalog_tables():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_name LIKE 'cl%%' ORDER BY 1")
        contains([r[0] for r in cur.fetchall()], ["cl_city", "cl_order", "cl_scratch"], "tables")


def check_like_backslash_escape():
    """LIKE's default escape is backslash: 'cl\\_%' matches cl_city, not clxcity
    (pgjdbc and DBeaver escape _ in name patterns this way)."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT 'cl_city' LIKE 'cl\\_%%', 'clxcity' LIKE 'cl\\_%%'")
        eq(cur.fetchone(), (True, False))
