-- GROUP BY, HAVING and aggregates.

-- q: grp_count_by_status
SELECT status, count(*) FROM pd_orders GROUP BY status ORDER BY status;

-- q: grp_sum_avg
SELECT status, sum(qty) AS units, avg(qty) AS avg_qty, min(qty), max(qty) FROM pd_orders GROUP BY status ORDER BY status;

-- q: grp_revenue
SELECT channel, sum(qty * unit_price) AS revenue FROM pd_orders GROUP BY channel;

-- q: grp_having
SELECT customer_id, count(*) AS n FROM pd_orders GROUP BY customer_id HAVING count(*) >= 6 ORDER BY customer_id;

-- q: grp_having_sum
SELECT product_id, sum(qty) AS units FROM pd_orders GROUP BY product_id HAVING sum(qty) > 50 ORDER BY units DESC, product_id;

-- q: grp_having_alias_free
SELECT status FROM pd_orders GROUP BY status HAVING avg(unit_price) > 200;

-- q: grp_two_keys
SELECT status, channel, count(*) FROM pd_orders GROUP BY status, channel;

-- q: grp_by_ordinal
SELECT segment, country, count(*) FROM pd_customers GROUP BY 1, 2 ORDER BY 1, 2;

-- q: grp_by_expression
SELECT qty > 2 AS bulk, count(*) FROM pd_orders GROUP BY qty > 2;

-- q: grp_by_bool
SELECT gift, count(*), avg(qty) FROM pd_orders GROUP BY gift;

-- q: grp_by_date
SELECT shipped_on, count(*) FROM pd_orders WHERE shipped_on >= DATE '2024-06-01' AND shipped_on < DATE '2024-06-15' GROUP BY shipped_on ORDER BY shipped_on;

-- q: grp_count_distinct
SELECT status, count(DISTINCT customer_id) AS customers FROM pd_orders GROUP BY status ORDER BY status;

-- q: grp_count_distinct_text
SELECT count(DISTINCT status), count(DISTINCT channel), count(DISTINCT product_id) FROM pd_orders;

-- q: grp_global_aggs
SELECT count(*), sum(unit_price), avg(unit_price), min(unit_price), max(unit_price) FROM pd_orders;

-- q: grp_min_max_text
SELECT min(name), max(name) FROM pd_customers;

-- q: grp_min_max_dates
SELECT min(signup_date), max(signup_date), min(ordered_at), max(ordered_at) FROM pd_customers, pd_orders WHERE pd_orders.customer_id = pd_customers.id;

-- q: grp_filter_clause
SELECT status, count(*) FILTER (WHERE gift) AS gifts, count(*) FILTER (WHERE channel = 'web') AS web FROM pd_orders GROUP BY status ORDER BY status;

-- q: grp_sum_case
SELECT channel, sum(CASE WHEN status = 'returned' THEN 1 ELSE 0 END) AS returns FROM pd_orders GROUP BY channel;

-- q: grp_bool_and_or
SELECT segment, bool_and(vip) AS all_vip, bool_or(vip) AS any_vip FROM pd_customers GROUP BY segment ORDER BY segment;

-- q: grp_stddev_variance
SELECT status, stddev(qty) AS sd, variance(qty) AS var FROM pd_orders GROUP BY status ORDER BY status;

-- q: grp_string_agg
SELECT category, string_agg(sku, ',' ORDER BY sku) AS skus FROM pd_products GROUP BY category ORDER BY category;

-- q: grp_array_agg
SELECT country, array_agg(id ORDER BY id) AS ids FROM pd_customers WHERE id <= 25 GROUP BY country ORDER BY country;

-- q: grp_percentile
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY unit_price) AS median_price FROM pd_orders;

-- q: grp_avg_int
SELECT avg(birth_year) FROM pd_customers;

-- q: grp_sum_int_type
SELECT sum(qty), sum(customer_id) FROM pd_orders;

-- q: grp_having_no_group
SELECT count(*) FROM pd_orders HAVING count(*) > 10;

-- q: grp_nested_agg_expr
SELECT status, round(sum(qty * unit_price) / sum(qty), 2) AS avg_unit FROM pd_orders GROUP BY status ORDER BY status;

-- q: grp_count_star_vs_col
SELECT channel, count(*), count(discount), count(note) FROM pd_orders GROUP BY channel;

-- q: grp_by_extract_year
SELECT extract(year FROM ordered_at) AS yr, count(*) FROM pd_orders GROUP BY 1 ORDER BY 1;
