#!/usr/bin/env bash
# psql 15 checks beyond tests/it/psql.rs: the meta-commands on the harness
# tables, and a script with inline COPY data. Prints CHECK lines.
#   clients/psql/check.sh HOST PORT
set -uo pipefail
psql_cmd=(psql -X -h "$1" -p "$2" -U redsql -d redsql -v ON_ERROR_STOP=1 -A -t -F '|')

check() {  # NAME EXPECTED COMMAND...: the command's output must equal EXPECTED
  local name=$1 want=$2 got
  shift 2
  if got=$("$@" 2>&1) && [ "$got" = "$want" ]; then
    echo "CHECK PASS psql.$name"
  else
    got=${got//$'\n'/\\n}
    echo "CHECK FAIL psql.$name :: expected ${want//$'\n'/\\n} got ${got:0:400}"
  fi
}

check dt "public|cl_city|table|redsql
public|cl_order|table|redsql
public|cl_scratch|table|redsql" "${psql_cmd[@]}" -c '\dt cl_*'

# \d TABLE, unaligned and tuples only: Column|Type|Collation|Nullable|Default.
check d_table "id|bigint||not null|
name|text|||
country|text|||
population|bigint|||
area|double precision|||
founded|date|||
capital|boolean|||
updated_at|timestamp without time zone|||" "${psql_cmd[@]}" -c '\d cl_city'

# A script with COPY ... FROM STDIN (FORMAT csv) and its rows inline: psql
# sends the rows and the closing \. line, which ends the data in CSV too.
script=$(mktemp)
trap 'rm -f "$script"' EXIT
printf '%s\n' "DELETE FROM cl_scratch WHERE id BETWEEN 500 AND 599;" \
  "COPY cl_scratch (id, label, score) FROM STDIN WITH (FORMAT csv);" \
  '500,"csv, quoted",1.5' '501,,' '\.' \
  "SELECT id, coalesce(label, 'NULL'), coalesce(score, -1) FROM cl_scratch WHERE id BETWEEN 500 AND 599 ORDER BY id;" \
  > "$script"
check copy_csv_inline "500|csv, quoted|1.5
501|NULL|-1" "${psql_cmd[@]}" -q -f - < "$script"
