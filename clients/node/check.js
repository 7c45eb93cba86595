// node-postgres (pg) checks: simple queries, parameters (extended protocol),
// named prepared statements, type parsing, rowMode, a pool, transactions,
// errors. Prints "CHECK PASS node.<name>" / "CHECK FAIL node.<name> :: <error>".
//   node check.js HOST PORT   (with NODE_PATH pointing at the installed pg)
'use strict';
const assert = require('assert/strict');
const pg = require('pg');

const config = {
  host: process.argv[2], port: Number(process.argv[3]), user: 'redsql', database: 'redsql',
  application_name: 'cl-node', connectionTimeoutMillis: 10000,
};
const CITIES = [
  [1, 'Paris', 'FR', 2102650, 105.4, '1900-01-01', true, '2024-01-05T10:00:00'],
  [2, 'Lyon', 'FR', 522250, 47.87, '1901-02-03', false, '2024-01-06T11:30:00'],
  [3, 'Berlin', 'DE', 3878100, 891.1, '1902-03-04', true, '2024-02-07T12:45:30'],
  [4, 'Hamburg', 'DE', 1910160, 755.2, '1903-04-05', false, '2024-03-08T08:00:00'],
  [5, 'Porto', 'PT', 231800, 41.42, '1904-05-06', false, null],
];

// Parse date and timestamp as the text PostgreSQL sends, so the checks do not
// depend on the machine's time zone; int8 as a JS number.
const types = {
  getTypeParser(oid, format) {
    if (oid === 1082 || oid === 1114) return (s) => s;
    if (oid === 20) return (s) => Number(s);
    return pg.types.getTypeParser(oid, format);
  },
};
function cityRow(r) {
  return [r.id, r.name, r.country, r.population, r.area, r.founded, r.capital,
    r.updated_at === null ? null : r.updated_at.replace(' ', 'T')];
}

async function withClient(fn) {
  const c = new pg.Client({ ...config, types });
  await c.connect();
  try { return await fn(c); } finally { await c.end(); }
}

const checks = {
  async simple_query() {
    await withClient(async (c) => {
      const r = await c.query('SELECT * FROM cl_city ORDER BY id');
      assert.deepEqual(r.fields.map((f) => f.name),
        ['id', 'name', 'country', 'population', 'area', 'founded', 'capital', 'updated_at']);
      assert.deepEqual(r.fields.map((f) => f.dataTypeID), [20, 25, 25, 20, 701, 1082, 16, 1114]);
      assert.deepEqual(r.rows.map(cityRow), CITIES);
    });
  },
  async default_type_parsers() {
    // without custom parsers: int8 as a string, float8 as a number, bool, Date objects
    const c = new pg.Client(config);
    await c.connect();
    try {
      const r = await c.query('SELECT id, area, capital, founded FROM cl_city WHERE id = 3');
      assert.equal(r.rows[0].id, '3');
      assert.equal(r.rows[0].area, 891.1);
      assert.equal(r.rows[0].capital, true);
      assert.ok(r.rows[0].founded instanceof Date);
      assert.equal(r.rows[0].founded.getFullYear(), 1902);
    } finally { await c.end(); }
  },
  async params() {
    await withClient(async (c) => {
      const r = await c.query('SELECT name FROM cl_city WHERE country = $1 AND population > $2 ORDER BY id',
        ['FR', 600000]);
      assert.deepEqual(r.rows.map((x) => x.name), ['Paris']);
      const r2 = await c.query('SELECT id FROM cl_city WHERE capital = $1 AND founded < $2 ORDER BY id',
        [false, '1904-01-01']);
      assert.deepEqual(r2.rows.map((x) => x.id), [2, 4]);
    });
  },
  async named_prepared() {
    await withClient(async (c) => {
      for (const id of [1, 2, 3, 1]) {
        const r = await c.query({ name: 'cl-city-by-id', text: 'SELECT * FROM cl_city WHERE id = $1', values: [id] });
        assert.deepEqual(r.rows.map(cityRow), [CITIES[id - 1]]);
      }
    });
  },
  async row_mode_array() {
    await withClient(async (c) => {
      const r = await c.query({ text: 'SELECT status, count(*) AS n FROM cl_order GROUP BY status ORDER BY status',
        rowMode: 'array' });
      assert.deepEqual(r.rows, [['new', 20], ['paid', 20], ['shipped', 20]]);
      assert.deepEqual(r.fields.map((f) => f.name), ['status', 'n']);
    });
  },
  async pool_concurrent() {
    const pool = new pg.Pool({ ...config, types, max: 3 });
    try {
      const ids = [1, 2, 3, 4, 5, 1];
      const results = await Promise.all(ids.map((id) => pool.query('SELECT name FROM cl_city WHERE id = $1', [id])));
      assert.deepEqual(results.map((r) => r.rows[0].name), ids.map((id) => CITIES[id - 1][1]));
    } finally { await pool.end(); }
  },
  async transaction_insert() {
    await withClient(async (c) => {
      await c.query('DELETE FROM cl_scratch WHERE id BETWEEN 400 AND 499');
      await c.query('BEGIN');
      const ins = await c.query('INSERT INTO cl_scratch (id, label, score) VALUES ($1, $2, $3), ($4, $5, $6)',
        [400, 'node', 4.5, 401, null, null]);
      assert.equal(ins.rowCount, 2);
      await c.query('COMMIT');
      const r = await c.query('SELECT id, label, score FROM cl_scratch WHERE id BETWEEN 400 AND 499 ORDER BY id');
      assert.deepEqual(r.rows, [{ id: 400, label: 'node', score: 4.5 }, { id: 401, label: null, score: null }]);
    });
  },
  async error_sqlstate() {
    await withClient(async (c) => {
      await assert.rejects(c.query('SELECT * FROM cl_no_such_table'), (e) => e.code === '42P01');
      await assert.rejects(c.query('SELECT cl_no_such_column FROM cl_city WHERE id = $1', [1]), (e) => e.code === '42703');
      const r = await c.query('SELECT count(*) AS n FROM cl_order');
      assert.equal(r.rows[0].n, 60);
    });
  },
  async catalog_tables() {
    await withClient(async (c) => {
      const r = await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 " +
        "AND table_name LIKE 'cl%' ORDER BY table_name", ['public']);
      // Other tests share the database: keep this harness's tables (cl_ prefix).
      const names = r.rows.map((x) => x.table_name).filter((n) => n.startsWith('cl_'));
      assert.deepEqual(names, ['cl_city', 'cl_order', 'cl_scratch']);
    });
  },
};

(async () => {
  for (const [name, fn] of Object.entries(checks)) {
    try {
      await fn();
      console.log(`CHECK PASS node.${name}`);
    } catch (e) {
      const code = e.code ? ` [${e.code}]` : '';
      let msg = `${e.constructor.name}${code}: ${String(e.message).replace(/\s+/g, ' ')}`;
      if (msg.length > 400) msg = msg.slice(0, 400) + '...';
      console.log(`CHECK FAIL node.${name} :: ${msg}`);
    }
  }
})();
