-- NULL semantics: IS NULL, three-valued logic, NULL in IN lists, '' versus NULL.

-- q: nul_is_null_text
SELECT id FROM pd_customers WHERE email IS NULL ORDER BY id;

-- q: nul_empty_text
SELECT id FROM pd_customers WHERE email = '' ORDER BY id;

-- q: nul_is_not_null_count
SELECT count(*), count(email), count(city), count(vip), count(credit_limit) FROM pd_customers;

-- q: nul_neq_excludes_null
SELECT count(*) FROM pd_orders WHERE channel <> 'web';

-- q: nul_is_distinct_from
SELECT count(*) FROM pd_orders WHERE channel IS DISTINCT FROM 'web';

-- q: nul_is_not_distinct_from
SELECT count(*) FROM pd_orders WHERE discount IS NOT DISTINCT FROM NULL;

-- q: nul_not_in_with_null
SELECT count(*) FROM pd_orders WHERE qty NOT IN (1, 2, NULL);

-- q: nul_in_with_null
SELECT count(*) FROM pd_orders WHERE qty IN (1, NULL);

-- q: nul_coalesce_text
SELECT coalesce(channel, '(none)') AS channel, count(*) FROM pd_orders GROUP BY 1;

-- q: nul_coalesce_numeric
SELECT sum(coalesce(discount, 0)) FROM pd_orders;

-- q: nul_nullif
SELECT id, nullif(channel, '') AS channel FROM pd_orders WHERE id <= 40 ORDER BY id;

-- q: nul_arith_propagates
SELECT id, qty * unit_price * (1 - discount) AS net FROM pd_orders WHERE id <= 25 ORDER BY id;

-- q: nul_bool_is_unknown
SELECT count(*) FROM pd_orders WHERE gift IS UNKNOWN;

-- q: nul_bool_is_not_true
SELECT count(*) FROM pd_orders WHERE gift IS NOT TRUE;

-- q: nul_and_or_logic
SELECT count(*) FROM pd_customers WHERE vip OR birth_year > 1990;

-- q: nul_agg_ignores_nulls
SELECT avg(discount), min(discount), max(discount), sum(discount) FROM pd_orders;

-- q: nul_agg_all_null_group
SELECT status, max(discount) FROM pd_orders WHERE discount IS NULL GROUP BY status;

-- q: nul_agg_empty_input
SELECT count(*), sum(qty), avg(qty), max(ordered_at) FROM pd_orders WHERE qty > 1000;

-- q: nul_group_by_null_key
SELECT city, count(*) FROM pd_customers GROUP BY city;

-- q: nul_count_distinct_nulls
SELECT count(DISTINCT channel) FROM pd_orders;

-- q: nul_case_null
SELECT id, CASE WHEN vip IS NULL THEN 'unknown' WHEN vip THEN 'vip' ELSE 'regular' END AS kind FROM pd_customers WHERE id <= 30 ORDER BY id;

-- q: nul_null_literal_select
SELECT NULL::text AS nothing, 1 AS one;

-- q: nul_date_null
SELECT count(*) FROM pd_orders WHERE shipped_on IS NULL AND status NOT IN ('pending', 'cancelled');

-- q: nul_greatest_least
SELECT id, greatest(qty, 3) AS g, least(discount, 0.1) AS l FROM pd_orders WHERE id <= 20 ORDER BY id;
