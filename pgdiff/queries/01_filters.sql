-- Filters: comparisons, ranges, IN, LIKE/ILIKE, boolean columns, AND/OR/NOT.

-- q: flt_eq_text
SELECT id, customer_id, qty FROM pd_orders WHERE status = 'returned' ORDER BY id;

-- q: flt_neq_text
SELECT count(*) FROM pd_orders WHERE status <> 'delivered';

-- q: flt_int_range
SELECT id, qty FROM pd_orders WHERE qty >= 5 AND qty < 12 ORDER BY id;

-- q: flt_between_numeric
SELECT id, name, price FROM pd_products WHERE price BETWEEN 100 AND 250 ORDER BY price, id;

-- q: flt_not_between
SELECT count(*) FROM pd_products WHERE price NOT BETWEEN 10 AND 400;

-- q: flt_in_list
SELECT id, status FROM pd_orders WHERE status IN ('cancelled', 'returned') AND qty > 3 ORDER BY id;

-- q: flt_not_in_list
SELECT count(*) FROM pd_orders WHERE channel NOT IN ('web', 'store');

-- q: flt_in_ints
SELECT id, name FROM pd_customers WHERE id IN (1, 7, 42, 199, 500) ORDER BY id;

-- q: flt_or
SELECT id FROM pd_orders WHERE qty = 12 OR unit_price > 480 ORDER BY id;

-- q: flt_and_or_parens
SELECT id FROM pd_orders WHERE (status = 'shipped' OR status = 'pending') AND (channel = 'phone' OR gift) ORDER BY id;

-- q: flt_not
SELECT count(*) FROM pd_orders WHERE NOT (status = 'delivered' OR qty = 1);

-- q: flt_bool_true
SELECT count(*) FROM pd_orders WHERE gift;

-- q: flt_bool_is_false
SELECT count(*) FROM pd_orders WHERE gift IS FALSE;

-- q: flt_bool_not
SELECT count(*) FROM pd_customers WHERE NOT vip;

-- q: flt_bool_eq_literal
SELECT id, name FROM pd_customers WHERE vip = true AND segment = 'enterprise' ORDER BY id;

-- q: flt_like_prefix
SELECT id, name FROM pd_customers WHERE name LIKE 'Zo%' ORDER BY id;

-- q: flt_like_contains
SELECT id, note FROM pd_orders WHERE note LIKE '%door%' ORDER BY id;

-- q: flt_like_underscore
SELECT sku FROM pd_products WHERE sku LIKE 'SKU-00_5' ORDER BY sku;

-- q: flt_ilike
SELECT id, city FROM pd_customers WHERE city ILIKE 'AUSTIN' ORDER BY id;

-- q: flt_not_like
SELECT count(*) FROM pd_customers WHERE email NOT LIKE '%@example.com';

-- q: flt_date_range
SELECT id, signup_date FROM pd_customers WHERE signup_date >= DATE '2024-01-01' AND signup_date < DATE '2024-03-01' ORDER BY id;

-- q: flt_date_string_literal
SELECT count(*) FROM pd_customers WHERE signup_date > '2023-06-30';

-- q: flt_timestamp_range
SELECT id, ordered_at FROM pd_orders WHERE ordered_at BETWEEN TIMESTAMP '2024-02-28 00:00:00' AND TIMESTAMP '2024-03-01 23:59:59' ORDER BY ordered_at, id;

-- q: flt_timestamp_string_literal
SELECT count(*) FROM pd_orders WHERE ordered_at >= '2024-12-01 00:00:00';

-- q: flt_double_eq
SELECT count(*) FROM pd_orders WHERE discount = 0.1;

-- q: flt_numeric_expr
SELECT id, qty * unit_price AS total FROM pd_orders WHERE qty * unit_price > 2000 ORDER BY id;

-- q: flt_text_compare
SELECT count(*) FROM pd_customers WHERE country >= 'FR';

-- q: flt_regex
SELECT id, email FROM pd_customers WHERE email ~ '^[a-z]+\.1[0-9]@' ORDER BY id;

-- q: flt_any_array
SELECT count(*) FROM pd_orders WHERE product_id = ANY(ARRAY[1, 2, 3]);

-- q: flt_select_star
SELECT * FROM pd_products ORDER BY id;

-- q: flt_select_star_orders
SELECT * FROM pd_orders WHERE id <= 50 ORDER BY id;
