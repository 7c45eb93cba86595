-- Grafana 11/12 PostgreSQL data source (grafana-postgresql-datasource over
-- pgx v5): the health check, the version probe of the config page, the query
-- builder's table and column pickers (postgresMetaQuery.ts) and panel queries
-- with the $__timeFilter / $__timeGroup / $__timeEpoch macros expanded as
-- Grafana expands them (macros.go). pgx sends statements without arguments as
-- simple queries and the rest prepared, asking binary results.
-- default protocol: binary

-- check: ping
-- protocol: simple
-- ping

-- check: version-probe
-- expect value: 1600
SELECT current_setting('server_version_num')::int/100 as version

-- check: timescaledb-probe
-- expect value: 0
SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'

-- check: table-picker
-- expect row: table=cl_city
-- expect row: table=cl_order
select quote_ident(table_name) as "table" from information_schema.tables
    where quote_ident(table_schema) not in ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
      and 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )

-- check: column-picker
-- expect rows: 8
-- expect row: column=updated_at, type=timestamp without time zone
-- expect row: column=population, type=bigint
select quote_ident(column_name) as "column", data_type as "type"
    from information_schema.columns
    where quote_ident(table_name) = 'cl_city'

-- check: time-filter
-- expect rows: 3
-- expect row: time=2024-01-05 10:00:00, population=2102650
SELECT
  updated_at AS "time",
  population
FROM cl_city
WHERE
  updated_at BETWEEN '2024-01-01T00:00:00Z' AND '2024-02-29T23:59:59Z'
ORDER BY 1

-- check: time-group
-- expect rows: 4
-- expect row: time=1704412800, count=1
SELECT
  floor(extract(epoch from updated_at)/86400)*86400 AS "time",
  count(*) AS "count"
FROM cl_city
WHERE
  updated_at BETWEEN '2024-01-01T00:00:00Z' AND '2024-12-31T23:59:59Z'
GROUP BY 1
ORDER BY 1

-- check: time-epoch
-- expect rows: 4
-- expect row: time=1704448800, value=105.4
SELECT
  extract(epoch from updated_at) AS "time",
  area AS value
FROM cl_city
WHERE updated_at IS NOT NULL
ORDER BY 1

-- check: table-query
-- expect rows: 3
-- expect row: status=shipped, total=1525
SELECT status, sum(amount) AS total FROM cl_order GROUP BY status ORDER BY status
