-- Window functions.

-- q: win_row_number
SELECT id, customer_id, row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at, id) AS nth FROM pd_orders WHERE customer_id <= 10 ORDER BY customer_id, nth;

-- q: win_rank_dense_rank
SELECT id, price, rank() OVER (ORDER BY price DESC) AS r, dense_rank() OVER (ORDER BY round(price, -2) DESC) AS dr FROM pd_products ORDER BY id;

-- q: win_first_order
SELECT customer_id, id, ordered_at FROM (SELECT customer_id, id, ordered_at, row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at, id) AS rn FROM pd_orders WHERE customer_id IS NOT NULL) t WHERE rn = 1 ORDER BY customer_id;

-- q: win_running_total
SELECT id, qty, sum(qty) OVER (ORDER BY id) AS running FROM pd_orders WHERE id <= 40 ORDER BY id;

-- q: win_running_total_partition
SELECT id, status, qty, sum(qty) OVER (PARTITION BY status ORDER BY id) AS running FROM pd_orders WHERE id <= 60 ORDER BY id;

-- q: win_partition_total
SELECT id, status, qty, sum(qty) OVER (PARTITION BY status) AS status_total FROM pd_orders WHERE id <= 30 ORDER BY id;

-- q: win_share_of_total
SELECT status, count(*) AS n, round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS pct FROM pd_orders GROUP BY status ORDER BY status;

-- q: win_lag_lead
SELECT id, ordered_at, lag(id) OVER (ORDER BY ordered_at, id) AS prev_id, lead(id) OVER (ORDER BY ordered_at, id) AS next_id FROM pd_orders WHERE customer_id = 17 ORDER BY ordered_at, id;

-- q: win_lag_default
SELECT id, qty, lag(qty, 1, 0) OVER (ORDER BY id) AS prev_qty FROM pd_orders WHERE id <= 15 ORDER BY id;

-- q: win_lag_diff
SELECT id, qty - lag(qty) OVER (PARTITION BY product_id ORDER BY id) AS delta FROM pd_orders WHERE product_id = 5 ORDER BY id;

-- q: win_moving_avg_rows
SELECT id, avg(qty) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS ma3 FROM pd_orders WHERE id <= 30 ORDER BY id;

-- q: win_count_partition
SELECT id, customer_id, count(*) OVER (PARTITION BY customer_id) AS orders_of_customer FROM pd_orders WHERE id <= 50 ORDER BY id;

-- q: win_max_partition
SELECT id, product_id, unit_price, max(unit_price) OVER (PARTITION BY product_id) AS max_price FROM pd_orders WHERE id <= 30 ORDER BY id;

-- q: win_first_value
SELECT id, customer_id, first_value(id) OVER (PARTITION BY customer_id ORDER BY ordered_at, id) AS first_order FROM pd_orders WHERE customer_id BETWEEN 20 AND 30 ORDER BY id;

-- q: win_last_value_full_frame
SELECT id, customer_id, last_value(id) OVER (PARTITION BY customer_id ORDER BY ordered_at, id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_order FROM pd_orders WHERE customer_id BETWEEN 20 AND 30 ORDER BY id;

-- q: win_ntile
SELECT id, price, ntile(4) OVER (ORDER BY price, id) AS quartile FROM pd_products ORDER BY id;

-- q: win_percent_rank
SELECT id, percent_rank() OVER (ORDER BY price, id) AS pr FROM pd_products ORDER BY id;

-- q: win_top_n_per_group
SELECT category, name, price FROM (SELECT category, name, price, row_number() OVER (PARTITION BY category ORDER BY price DESC, id) AS rn FROM pd_products) t WHERE rn <= 2 ORDER BY category, price DESC, name;

-- q: win_rank_ties
SELECT id, qty, rank() OVER (ORDER BY qty DESC) AS r FROM pd_orders WHERE id <= 20 ORDER BY id;

-- q: win_window_over_agg
SELECT customer_id, count(*) AS n, rank() OVER (ORDER BY count(*) DESC) AS r FROM pd_orders WHERE customer_id IS NOT NULL GROUP BY customer_id ORDER BY n DESC, customer_id LIMIT 10;

-- q: win_named_window
SELECT id, sum(qty) OVER w AS s, count(*) OVER w AS c FROM pd_orders WHERE id <= 10 WINDOW w AS (ORDER BY id) ORDER BY id;

-- q: win_cume_dist
SELECT id, cume_dist() OVER (ORDER BY qty) AS cd FROM pd_orders WHERE id <= 12 ORDER BY id;
