-- Joins: inner, left/right/full outer, extra conditions in ON, self joins, USING.

-- q: jn_inner
SELECT o.id, c.name, o.qty FROM pd_orders o JOIN pd_customers c ON c.id = o.customer_id WHERE o.id <= 30 ORDER BY o.id;

-- q: jn_inner_count
SELECT count(*) FROM pd_orders o INNER JOIN pd_products p ON p.id = o.product_id;

-- q: jn_three_tables
SELECT o.id, c.name, p.name AS product, o.qty * p.price AS amount
FROM pd_orders o
JOIN pd_customers c ON c.id = o.customer_id
JOIN pd_products p ON p.id = o.product_id
WHERE o.status = 'delivered' AND c.country = 'DE'
ORDER BY o.id;

-- q: jn_left_unmatched
SELECT o.id, o.customer_id FROM pd_orders o LEFT JOIN pd_customers c ON c.id = o.customer_id WHERE c.id IS NULL ORDER BY o.id;

-- q: jn_left_count_nulls
SELECT count(*), count(p.id) FROM pd_orders o LEFT JOIN pd_products p ON p.id = o.product_id;

-- q: jn_left_on_extra_condition
SELECT c.id, o.id AS order_id FROM pd_customers c LEFT JOIN pd_orders o ON o.customer_id = c.id AND o.status = 'returned' WHERE c.id <= 40 ORDER BY c.id, o.id;

-- q: jn_left_on_extra_condition_count
SELECT c.segment, count(o.id) AS returned FROM pd_customers c LEFT JOIN pd_orders o ON c.id = o.customer_id AND o.status = 'returned' GROUP BY c.segment;

-- q: jn_left_on_literal_first
SELECT p.id, count(o.id) FROM pd_products p LEFT JOIN pd_orders o ON o.channel = 'phone' AND o.product_id = p.id GROUP BY p.id ORDER BY p.id;

-- q: jn_right
SELECT p.id, p.name, o.id AS order_id FROM pd_orders o RIGHT JOIN pd_products p ON p.id = o.product_id AND o.qty >= 10 ORDER BY p.id, o.id;

-- q: jn_full_outer
SELECT c.id AS customer, o.customer_id AS ordered_by FROM (SELECT DISTINCT customer_id FROM pd_orders) o FULL OUTER JOIN pd_customers c ON c.id = o.customer_id WHERE c.id IS NULL OR o.customer_id IS NULL;

-- q: jn_self_referral
SELECT c.id, c.name, r.name AS referrer FROM pd_customers c JOIN pd_customers r ON r.id = c.referred_by WHERE c.id <= 80 ORDER BY c.id;

-- q: jn_self_left
SELECT count(*) FROM pd_customers c LEFT JOIN pd_customers r ON r.id = c.referred_by WHERE r.id IS NULL;

-- q: jn_using
SELECT id, name FROM pd_products JOIN (SELECT product_id AS id, sum(qty) AS units FROM pd_orders GROUP BY product_id) u USING (id) WHERE units > 60 ORDER BY id;

-- q: jn_non_equi
SELECT o.id, p.id AS cheaper FROM pd_orders o JOIN pd_products p ON p.price < o.unit_price / 20 WHERE o.id <= 5 ORDER BY o.id, p.id;

-- q: jn_cross_join_small
SELECT s.status, ch.channel FROM (SELECT DISTINCT status FROM pd_orders) s CROSS JOIN (VALUES ('web'), ('store')) AS ch(channel) ORDER BY s.status, ch.channel;

-- q: jn_comma_join
SELECT count(*) FROM pd_orders o, pd_customers c WHERE o.customer_id = c.id AND c.vip;

-- q: jn_join_group
SELECT c.country, count(*) AS orders, sum(o.qty) AS units FROM pd_orders o JOIN pd_customers c ON c.id = o.customer_id GROUP BY c.country ORDER BY c.country;

-- q: jn_join_on_expression
SELECT count(*) FROM pd_orders o JOIN pd_customers c ON c.id = o.customer_id AND o.ordered_at::date < c.signup_date;

-- q: jn_left_join_coalesce
SELECT c.id, coalesce(sum(o.qty), 0) AS units FROM pd_customers c LEFT JOIN pd_orders o ON o.customer_id = c.id WHERE c.id BETWEEN 100 AND 130 GROUP BY c.id ORDER BY c.id;

-- q: jn_multiple_left
SELECT o.id, c.name, p.name FROM pd_orders o LEFT JOIN pd_customers c ON c.id = o.customer_id LEFT JOIN pd_products p ON p.id = o.product_id WHERE o.id % 50 = 0 ORDER BY o.id;

-- q: jn_join_null_keys_never_match
SELECT count(*) FROM pd_orders a JOIN pd_orders b ON a.customer_id = b.customer_id WHERE a.customer_id IS NULL;

-- q: jn_anti_join_left
SELECT p.id, p.name FROM pd_products p LEFT JOIN pd_orders o ON o.product_id = p.id AND o.status = 'cancelled' WHERE o.id IS NULL ORDER BY p.id;

-- q: jn_lateral_free_subselect
SELECT c.segment, t.n FROM (SELECT segment, count(*) AS n FROM pd_customers GROUP BY segment) t JOIN (SELECT DISTINCT segment FROM pd_customers) c ON c.segment = t.segment ORDER BY c.segment;

-- q: jn_inner_on_literal
SELECT c.segment, count(*) FROM pd_customers c JOIN pd_orders o ON o.customer_id = c.id AND o.status = 'returned' GROUP BY c.segment ORDER BY c.segment;

-- q: jn_left_on_bool_column
SELECT count(*), count(o.id) FROM pd_customers c LEFT JOIN pd_orders o ON o.customer_id = c.id AND c.vip;

-- q: jn_implicit_mixed_predicates
SELECT c.id, o.id, g.n FROM pd_customers c, pd_orders o, generate_series(1, 3) g(n) WHERE o.customer_id = c.id AND o.qty = c.id % 5 + g.n AND c.id < 40 ORDER BY 1, 2, 3;
