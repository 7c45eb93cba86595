-- Date and timestamp functions.

-- q: dt_date_trunc_month
SELECT date_trunc('month', ordered_at) AS month, count(*) FROM pd_orders GROUP BY 1 ORDER BY 1;

-- q: dt_date_trunc_day
SELECT id, date_trunc('day', ordered_at) AS d FROM pd_orders WHERE id <= 10 ORDER BY id;

-- q: dt_date_trunc_week
SELECT date_trunc('week', ordered_at) AS wk, count(*) FROM pd_orders WHERE ordered_at < TIMESTAMP '2023-03-01' GROUP BY 1 ORDER BY 1;

-- q: dt_date_trunc_year_date
SELECT date_trunc('year', signup_date) AS y, count(*) FROM pd_customers GROUP BY 1 ORDER BY 1;

-- q: dt_extract_year_month
SELECT extract(year FROM ordered_at) AS y, extract(month FROM ordered_at) AS m, count(*) FROM pd_orders GROUP BY 1, 2 ORDER BY 1, 2;

-- q: dt_extract_dow
SELECT extract(dow FROM ordered_at) AS dow, count(*) FROM pd_orders GROUP BY 1 ORDER BY 1;

-- q: dt_extract_isodow
SELECT extract(isodow FROM ordered_at) AS dow, count(*) FROM pd_orders GROUP BY 1 ORDER BY 1;

-- q: dt_extract_hour
SELECT extract(hour FROM ordered_at) AS h, count(*) FROM pd_orders GROUP BY 1 ORDER BY 1;

-- q: dt_extract_from_date
SELECT id, extract(day FROM signup_date) AS d, extract(quarter FROM signup_date) AS q FROM pd_customers WHERE id <= 10 ORDER BY id;

-- q: dt_extract_epoch
SELECT id, extract(epoch FROM ordered_at) AS e FROM pd_orders WHERE id <= 5 ORDER BY id;

-- q: dt_date_part
SELECT date_part('year', signup_date) AS y, count(*) FROM pd_customers GROUP BY 1 ORDER BY 1;

-- q: dt_date_minus_date
SELECT id, shipped_on - ordered_at::date AS days_to_ship FROM pd_orders WHERE shipped_on IS NOT NULL AND id <= 30 ORDER BY id;

-- q: dt_avg_days_to_ship
SELECT channel, avg(shipped_on - ordered_at::date) AS avg_days FROM pd_orders WHERE shipped_on IS NOT NULL GROUP BY channel;

-- q: dt_date_plus_int
SELECT id, signup_date + 30 AS trial_end FROM pd_customers WHERE id <= 5 ORDER BY id;

-- q: dt_timestamp_plus_interval
SELECT id, ordered_at + INTERVAL '1 day' AS due FROM pd_orders WHERE id <= 5 ORDER BY id;

-- q: dt_timestamp_minus_interval_filter
SELECT count(*) FROM pd_orders WHERE ordered_at > TIMESTAMP '2024-12-31 00:00:00' - INTERVAL '30 days';

-- q: dt_timestamp_diff_interval
SELECT id, ordered_at - TIMESTAMP '2023-01-01 00:00:00' AS since_start FROM pd_orders WHERE id <= 5 ORDER BY id;

-- q: dt_age_years
SELECT id, extract(year FROM age(DATE '2025-01-01', signup_date)) AS years FROM pd_customers WHERE id <= 5 ORDER BY id;

-- q: dt_to_char
SELECT id, to_char(ordered_at, 'YYYY-MM') AS ym FROM pd_orders WHERE id <= 5 ORDER BY id;

-- q: dt_leap_day
SELECT count(*) FROM pd_orders WHERE ordered_at::date = DATE '2024-02-29';

-- q: dt_month_filter_extract
SELECT count(*) FROM pd_orders WHERE extract(month FROM ordered_at) = 2 AND extract(day FROM ordered_at) = 29;

-- q: dt_between_dates
SELECT count(*) FROM pd_orders WHERE shipped_on BETWEEN DATE '2023-12-24' AND DATE '2024-01-02';

-- q: dt_make_date
SELECT make_date(2024, 2, 29) AS d;

-- q: dt_max_per_customer
SELECT customer_id, max(ordered_at) AS last_order FROM pd_orders WHERE customer_id <= 15 GROUP BY customer_id ORDER BY customer_id;

-- q: dt_timestamp_fraction
SELECT id, ordered_at FROM pd_orders WHERE extract(microseconds FROM ordered_at)::bigint % 1000000 <> 0 ORDER BY id;

-- q: dt_date_trunc_quarter_revenue
SELECT date_trunc('quarter', ordered_at) AS q, sum(qty * unit_price) AS revenue FROM pd_orders WHERE status <> 'cancelled' GROUP BY 1 ORDER BY 1;
