-- CTEs, scalar and correlated subqueries, EXISTS / IN, derived tables.

-- q: cte_simple
WITH big AS (SELECT id, qty FROM pd_orders WHERE qty >= 10) SELECT count(*), sum(qty) FROM big;

-- q: cte_two
WITH per_customer AS (
  SELECT customer_id, count(*) AS n, sum(qty * unit_price) AS spent FROM pd_orders GROUP BY customer_id
), ranked AS (
  SELECT customer_id, spent FROM per_customer WHERE n >= 3
)
SELECT c.name, r.spent FROM ranked r JOIN pd_customers c ON c.id = r.customer_id ORDER BY r.spent DESC, c.id LIMIT 10;

-- q: cte_reused_twice
WITH s AS (SELECT status, count(*) AS n FROM pd_orders GROUP BY status)
SELECT a.status, a.n, b.n AS total FROM s a CROSS JOIN (SELECT sum(n) AS n FROM s) b ORDER BY a.status;

-- q: cte_monthly
WITH monthly AS (
  SELECT date_trunc('month', ordered_at) AS month, sum(qty) AS units FROM pd_orders GROUP BY 1
)
SELECT month, units FROM monthly WHERE units > 100 ORDER BY month;

-- q: cte_recursive_counter
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i FROM n ORDER BY i;

-- q: cte_recursive_referrals
WITH RECURSIVE chain AS (
  SELECT id, referred_by, 0 AS depth FROM pd_customers WHERE id = 150
  UNION ALL
  SELECT c.id, c.referred_by, chain.depth + 1 FROM pd_customers c JOIN chain ON c.id = chain.referred_by
)
SELECT id, depth FROM chain ORDER BY depth;

-- q: sub_in
SELECT id, name FROM pd_customers WHERE id IN (SELECT customer_id FROM pd_orders WHERE qty = 12) ORDER BY id;

-- q: sub_not_in
SELECT count(*) FROM pd_products WHERE id NOT IN (SELECT product_id FROM pd_orders WHERE status = 'returned');

-- q: sub_not_in_with_nulls
SELECT count(*) FROM pd_customers WHERE id NOT IN (SELECT customer_id FROM pd_orders);

-- q: sub_exists
SELECT count(*) FROM pd_customers c WHERE EXISTS (SELECT 1 FROM pd_orders o WHERE o.customer_id = c.id AND o.status = 'returned');

-- q: sub_not_exists
SELECT id, name FROM pd_customers c WHERE NOT EXISTS (SELECT 1 FROM pd_orders o WHERE o.customer_id = c.id) ORDER BY id;

-- q: sub_scalar_where
SELECT id, unit_price FROM pd_orders WHERE unit_price = (SELECT max(unit_price) FROM pd_orders) ORDER BY id;

-- q: sub_scalar_where_gt_avg
SELECT count(*) FROM pd_products WHERE price > (SELECT avg(price) FROM pd_products);

-- q: sub_scalar_select_list
SELECT id, price, (SELECT avg(price) FROM pd_products) AS avg_price FROM pd_products WHERE id <= 5 ORDER BY id;

-- q: sub_correlated_scalar
SELECT c.id, (SELECT count(*) FROM pd_orders o WHERE o.customer_id = c.id) AS n FROM pd_customers c WHERE c.id <= 20 ORDER BY c.id;

-- q: sub_correlated_where
SELECT o.id, o.unit_price FROM pd_orders o WHERE o.qty > (SELECT avg(o2.qty) FROM pd_orders o2 WHERE o2.product_id = o.product_id) AND o.id <= 60 ORDER BY o.id;

-- q: sub_derived_table
SELECT t.segment, max(t.n) FROM (SELECT c.segment, c.id, count(*) AS n FROM pd_customers c JOIN pd_orders o ON o.customer_id = c.id GROUP BY c.segment, c.id) t GROUP BY t.segment ORDER BY t.segment;

-- q: sub_in_derived_agg
SELECT id, name FROM pd_products WHERE id IN (SELECT product_id FROM pd_orders GROUP BY product_id HAVING sum(qty) >= 70) ORDER BY id;

-- q: sub_any
SELECT count(*) FROM pd_products WHERE price > ANY (SELECT unit_price FROM pd_orders WHERE qty = 12);

-- q: sub_all
SELECT id FROM pd_products WHERE price >= ALL (SELECT price FROM pd_products) ORDER BY id;

-- q: sub_exists_uncorrelated
SELECT count(*) FROM pd_products WHERE EXISTS (SELECT 1 FROM pd_orders WHERE qty > 100);

-- q: sub_from_values
SELECT v.code, count(c.id) FROM (VALUES ('DE'), ('FR'), ('XX')) AS v(code) LEFT JOIN pd_customers c ON c.country = v.code GROUP BY v.code ORDER BY v.code;

-- q: sub_cte_in_filter
WITH vip AS (SELECT id FROM pd_customers WHERE vip) SELECT count(*) FROM pd_orders WHERE customer_id IN (SELECT id FROM vip);

-- q: sub_scalar_in_having
SELECT status, count(*) FROM pd_orders GROUP BY status HAVING count(*) > (SELECT count(*) / 10 FROM pd_orders) ORDER BY status;

-- q: sub_nested_derived
SELECT max(n) FROM (SELECT customer_id, count(*) AS n FROM (SELECT * FROM pd_orders WHERE status <> 'cancelled') o GROUP BY customer_id) t;

-- q: sub_array_uncorrelated
SELECT array_to_string(ARRAY(SELECT DISTINCT segment FROM pd_customers WHERE segment IS NOT NULL ORDER BY 1), ',') AS segments, ARRAY(SELECT id FROM pd_customers WHERE id < 0) AS none;

-- q: sub_array_over_outer_array
SELECT id, note, ARRAY(SELECT upper(w) FROM unnest(string_to_array(note, ' ')) w WHERE length(w) > 3 ORDER BY 1) AS words FROM pd_orders WHERE id < 60 ORDER BY id;
