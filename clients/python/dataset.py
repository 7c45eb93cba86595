"""The rows clients/seed.sql loads, as Python values, for the checks to compare."""
import datetime as dt

CITY_COLUMNS = ["id", "name", "country", "population", "area", "founded", "capital", "updated_at"]
CITIES = [
    (1, "Paris", "FR", 2102650, 105.4, dt.date(1900, 1, 1), True, dt.datetime(2024, 1, 5, 10, 0, 0)),
    (2, "Lyon", "FR", 522250, 47.87, dt.date(1901, 2, 3), False, dt.datetime(2024, 1, 6, 11, 30, 0)),
    (3, "Berlin", "DE", 3878100, 891.1, dt.date(1902, 3, 4), True, dt.datetime(2024, 2, 7, 12, 45, 30)),
    (4, "Hamburg", "DE", 1910160, 755.2, dt.date(1903, 4, 5), False, dt.datetime(2024, 3, 8, 8, 0, 0)),
    (5, "Porto", "PT", 231800, 41.42, dt.date(1904, 5, 6), False, None),
]
# PostgreSQL type OIDs of the cl_city columns, as RowDescription must carry them.
CITY_TYPE_OIDS = [20, 25, 25, 20, 701, 1082, 16, 1114]
STATUSES = ["new", "paid", "shipped"]
ORDERS = [(i, i % 5 + 1, STATUSES[i % 3], i * 2.5, i % 7) for i in range(1, 61)]
ORDER_COLUMNS = ["id", "city_id", "status", "amount", "qty"]
