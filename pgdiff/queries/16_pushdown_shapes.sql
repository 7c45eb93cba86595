-- Single-table queries over the columns the RediSearch index covers (status,
-- channel, qty, unit_price, discount, customer_id, product_id): on the second pass
-- redsql pushes them down to FT.AGGREGATE, so PostgreSQL checks those paths too.

-- q: pd_group_channel_aggs
SELECT channel, count(*), count(discount), sum(qty), min(unit_price), max(unit_price), avg(discount) FROM pd_orders GROUP BY channel;

-- q: pd_group_status_filtered
SELECT status, sum(unit_price) AS s, avg(qty) AS a FROM pd_orders WHERE channel = 'web' AND qty >= 2 GROUP BY status ORDER BY status;

-- q: pd_group_count_distinct_text
SELECT status, count(DISTINCT channel) FROM pd_orders GROUP BY status ORDER BY status;

-- q: pd_group_having
SELECT channel, count(*) AS n FROM pd_orders WHERE discount IS NOT NULL GROUP BY channel HAVING count(*) > 20 ORDER BY n DESC, channel;

-- q: pd_global_agg_filtered
SELECT count(*), sum(qty), avg(unit_price), max(discount) FROM pd_orders WHERE status IN ('shipped', 'delivered') AND unit_price BETWEEN 50 AND 300;

-- q: pd_global_agg_empty
SELECT count(*), sum(qty), min(unit_price) FROM pd_orders WHERE status = 'no such status';

-- q: pd_filter_null_text
SELECT count(*) FROM pd_orders WHERE channel IS NULL;

-- q: pd_filter_empty_text
SELECT count(*) FROM pd_orders WHERE channel = '';

-- q: pd_filter_case_sensitive
SELECT count(*) FROM pd_orders WHERE channel = 'Web';

-- q: pd_filter_null_double
SELECT id FROM pd_orders WHERE discount IS NULL AND qty = 12 ORDER BY id;

-- q: pd_filter_neq_double
SELECT count(*) FROM pd_orders WHERE discount <> 0.1;

-- q: pd_filter_or_branches
SELECT id, qty, unit_price FROM pd_orders WHERE qty = 10 OR unit_price < 5 ORDER BY id;

-- q: pd_filter_not_in_text
SELECT count(*) FROM pd_orders WHERE status NOT IN ('delivered', 'shipped');

-- q: pd_filter_not_between
SELECT count(*) FROM pd_orders WHERE unit_price NOT BETWEEN 10 AND 450;

-- q: pd_filter_bigint_range
SELECT customer_id, count(*) FROM pd_orders WHERE customer_id > 195 GROUP BY customer_id ORDER BY customer_id;

-- q: pd_topk_price
SELECT id, unit_price FROM pd_orders WHERE status = 'delivered' ORDER BY unit_price DESC, id LIMIT 5;

-- q: pd_topk_discount_nulls_first
SELECT id, discount FROM pd_orders ORDER BY discount DESC NULLS FIRST, id LIMIT 8;

-- q: pd_topk_offset
SELECT id, unit_price FROM pd_orders WHERE qty >= 3 ORDER BY unit_price, id LIMIT 5 OFFSET 10;

-- q: pd_topk_text
SELECT id, channel FROM pd_orders WHERE channel IS NOT NULL ORDER BY channel, id LIMIT 6;

-- q: pd_filter_rows
SELECT id, customer_id, status FROM pd_orders WHERE product_id = 7 AND status <> 'cancelled' ORDER BY id;

-- q: pd_group_sum_of_double
SELECT status, sum(discount) FROM pd_orders GROUP BY status ORDER BY status;

-- q: pd_group_min_max_bigint
SELECT channel, min(customer_id), max(product_id) FROM pd_orders GROUP BY channel;
