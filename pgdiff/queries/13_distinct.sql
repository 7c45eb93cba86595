-- DISTINCT and DISTINCT ON.

-- q: dis_single
SELECT DISTINCT status FROM pd_orders;

-- q: dis_multi
SELECT DISTINCT status, gift FROM pd_orders;

-- q: dis_ordered
SELECT DISTINCT segment FROM pd_customers ORDER BY segment;

-- q: dis_with_nulls
SELECT DISTINCT city FROM pd_customers;

-- q: dis_on
SELECT DISTINCT ON (customer_id) customer_id, id, ordered_at FROM pd_orders WHERE customer_id <= 20 ORDER BY customer_id, ordered_at DESC, id;

-- q: dis_count
SELECT count(*) FROM (SELECT DISTINCT customer_id, product_id FROM pd_orders) t;

-- q: dis_expression
SELECT DISTINCT extract(year FROM signup_date) AS y FROM pd_customers ORDER BY y;

-- q: dis_sum_distinct
SELECT sum(DISTINCT qty) AS s, avg(DISTINCT qty) AS a FROM pd_orders;
