-- The dataset every client check reads, loaded through redsql itself by
-- scripts/test-clients.sh (psql -f). Table names start with cl_ because the
-- Redis may be shared with other tests. Mirrored in clients/python/dataset.py.
DROP TABLE IF EXISTS cl_city;
DROP TABLE IF EXISTS cl_order;
DROP TABLE IF EXISTS cl_scratch;
CREATE TABLE cl_city (id bigint PRIMARY KEY, name text, country text, population bigint,
  area double precision, founded date, capital boolean, updated_at timestamp);
INSERT INTO cl_city VALUES
  (1, 'Paris', 'FR', 2102650, 105.4, '1900-01-01', true, '2024-01-05 10:00:00'),
  (2, 'Lyon', 'FR', 522250, 47.87, '1901-02-03', false, '2024-01-06 11:30:00'),
  (3, 'Berlin', 'DE', 3878100, 891.1, '1902-03-04', true, '2024-02-07 12:45:30'),
  (4, 'Hamburg', 'DE', 1910160, 755.2, '1903-04-05', false, '2024-03-08 08:00:00'),
  (5, 'Porto', 'PT', 231800, 41.42, '1904-05-06', false, NULL);
-- 60 orders: id i, city_id i % 5 + 1, status new/paid/shipped by i % 3,
-- amount i * 2.5, qty i % 7 (COPY text format); with a RediSearch index on (status, amount).
CREATE TABLE cl_order (id bigint PRIMARY KEY, city_id bigint, status text, amount double precision, qty bigint);
COPY cl_order FROM STDIN ;
1	2	paid	2.5	1
2	3	shipped	5.0	2
3	4	new	7.5	3
4	5	paid	10.0	4
5	1	shipped	12.5	5
6	2	new	15.0	6
7	3	paid	17.5	0
8	4	shipped	20.0	1
9	5	new	22.5	2
10	1	paid	25.0	3
11	2	shipped	27.5	4
12	3	new	30.0	5
13	4	paid	32.5	6
14	5	shipped	35.0	0
15	1	new	37.5	1
16	2	paid	40.0	2
17	3	shipped	42.5	3
18	4	new	45.0	4
19	5	paid	47.5	5
20	1	shipped	50.0	6
21	2	new	52.5	0
22	3	paid	55.0	1
23	4	shipped	57.5	2
24	5	new	60.0	3
25	1	paid	62.5	4
26	2	shipped	65.0	5
27	3	new	67.5	6
28	4	paid	70.0	0
29	5	shipped	72.5	1
30	1	new	75.0	2
31	2	paid	77.5	3
32	3	shipped	80.0	4
33	4	new	82.5	5
34	5	paid	85.0	6
35	1	shipped	87.5	0
36	2	new	90.0	1
37	3	paid	92.5	2
38	4	shipped	95.0	3
39	5	new	97.5	4
40	1	paid	100.0	5
41	2	shipped	102.5	6
42	3	new	105.0	0
43	4	paid	107.5	1
44	5	shipped	110.0	2
45	1	new	112.5	3
46	2	paid	115.0	4
47	3	shipped	117.5	5
48	4	new	120.0	6
49	5	paid	122.5	0
50	1	shipped	125.0	1
51	2	new	127.5	2
52	3	paid	130.0	3
53	4	shipped	132.5	4
54	5	new	135.0	5
55	1	paid	137.5	6
56	2	shipped	140.0	0
57	3	new	142.5	1
58	4	paid	145.0	2
59	5	shipped	147.5	3
60	1	new	150.0	4
\.
CREATE INDEX ON cl_order (status, amount);
-- Written to by the clients' INSERT checks (each uses its own id range).
CREATE TABLE cl_scratch (id bigint PRIMARY KEY, label text, score double precision);
SELECT count(*) AS orders FROM cl_order;
