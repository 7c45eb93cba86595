"""SQLAlchemy 2: the dialect's connect-time queries and inspect() (tables,
columns, primary keys, indexes), over psycopg2 and over psycopg 3."""
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pgt

from dataset import CITIES
from harness import contains, eq, uri


def engine(driver="psycopg2"):
    return sa.create_engine(uri(f"postgresql+{driver}", app=f"cl-sqlalchemy-{driver}"), poolclass=sa.NullPool)


def check_connect():
    """Dialect initialize: hstore lookup, version(), current_schema(), SHOW ..."""
    with engine().connect() as c:
        eq(c.execute(sa.text("SELECT count(*) FROM cl_city")).scalar(), 5)


def check_schema_names():
    contains(sa.inspect(engine()).get_schema_names(), ["public"], "schemas")


def check_table_names():
    names = sa.inspect(engine()).get_table_names()
    contains(names, ["cl_city", "cl_order", "cl_scratch"], "tables")


def check_table_names_psycopg3():
    contains(sa.inspect(engine("psycopg")).get_table_names(), ["cl_city", "cl_order"], "tables")


def check_columns():
    cols = sa.inspect(engine()).get_columns("cl_city")
    eq([c["name"] for c in cols], ["id", "name", "country", "population", "area", "founded", "capital",
                                   "updated_at"], "names")
    types = [type(c["type"]) for c in cols]
    eq(types, [pgt.BIGINT, pgt.TEXT, pgt.TEXT, pgt.BIGINT, pgt.DOUBLE_PRECISION, pgt.DATE, pgt.BOOLEAN,
               pgt.TIMESTAMP], "types")
    eq([c["nullable"] for c in cols], [False] + [True] * 7, "nullable")


def check_pk_constraint():
    pk = sa.inspect(engine()).get_pk_constraint("cl_city")
    eq((pk["name"], pk["constrained_columns"]), ("cl_city_pkey", ["id"]))


def check_indexes():
    """The RediSearch index shows as a (non-unique) index over its columns."""
    idx = sa.inspect(engine()).get_indexes("cl_order")
    eq([(i["name"], i["column_names"], i["unique"]) for i in idx],
       [("cl_order_idx", ["status", "amount"], False)])


def check_foreign_keys_empty():
    eq(sa.inspect(engine()).get_foreign_keys("cl_order"), [])


def check_reflect_and_select():
    """Table(autoload_with=...) then a Core select with bound parameters."""
    eng = engine()
    city = sa.Table("cl_city", sa.MetaData(), autoload_with=eng)
    with eng.connect() as c:
        rows = c.execute(sa.select(city.c.id, city.c.name).where(city.c.country == "FR")
                         .order_by(city.c.id)).all()
    eq([tuple(r) for r in rows], [(c[0], c[1]) for c in CITIES if c[2] == "FR"])


def check_orm_session():
    """An ORM session (BEGIN, SELECT with a LIMIT parameter, ROLLBACK)."""
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class City(Base):
        __tablename__ = "cl_city"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

    with Session(engine("psycopg")) as s:
        got = s.scalars(sa.select(City).where(City.id > 1).order_by(City.id).limit(2)).all()
        eq([(c.id, c.name) for c in got], [(2, "Lyon"), (3, "Berlin")])
