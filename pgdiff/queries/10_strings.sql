-- String functions.

-- q: str_upper_lower
SELECT id, upper(name) AS u, lower(name) AS l FROM pd_customers WHERE id <= 15 ORDER BY id;

-- q: str_length
SELECT id, name, length(name) AS len, char_length(name) AS cl FROM pd_customers WHERE id <= 15 ORDER BY id;

-- q: str_octet_length
SELECT id, octet_length(name) AS bytes FROM pd_customers WHERE id <= 15 ORDER BY id;

-- q: str_concat_op
SELECT id, name || ' <' || email || '>' AS contact FROM pd_customers WHERE id <= 12 ORDER BY id;

-- q: str_concat_fn_nulls
SELECT id, concat(name, ' / ', city) AS c FROM pd_customers WHERE id <= 12 ORDER BY id;

-- q: str_concat_ws
SELECT id, concat_ws(', ', city, country) AS place FROM pd_customers WHERE id <= 12 ORDER BY id;

-- q: str_substring
SELECT sku, substring(sku from 5 for 4) AS num, substr(sku, 1, 3) AS pre FROM pd_products WHERE id <= 5 ORDER BY sku;

-- q: str_left_right
SELECT id, left(name, 3) AS l, right(name, 3) AS r FROM pd_customers WHERE id <= 10 ORDER BY id;

-- q: str_position
SELECT id, position('@' IN email) AS at FROM pd_customers WHERE id <= 12 ORDER BY id;

-- q: str_split_part
SELECT id, split_part(email, '@', 2) AS domain FROM pd_customers WHERE id <= 12 ORDER BY id;

-- q: str_domain_counts
SELECT lower(split_part(email, '@', 2)) AS domain, count(*) FROM pd_customers WHERE email LIKE '%@%' GROUP BY 1 ORDER BY 1;

-- q: str_trim
SELECT id, '[' || trim(note) || ']' AS t, '[' || ltrim(note) || ']' AS l, '[' || rtrim(note) || ']' AS r FROM pd_orders WHERE note IS NOT NULL ORDER BY id LIMIT 12;

-- q: str_replace
SELECT id, replace(sku, 'SKU-', 'P') AS code FROM pd_products WHERE id <= 5 ORDER BY id;

-- q: str_initcap
SELECT id, initcap(city) AS city FROM pd_customers WHERE id <= 10 ORDER BY id;

-- q: str_lpad_rpad
SELECT id, lpad(id::text, 5, '0') AS padded, rpad(sku, 10, '.') AS r FROM pd_products WHERE id <= 5 ORDER BY id;

-- q: str_reverse
SELECT reverse(sku) AS r FROM pd_products WHERE id = 12;

-- q: str_starts_with
SELECT count(*) FROM pd_customers WHERE starts_with(name, 'Z');

-- q: str_regexp_replace
SELECT id, regexp_replace(sku, '[0-9]+', '#') AS masked FROM pd_products WHERE id <= 5 ORDER BY id;

-- q: str_strpos
SELECT id, strpos(name, ' ') AS space_at FROM pd_customers WHERE id <= 10 ORDER BY id;

-- q: str_lower_group
SELECT lower(category) AS category, count(*) FROM pd_products GROUP BY lower(category);

-- q: str_ilike_unicode
SELECT count(*) FROM pd_customers WHERE name ILIKE '%müller%';

-- q: str_upper_unicode
SELECT DISTINCT upper(city) AS city FROM pd_customers WHERE country IN ('DE', 'PL', 'BR');

-- q: str_repeat
SELECT repeat('ab', 3) AS r;

-- q: str_empty_vs_null_length
SELECT id, length(email) AS len FROM pd_customers WHERE email = '' OR email IS NULL ORDER BY id LIMIT 10;

-- q: str_md5
SELECT md5(sku) AS h FROM pd_products WHERE id = 1;

-- q: str_quote_in_literal
SELECT count(*) FROM pd_customers WHERE name LIKE '%O''Brien%';

-- q: str_substring_unicode
SELECT id, name, substring(name from 2 for 3) AS s, right(name, 2) AS r, length(name) AS n FROM pd_customers WHERE name ~ '[^ -~]' ORDER BY id LIMIT 15;
