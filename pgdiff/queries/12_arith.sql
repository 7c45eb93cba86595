-- Arithmetic: integer division, modulo, numeric and float math, rounding.

-- q: ar_int_division
SELECT id, qty / 2 AS half FROM pd_orders WHERE id <= 10 ORDER BY id;

-- q: ar_int_division_literal
SELECT 7 / 2 AS a, -7 / 2 AS b, 7.0 / 2 AS c;

-- q: ar_modulo
SELECT id, id % 7 AS m FROM pd_orders WHERE id <= 10 ORDER BY id;

-- q: ar_avg_ratio_int
SELECT sum(qty) / count(*) AS int_avg FROM pd_orders;

-- q: ar_percentage
SELECT status, 100 * count(*) / (SELECT count(*) FROM pd_orders) AS pct FROM pd_orders GROUP BY status ORDER BY status;

-- q: ar_numeric_mult
SELECT id, qty * unit_price AS total, unit_price * 0.19 AS vat FROM pd_orders WHERE id <= 10 ORDER BY id;

-- q: ar_double_math
SELECT id, weight_kg * 2.20462 AS lb FROM pd_products WHERE id <= 10 ORDER BY id;

-- q: ar_round_trunc
SELECT id, round(weight_kg) AS r, trunc(price) AS t, ceil(price) AS c, floor(price) AS f FROM pd_products WHERE id <= 10 ORDER BY id;

-- q: ar_abs_sign
SELECT abs(-5) AS a, sign(-3.5) AS s, abs(qty - 5) AS d FROM pd_orders WHERE id = 3;

-- q: ar_power_sqrt
SELECT power(2, 10) AS p, sqrt(16) AS s, 2 ^ 3 AS c;

-- q: ar_div_by_zero
SELECT count(*) / 0 AS boom FROM pd_orders;

-- q: ar_float_div_by_zero
SELECT max(weight_kg) / 0 AS boom FROM pd_products;

-- q: ar_unary_minus
SELECT id, -qty AS neg FROM pd_orders WHERE id <= 5 ORDER BY id;

-- q: ar_net_revenue
SELECT round(sum(qty * unit_price * (1 - coalesce(discount, 0)))::numeric, 2) AS net FROM pd_orders WHERE status = 'delivered';

-- q: ar_round_half
SELECT round(2.5) AS a, round(-2.5) AS b, round(0.125, 2) AS c;

-- q: ar_numeric_division
SELECT id, price / 3 AS third FROM pd_products WHERE id <= 5 ORDER BY id;

-- q: ar_int_mixed_numeric_div
SELECT id, qty / 4.0 AS quarter FROM pd_orders WHERE id <= 5 ORDER BY id;

-- q: ar_greatest_numeric
SELECT greatest(1, 2.5, 2) AS g, least(3, 1.5) AS l;
