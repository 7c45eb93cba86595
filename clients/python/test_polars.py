"""polars.read_database_uri with connectorx and with ADBC (adbc-driver-postgresql),
and polars.read_database over SQLAlchemy."""
import datetime as dt

import polars as pl
import sqlalchemy as sa

from dataset import CITIES, CITY_COLUMNS
from harness import eq, uri

QUERY = "SELECT * FROM cl_city ORDER BY id"
EXPECTED_DTYPES = [pl.Int64, pl.String, pl.String, pl.Int64, pl.Float64, pl.Date, pl.Boolean]


def verify_frame(df):
    eq(df.columns, CITY_COLUMNS, "columns")
    eq(df.dtypes[:7], EXPECTED_DTYPES, "dtypes")
    eq(df.dtypes[7].base_type(), pl.Datetime, "updated_at dtype")
    got = [tuple(r) for r in df.rows()]
    eq(got, CITIES)


def check_connectorx():
    verify_frame(pl.read_database_uri(QUERY, uri(app="cl-polars-cx"), engine="connectorx"))


def check_connectorx_partitioned():
    """connectorx splits a query on a numeric column (min/max, then one query per range)."""
    df = pl.read_database_uri("SELECT id, amount FROM cl_order", uri(app="cl-polars-cx"), engine="connectorx",
                              partition_on="id", partition_num=3)
    eq(df.height, 60, "rows")
    eq(df["amount"].sum(), sum(i * 2.5 for i in range(1, 61)), "amount sum")


def check_adbc():
    verify_frame(pl.read_database_uri(QUERY, uri(app="cl-polars-adbc"), engine="adbc"))


def check_adbc_params():
    import adbc_driver_postgresql.dbapi as adbc
    with adbc.connect(uri(app="cl-polars-adbc")) as conn:
        df = pl.read_database("SELECT id, name FROM cl_city WHERE population > $1 ORDER BY id", conn,
                              execute_options={"parameters": [2000000]})
    eq(df.rows(), [(1, "Paris"), (3, "Berlin")])


def check_read_database_sqlalchemy():
    eng = sa.create_engine(uri("postgresql+psycopg", app="cl-polars-sa"), poolclass=sa.NullPool)
    with eng.connect() as conn:
        df = pl.read_database("SELECT id, founded FROM cl_city WHERE id <= 2 ORDER BY id", conn)
    eq(df.rows(), [(1, dt.date(1900, 1, 1)), (2, dt.date(1901, 2, 3))])
