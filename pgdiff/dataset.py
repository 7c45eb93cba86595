"""The differential test's dataset: three tables generated deterministically.

The same DDL text and the same COPY FROM STDIN stream are sent to PostgreSQL and
to redsql, over the wire, so both servers hold exactly the same values.

Tables (all names start with pd_ so they cannot collide with other tests that
share the Redis database):

  pd_customers  200 rows  text with mixed case and unicode, '' and NULL emails,
                          dates, nullable integers, booleans and numerics,
                          a self reference (referred_by)
  pd_products    40 rows  numeric prices, nullable doubles and categories
  pd_orders     600 rows  foreign keys (some dangling, some NULL), timestamps,
                          nullable dates, doubles, '' and NULL channels
"""

import datetime as dt
import random
from decimal import Decimal

SEED = 20240229

DDL = {
    "pd_customers": """CREATE TABLE pd_customers (
    id bigint PRIMARY KEY,
    name text,
    email text,
    city text,
    country text,
    segment text,
    signup_date date,
    birth_year integer,
    vip boolean,
    credit_limit numeric(10,2),
    referred_by bigint
)""",
    "pd_products": """CREATE TABLE pd_products (
    id bigint PRIMARY KEY,
    sku text,
    name text,
    category text,
    price numeric(10,2),
    weight_kg double precision,
    in_stock boolean,
    launched date
)""",
    "pd_orders": """CREATE TABLE pd_orders (
    id bigint PRIMARY KEY,
    customer_id bigint,
    product_id bigint,
    qty integer,
    unit_price numeric(10,2),
    discount double precision,
    status text,
    channel text,
    ordered_at timestamp,
    shipped_on date,
    gift boolean,
    note text
)""",
}

# Columns a RediSearch index covers in the second pass (text, bigint, double only).
INDEX_DDL = ("CREATE INDEX pd_orders_idx ON pd_orders "
             "(customer_id, product_id, qty, unit_price, discount, status, channel)")

FIRST = ["Anna", "anna", "Bob", "Chloé", "Dmitri", "Émile", "Fatima", "Gus",
         "Hana", "Ingrid", "Jürgen", "Kai", "Łukasz", "María", "Noah", "Olivia",
         "Paul", "Quinn", "Renée", "Søren", "Tomás", "Uma", "Victor", "Wei",
         "Xavier", "Yuki", "Zoë", "ZACK", "al", "Ölçer"]
LAST = ["Smith", "O'Brien", "de la Cruz", "Müller", "Nguyen", "Kowalski",
        "García", "Ito", "Dubois", "van Dijk", "Rossi", "Johansson", "Silva",
        "Öztürk", "Brown", "lee"]
CITIES = [("Berlin", "DE"), ("München", "DE"), ("Paris", "FR"), ("Lyon", "FR"),
          ("New York", "US"), ("austin", "US"), ("Tokyo", "JP"), ("Osaka", "JP"),
          ("São Paulo", "BR"), ("Kraków", "PL"), ("Zürich", "CH"), ("Madrid", "ES")]
SEGMENTS = ["retail", "smb", "enterprise"]
CATEGORIES = ["Books", "Electronics", "Garden", "Toys", "Kitchen", "books"]
PRODUCT_WORDS = ["Lamp", "Kettle", "Drone", "Novel", "Rake", "Puzzle", "Cable",
                 "Mug", "Chair", "Robot", "Atlas", "Hose", "Café Press", "Über Fan",
                 "kite", "Bücherregal", "Tent", "Watch", "Speaker", "Vase"]
STATUSES = ["pending", "shipped", "delivered", "delivered", "delivered",
            "cancelled", "returned"]
CHANNELS = ["web", "web", "web", "store", "phone", "Web", "", None]
NOTES = ["leave at door", "Call before delivery", "gift wrap, please",
         "fragile — handle with care", "100% urgent", "it's a surprise",
         "back_order", "  padded  ", "ÉTÉ sale"]


def _day(rng, start, span_days):
    return start + dt.timedelta(days=rng.randrange(span_days))


def customers(rng):
    rows = []
    for i in range(1, 201):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        r = rng.random()
        email = None if r < 0.1 else "" if r < 0.15 else \
            f"{first.lower()}.{i}@{rng.choice(['example.com', 'Mail.org', 'test.io'])}"
        city, country = rng.choice(CITIES)
        if rng.random() < 0.08:
            city = None
        if rng.random() < 0.05:
            country = country.lower()
        rows.append((
            i, name, email, city, country, rng.choice(SEGMENTS),
            _day(rng, dt.date(2021, 1, 1), 1400),
            None if rng.random() < 0.15 else rng.randrange(1950, 2005),
            None if rng.random() < 0.1 else rng.random() < 0.25,
            None if rng.random() < 0.12 else Decimal(rng.randrange(0, 2000000)) / 100,
            None if rng.random() < 0.7 or i == 1 else rng.randrange(1, i),
        ))
    return rows


def products(rng):
    rows = []
    for i in range(1, 41):
        word = PRODUCT_WORDS[i % len(PRODUCT_WORDS)]
        name = word if i <= len(PRODUCT_WORDS) else f"{word} {['Pro', 'mini', 'XL', 'Lite'][i % 4]}"
        rows.append((
            i, f"SKU-{i:04d}", name,
            None if i % 13 == 0 else CATEGORIES[rng.randrange(len(CATEGORIES))],
            Decimal(rng.randrange(99, 50000)) / 100,
            None if rng.random() < 0.15 else round(rng.uniform(0.05, 25.0), 3),
            rng.random() < 0.8,
            _day(rng, dt.date(2019, 6, 1), 1800),
        ))
    return rows


def orders(rng, prods):
    rows = []
    base = dt.datetime(2023, 1, 1)
    for i in range(1, 601):
        r = rng.random()
        customer = None if r < 0.02 else rng.randrange(201, 206) if r < 0.05 else rng.randrange(1, 201)
        product = rng.randrange(1, 41) if rng.random() < 0.97 else 99
        price = prods[product - 1][4] if product <= 40 else Decimal("9.99")
        seconds = rng.randrange(0, 730 * 86400)
        if rng.random() < 0.1:
            seconds -= seconds % 86400  # exactly midnight
        ordered = base + dt.timedelta(seconds=seconds)
        if rng.random() < 0.05:
            ordered += dt.timedelta(microseconds=rng.randrange(1, 1000) * 1000)
        status = rng.choice(STATUSES)
        shipped = None if status in ("pending", "cancelled") or rng.random() < 0.05 else \
            ordered.date() + dt.timedelta(days=rng.randrange(0, 9))
        rows.append((
            i, customer, product,
            rng.choice([1, 1, 1, 2, 2, 3, 4, 5, 10, 12]),
            price,
            None if rng.random() < 0.6 else rng.choice([0.0, 0.05, 0.1, 0.15, 0.25, 0.5]),
            status, rng.choice(CHANNELS), ordered, shipped,
            None if rng.random() < 0.1 else rng.random() < 0.2,
            None if rng.random() < 0.85 else rng.choice(NOTES),
        ))
    return rows


def generate():
    """Return {table: (columns, rows)} in load order."""
    rng = random.Random(SEED)
    cust = customers(rng)
    prods = products(rng)
    ords = orders(rng, prods)
    cols = {t: [line.split()[0] for line in ddl.splitlines()[1:-1]] for t, ddl in DDL.items()}
    return {"pd_customers": (cols["pd_customers"], cust),
            "pd_products": (cols["pd_products"], prods),
            "pd_orders": (cols["pd_orders"], ords)}


def drop_all(conn):
    for table in DDL:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def load(conn):
    """Create and fill the tables over `conn` (autocommit) with COPY FROM STDIN."""
    drop_all(conn)
    for table, (columns, rows) in generate().items():
        conn.execute(DDL[table])
        with conn.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
