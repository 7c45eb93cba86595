-- Set operations.

-- q: set_union
SELECT country FROM pd_customers WHERE segment = 'smb' UNION SELECT country FROM pd_customers WHERE vip;

-- q: set_union_all_count
SELECT count(*) FROM (SELECT customer_id FROM pd_orders WHERE qty > 5 UNION ALL SELECT id FROM pd_customers WHERE vip) t;

-- q: set_union_ordered
SELECT id, 'order' AS kind FROM pd_orders WHERE id <= 3 UNION ALL SELECT id, 'product' FROM pd_products WHERE id <= 3 ORDER BY kind, id;

-- q: set_intersect
SELECT customer_id FROM pd_orders WHERE status = 'returned' INTERSECT SELECT customer_id FROM pd_orders WHERE status = 'cancelled';

-- q: set_except
SELECT id FROM pd_customers EXCEPT SELECT customer_id FROM pd_orders;

-- q: set_union_dedup_nulls
SELECT channel FROM pd_orders UNION SELECT NULL;

-- q: set_union_types
SELECT qty AS v FROM pd_orders WHERE id = 1 UNION ALL SELECT price FROM pd_products WHERE id = 1;

-- q: set_union_limit
SELECT name FROM pd_products UNION SELECT name FROM pd_customers ORDER BY name LIMIT 5;

-- q: set_except_all
SELECT status FROM pd_orders EXCEPT ALL SELECT status FROM pd_orders WHERE id > 10;

-- q: set_intersect_multi_col
SELECT product_id, qty FROM pd_orders WHERE channel = 'web' INTERSECT SELECT product_id, qty FROM pd_orders WHERE channel = 'store';
