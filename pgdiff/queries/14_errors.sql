-- Queries that must fail on both servers with the same class of SQLSTATE.

-- q: err_unknown_column
SELECT no_such_column FROM pd_orders;

-- q: err_unknown_table
SELECT * FROM pd_no_such_table;

-- q: err_syntax
SELECT FROM WHERE pd_orders;

-- q: err_bad_cast
SELECT 'abc'::int;

-- q: err_bad_date_literal
SELECT DATE '2024-02-30';

-- q: err_group_by_missing
SELECT status, qty FROM pd_orders GROUP BY status;
