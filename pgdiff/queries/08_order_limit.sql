-- ORDER BY (directions, NULLS FIRST/LAST, expressions, aliases), LIMIT / OFFSET.

-- q: ord_asc_limit
SELECT id, unit_price FROM pd_orders ORDER BY unit_price, id LIMIT 10;

-- q: ord_desc_limit
SELECT id, unit_price FROM pd_orders ORDER BY unit_price DESC, id DESC LIMIT 10;

-- q: ord_offset
SELECT id FROM pd_orders ORDER BY id LIMIT 5 OFFSET 100;

-- q: ord_offset_only
SELECT id FROM pd_products ORDER BY id OFFSET 35;

-- q: ord_fetch_first
SELECT id FROM pd_customers ORDER BY signup_date DESC, id FETCH FIRST 5 ROWS ONLY;

-- q: ord_nulls_default_asc
SELECT id, discount FROM pd_orders WHERE id <= 30 ORDER BY discount, id;

-- q: ord_nulls_default_desc
SELECT id, discount FROM pd_orders WHERE id <= 30 ORDER BY discount DESC, id;

-- q: ord_nulls_first
SELECT id, shipped_on FROM pd_orders WHERE id <= 30 ORDER BY shipped_on NULLS FIRST, id;

-- q: ord_nulls_last_desc
SELECT id, birth_year FROM pd_customers WHERE id <= 30 ORDER BY birth_year DESC NULLS LAST, id;

-- q: ord_text_nulls
SELECT id, channel FROM pd_orders WHERE id <= 25 ORDER BY channel NULLS FIRST, id;

-- q: ord_by_alias
SELECT id, qty * unit_price AS total FROM pd_orders ORDER BY total DESC, id LIMIT 8;

-- q: ord_by_ordinal
SELECT status, count(*) FROM pd_orders GROUP BY status ORDER BY 2 DESC, 1;

-- q: ord_by_expression_not_selected
SELECT id FROM pd_products ORDER BY price * coalesce(weight_kg, 0) DESC, id LIMIT 7;

-- q: ord_by_aggregate
SELECT product_id FROM pd_orders GROUP BY product_id ORDER BY sum(qty) DESC, product_id LIMIT 5;

-- q: ord_bool
SELECT id, in_stock FROM pd_products ORDER BY in_stock, id;

-- q: ord_timestamp_desc
SELECT id, ordered_at FROM pd_orders ORDER BY ordered_at DESC, id LIMIT 10;

-- q: ord_text_ascii
SELECT sku FROM pd_products ORDER BY sku DESC LIMIT 6;

-- q: ord_text_mixed_case_c_collation
SELECT DISTINCT country FROM pd_customers ORDER BY country;

-- q: ord_limit_zero
SELECT id FROM pd_orders ORDER BY id LIMIT 0;

-- q: ord_limit_all_offset
SELECT id FROM pd_products ORDER BY id LIMIT ALL OFFSET 38;

-- q: ord_case_expression
SELECT id, status FROM pd_orders WHERE id <= 20 ORDER BY CASE status WHEN 'pending' THEN 0 WHEN 'shipped' THEN 1 ELSE 2 END, id;
