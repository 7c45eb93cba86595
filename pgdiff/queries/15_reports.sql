-- Typical analyst report queries mixing several features.

-- q: rep_rollup
SELECT segment, vip, count(*) FROM pd_customers GROUP BY ROLLUP (segment, vip);

-- q: rep_daily_gaps_filled
SELECT d::date AS day, count(o.id) AS orders
FROM generate_series(DATE '2024-01-01', DATE '2024-01-07', INTERVAL '1 day') AS d
LEFT JOIN pd_orders o ON o.ordered_at::date = d::date
GROUP BY 1 ORDER BY 1;

-- q: rep_current_date_filter
SELECT count(*) FROM pd_customers WHERE signup_date < current_date;

-- q: rep_avg_cast_numeric
SELECT status, avg(qty)::numeric(10,2) AS avg_qty FROM pd_orders GROUP BY status ORDER BY status;

-- q: rep_email_cleanup
SELECT coalesce(nullif(email, ''), '(none)') AS email, count(*) FROM pd_customers WHERE id <= 40 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5;

-- q: rep_customer_summary
SELECT c.id, c.name, count(o.id) AS orders, coalesce(sum(o.qty * o.unit_price), 0) AS spent, max(o.ordered_at) AS last_order
FROM pd_customers c LEFT JOIN pd_orders o ON o.customer_id = c.id
WHERE c.segment = 'enterprise'
GROUP BY c.id, c.name
ORDER BY spent DESC, c.id
LIMIT 10;

-- q: rep_category_revenue_share
WITH rev AS (
  SELECT p.category, sum(o.qty * o.unit_price) AS revenue
  FROM pd_orders o JOIN pd_products p ON p.id = o.product_id
  WHERE o.status IN ('shipped', 'delivered')
  GROUP BY p.category
)
SELECT category, revenue, round(100 * revenue / (SELECT sum(revenue) FROM rev), 1) AS pct FROM rev ORDER BY revenue DESC;

-- q: rep_return_rate_by_channel
SELECT coalesce(nullif(channel, ''), 'unknown') AS channel,
       count(*) AS orders,
       count(*) FILTER (WHERE status = 'returned') AS returns,
       round(count(*) FILTER (WHERE status = 'returned') * 100.0 / count(*), 1) AS return_pct
FROM pd_orders GROUP BY 1 ORDER BY 1;

-- q: rep_cohort_first_month
WITH first AS (SELECT customer_id, min(ordered_at) AS first_at FROM pd_orders WHERE customer_id IS NOT NULL GROUP BY customer_id)
SELECT extract(year FROM first_at) AS y, extract(quarter FROM first_at) AS q, count(*) AS new_customers FROM first GROUP BY 1, 2 ORDER BY 1, 2;

-- q: rep_repeat_customers
SELECT count(*) FROM (SELECT customer_id FROM pd_orders WHERE customer_id IS NOT NULL GROUP BY customer_id HAVING count(DISTINCT product_id) >= 3) t;

-- q: rep_gift_orders_by_country
SELECT c.country, count(*) FILTER (WHERE o.gift) AS gifts, count(*) AS orders FROM pd_orders o JOIN pd_customers c ON c.id = o.customer_id GROUP BY c.country ORDER BY gifts DESC, c.country;

-- q: rep_interval_epoch
SELECT id, extract(epoch FROM (ordered_at - TIMESTAMP '2024-01-01 00:00:00')) / 3600 AS hours FROM pd_orders WHERE id <= 5 ORDER BY id;
