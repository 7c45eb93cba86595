-- Metabase 0.5x (driver :postgres over pgjdbc, extended protocol): the
-- connection setup, "test connection", a database sync (describe-database,
-- describe-fields, describe-fks, describe-indexes), field fingerprinting and a
-- question with a GROUP BY, as metabase.driver.postgres and sql-jdbc.sync
-- send them (HoneySQL-quoted identifiers).
-- default protocol: extended

-- check: set-extra-float-digits
SET extra_float_digits = 3

-- check: set-application-name
SET application_name = 'Metabase v0.55.1 [4a2e1a5c-ab3e-4b4f-8b0b-7f6c0b4d2e10]'

-- check: show-isolation
-- expect value: read committed
SHOW TRANSACTION ISOLATION LEVEL

-- check: set-session-characteristics
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED

-- check: show-timezone
-- expect rows: 1
show timezone

-- check: can-connect
-- expect value: 1
SELECT 1

-- check: version
-- expect rows: 1
SELECT version()

-- check: table-privileges
-- expect row: schema=public, table=cl_city, select=t
with table_privileges as (
 select
   NULL as role,
   t.schemaname as schema,
   t.objectname as table,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'update') as update,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'select') as select,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'insert') as insert,
   pg_catalog.has_table_privilege(     current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'delete') as delete
 from (
   select schemaname, tablename as objectname from pg_catalog.pg_tables
   union
   select schemaname, viewname as objectname from pg_catalog.pg_views
   union
   select schemaname, matviewname as objectname from pg_catalog.pg_matviews
 ) t
 where t.schemaname !~ '^pg_'
   and t.schemaname <> 'information_schema'
   and pg_catalog.has_schema_privilege(current_user, t.schemaname, 'usage')
)
select t.*
from table_privileges t

-- check: describe-database
-- expect row: schema=public, name=cl_city, type=TABLE, estimated_row_count=5
-- expect row: schema=public, name=cl_order, type=TABLE, estimated_row_count=60
SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", "d"."description" AS "description", "stat"."n_live_tup" AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = 0) AND ("d"."classoid" = 'pg_class'::regclass) LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ '^pg_') AND ("n"."nspname" <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND ("n"."nspname" NOT IN ('information_schema')) ORDER BY "type" ASC, "schema" ASC, "name" ASC

-- check: describe-fields
-- expect rows: 8
-- expect row: name=id, database-type=int8, database-position=0, pk?=t, database-required=t
-- expect row: name=area, database-type=float8, database-position=4, pk?=f, database-required=f
-- expect row: name=updated_at, database-type=timestamp, pk?=f
SELECT "c"."column_name" AS "name", CASE WHEN "c"."udt_schema" IN ('public', 'pg_catalog') THEN FORMAT('%s', "c"."udt_name") ELSE FORMAT('"%s"."%s"', "c"."udt_schema", "c"."udt_name") END AS "database-type", "c"."ordinal_position" - 1 AS "database-position", "c"."table_schema" AS "table-schema", "c"."table_name" AS "table-name", "pk"."column_name" IS NOT NULL AS "pk?", COL_DESCRIPTION(CAST(CAST(FORMAT('%I.%I', CAST("c"."table_schema" AS TEXT), CAST("c"."table_name" AS TEXT)) AS REGCLASS) AS OID), "c"."ordinal_position") AS "field-comment", (("column_default" IS NULL) OR (LOWER("column_default") = 'null')) AND ("is_nullable" = 'NO') AND NOT ((("column_default" IS NOT NULL) AND ("column_default" LIKE '%(%)')) OR ("is_identity" <> 'NO')) AS "database-required", (("column_default" IS NOT NULL) AND ("column_default" LIKE '%(%)')) OR ("is_identity" <> 'NO') AS "database-is-auto-increment" FROM "information_schema"."columns" AS "c" LEFT JOIN (SELECT "tc"."table_schema", "tc"."table_name", "kc"."column_name" FROM "information_schema"."table_constraints" AS "tc" INNER JOIN "information_schema"."key_column_usage" AS "kc" ON ("tc"."constraint_name" = "kc"."constraint_name") AND ("tc"."table_schema" = "kc"."table_schema") AND ("tc"."table_name" = "kc"."table_name") WHERE "tc"."constraint_type" = 'PRIMARY KEY') AS "pk" ON ("c"."table_schema" = "pk"."table_schema") AND ("c"."table_name" = "pk"."table_name") AND ("c"."column_name" = "pk"."column_name") WHERE (c.table_schema !~ '^information_schema|catalog_history|pg_') AND ("c"."table_schema" IN ('public')) AND ("c"."table_name" IN ('cl_city')) ORDER BY "table-schema" ASC, "table-name" ASC, "database-position" ASC

-- check: describe-fks
-- expect rows: 0
SELECT "fk_ns"."nspname" AS "fk-table-schema", "fk_table"."relname" AS "fk-table-name", "fk_column"."attname" AS "fk-column-name", "pk_ns"."nspname" AS "pk-table-schema", "pk_table"."relname" AS "pk-table-name", "pk_column"."attname" AS "pk-column-name" FROM "pg_constraint" AS "c" INNER JOIN "pg_class" AS "fk_table" ON "c"."conrelid" = "fk_table"."oid" INNER JOIN "pg_namespace" AS "fk_ns" ON "c"."connamespace" = "fk_ns"."oid" INNER JOIN "pg_attribute" AS "fk_column" ON "c"."conrelid" = "fk_column"."attrelid" INNER JOIN "pg_class" AS "pk_table" ON "c"."confrelid" = "pk_table"."oid" INNER JOIN "pg_namespace" AS "pk_ns" ON "pk_table"."relnamespace" = "pk_ns"."oid" INNER JOIN "pg_attribute" AS "pk_column" ON "c"."confrelid" = "pk_column"."attrelid" WHERE ("fk_ns"."nspname" !~ '^information_schema|catalog_history|pg_') AND ("c"."contype" = 'f'::char) AND ("fk_column"."attnum" = ANY(c.conkey)) AND ("pk_column"."attnum" = ANY(c.confkey)) AND ("fk_ns"."nspname" IN ('public')) ORDER BY "fk-table-schema" ASC, "fk-table-name" ASC

-- check: describe-indexes
-- expect row: table-name=cl_order, field-name=id
-- expect row: table-name=cl_order, field-name=status
SELECT tmp."table-schema", tmp."table-name", trim(BOTH '"' FROM pg_catalog.pg_get_indexdef(tmp.ci_oid, tmp.pos, false)) AS "field-name" FROM (SELECT n.nspname AS "table-schema", ct.relname AS "table-name", ci.oid AS ci_oid, (information_schema._pg_expandarray(i.indkey)).n AS pos FROM pg_catalog.pg_class ct JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid) JOIN pg_catalog.pg_index i ON (ct.oid = i.indrelid) JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid) WHERE (pg_catalog.pg_get_expr(i.indpred, i.indrelid) IS NULL) AND n.nspname !~ '^information_schema|catalog_history|pg_' AND n.nspname IN ('public') AND ct.relname IN ('cl_order')) tmp WHERE tmp.pos = 1

-- check: fingerprint-fields
-- expect rows: 5
-- expect row: id=5, name=Porto, updated_at=NULL
SELECT "public"."cl_city"."id" AS "id", "public"."cl_city"."name" AS "name", "public"."cl_city"."country" AS "country", "public"."cl_city"."population" AS "population", "public"."cl_city"."area" AS "area", "public"."cl_city"."founded" AS "founded", "public"."cl_city"."capital" AS "capital", "public"."cl_city"."updated_at" AS "updated_at" FROM "public"."cl_city" LIMIT 10000

-- check: question-group-by
-- expect rows: 3
-- expect row: status=paid, count=20, sum=1475
SELECT "public"."cl_order"."status" AS "status", COUNT(*) AS "count", SUM("public"."cl_order"."amount") AS "sum" FROM "public"."cl_order" GROUP BY "public"."cl_order"."status" ORDER BY "public"."cl_order"."status" ASC

-- check: question-month-breakout
-- expect rows: 3
-- expect row: updated_at=2024-01-01 00:00:00, count=2
SELECT DATE_TRUNC('month', "public"."cl_city"."updated_at") AS "updated_at", COUNT(*) AS "count" FROM "public"."cl_city" WHERE "public"."cl_city"."updated_at" IS NOT NULL GROUP BY DATE_TRUNC('month', "public"."cl_city"."updated_at") ORDER BY DATE_TRUNC('month', "public"."cl_city"."updated_at") ASC

-- check: question-filter-limit
-- expect rows: 2
-- expect row: id=1, name=Paris
SELECT "public"."cl_city"."id" AS "id", "public"."cl_city"."name" AS "name" FROM "public"."cl_city" WHERE "public"."cl_city"."country" = 'FR' ORDER BY "public"."cl_city"."id" ASC LIMIT 2000
