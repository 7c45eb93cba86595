-- CASE expressions and casts.

-- q: case_searched
SELECT id, CASE WHEN qty >= 10 THEN 'bulk' WHEN qty >= 3 THEN 'multi' ELSE 'single' END AS size FROM pd_orders WHERE id <= 20 ORDER BY id;

-- q: case_simple
SELECT id, CASE status WHEN 'delivered' THEN 1 WHEN 'returned' THEN -1 ELSE 0 END AS score FROM pd_orders WHERE id <= 20 ORDER BY id;

-- q: case_no_else
SELECT id, CASE WHEN gift THEN 'gift' END AS g FROM pd_orders WHERE id <= 15 ORDER BY id;

-- q: case_in_agg
SELECT sum(CASE WHEN channel = 'web' THEN qty ELSE 0 END) AS web_units, sum(CASE WHEN channel <> 'web' THEN qty END) AS other_units FROM pd_orders;

-- q: case_group_by
SELECT CASE WHEN price < 50 THEN 'cheap' WHEN price < 200 THEN 'mid' ELSE 'premium' END AS band, count(*) FROM pd_products GROUP BY 1 ORDER BY 1;

-- q: cast_int_to_text
SELECT id::text AS id_text, qty::text FROM pd_orders WHERE id <= 3 ORDER BY id;

-- q: cast_text_to_int
SELECT '42'::int + 1 AS v, CAST('17' AS bigint) AS w;

-- q: cast_numeric_to_int_rounds
SELECT id, price::int AS p FROM pd_products WHERE id <= 10 ORDER BY id;

-- q: cast_double_to_int
SELECT 2.5::float8::int AS a, 3.5::float8::int AS b, (-2.5)::float8::int AS c;

-- q: cast_int_to_double
SELECT qty::float8 / 4 AS q FROM pd_orders WHERE id <= 5 ORDER BY id;

-- q: cast_timestamp_to_date
SELECT id, ordered_at::date AS d FROM pd_orders WHERE id <= 10 ORDER BY id;

-- q: cast_date_to_timestamp
SELECT id, signup_date::timestamp AS ts FROM pd_customers WHERE id <= 5 ORDER BY id;

-- q: cast_text_to_date
SELECT CAST('2024-02-29' AS date) AS d;

-- q: cast_text_to_timestamp
SELECT '2024-01-01 10:00:00'::timestamp AS ts;

-- q: cast_bool_to_text
SELECT vip::text AS v, count(*) FROM pd_customers GROUP BY 1;

-- q: cast_text_to_bool
SELECT 'true'::boolean AS t, 'f'::boolean AS f;

-- q: cast_numeric_literal
SELECT 1.10::numeric(10,2) AS n, 0.1 + 0.2 AS s;

-- q: cast_round_numeric
SELECT id, round(price * 1.19, 2) AS gross FROM pd_products WHERE id <= 8 ORDER BY id;

-- q: cast_date_to_text
SELECT signup_date::text AS d FROM pd_customers WHERE id = 1;

-- q: cast_double_text_form
SELECT weight_kg::text AS w FROM pd_products WHERE id <= 6 ORDER BY id;
