"""pandas.read_sql over SQLAlchemy (psycopg2) and a plain DBAPI connection."""
import pandas as pd
import psycopg2
import sqlalchemy as sa

from dataset import CITIES, CITY_COLUMNS
from harness import dsn, eq, uri


def engine():
    return sa.create_engine(uri("postgresql+psycopg2", app="cl-pandas"), poolclass=sa.NullPool)


def check_read_sql_query():
    df = pd.read_sql("SELECT * FROM cl_city ORDER BY id", engine())
    eq(list(df.columns), CITY_COLUMNS, "columns")
    eq(list(df["name"]), [c[1] for c in CITIES], "names")
    eq(str(df["id"].dtype), "int64", "id dtype")
    eq(str(df["area"].dtype), "float64", "area dtype")
    eq(str(df["capital"].dtype), "bool", "capital dtype")
    eq(str(df["updated_at"].dtype).startswith("datetime64"), True, f"updated_at dtype {df['updated_at'].dtype}")
    eq(df["population"].sum(), sum(c[3] for c in CITIES), "population sum")


def check_read_sql_params():
    df = pd.read_sql(sa.text("SELECT id, name FROM cl_city WHERE country = :c ORDER BY id"), engine(),
                     params={"c": "DE"})
    eq(df.values.tolist(), [[3, "Berlin"], [4, "Hamburg"]])


def check_read_sql_table():
    """read_sql_table reflects the table (SQLAlchemy inspect) first."""
    df = pd.read_sql_table("cl_city", engine())
    eq(sorted(df["id"].tolist()), [1, 2, 3, 4, 5])
    eq(list(df.columns), CITY_COLUMNS)


def check_read_sql_dbapi():
    with psycopg2.connect(dsn("cl-pandas")) as conn:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns about non-SQLAlchemy connections
            df = pd.read_sql("SELECT status, count(*) AS n FROM cl_order GROUP BY status ORDER BY status", conn)
    eq(df.values.tolist(), [["new", 20], ["paid", 20], ["shipped", 20]])
