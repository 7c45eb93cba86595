import java.sql.*;
import java.util.*;

/**
 * pgjdbc checks (Debian's libpostgresql-jdbc-java): DatabaseMetaData as
 * DBeaver and Metabase call it, prepared statements past the binary
 * threshold, fetch sizes (named portals), batches, transactions, errors.
 *
 *   java -cp postgresql.jar:. JdbcCheck HOST PORT
 *
 * Prints "CHECK PASS jdbc.<name>" or "CHECK FAIL jdbc.<name> :: <error>" per
 * check, like every client of scripts/test-clients.sh.
 */
public class JdbcCheck {
    static String url;

    interface Check { void run(Connection c) throws Exception; }

    public static void main(String[] args) throws Exception {
        url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/redsql?user=redsql&ApplicationName=cl-jdbc";
        LinkedHashMap<String, Check> checks = new LinkedHashMap<>();
        checks.put("connect", JdbcCheck::connect);
        checks.put("getSchemas", JdbcCheck::getSchemas);
        checks.put("getTables", JdbcCheck::getTables);
        checks.put("getColumns", JdbcCheck::getColumns);
        checks.put("getPrimaryKeys", JdbcCheck::getPrimaryKeys);
        checks.put("getIndexInfo", JdbcCheck::getIndexInfo);
        checks.put("getTypeInfo", JdbcCheck::getTypeInfo);
        checks.put("getImportedKeys", JdbcCheck::getImportedKeys);
        checks.put("select_types", JdbcCheck::selectTypes);
        checks.put("resultset_metadata", JdbcCheck::resultSetMetaData);
        checks.put("prepared_binary", JdbcCheck::preparedBinary);
        checks.put("prepared_param_types", JdbcCheck::preparedParamTypes);
        checks.put("fetch_size", JdbcCheck::fetchSize);
        checks.put("transaction", JdbcCheck::transaction);
        checks.put("batch_insert", JdbcCheck::batchInsert);
        checks.put("error_sqlstate", JdbcCheck::errorSqlState);
        for (Map.Entry<String, Check> e : checks.entrySet()) {
            String id = "jdbc." + e.getKey();
            try (Connection c = DriverManager.getConnection(url)) {
                e.getValue().run(c);
                System.out.println("CHECK PASS " + id);
            } catch (Throwable t) {
                String msg = (t.getClass().getSimpleName() + (t instanceof SQLException
                        ? " [" + ((SQLException) t).getSQLState() + "]" : "") + ": " + t.getMessage())
                        .replaceAll("\\s+", " ");
                if (msg.length() > 400) msg = msg.substring(0, 400) + "...";
                System.out.println("CHECK FAIL " + id + " :: " + msg);
            }
            System.out.flush();
        }
    }

    static void eq(Object actual, Object expected, String what) {
        if (!Objects.equals(actual, expected))
            throw new AssertionError(what + ": expected " + expected + ", got " + actual);
    }

    /** The named columns of every row, each row as a list. */
    static List<List<Object>> rows(ResultSet rs, String... cols) throws SQLException {
        List<List<Object>> out = new ArrayList<>();
        try (rs) {
            while (rs.next()) {
                List<Object> row = new ArrayList<>();
                for (String c : cols) row.add(rs.getObject(c));
                out.add(row);
            }
        }
        return out;
    }

    static List<Object> column(ResultSet rs, String col) throws SQLException {
        List<Object> out = new ArrayList<>();
        for (List<Object> r : rows(rs, col)) out.add(r.get(0));
        return out;
    }

    static void connect(Connection c) throws Exception {
        DatabaseMetaData md = c.getMetaData();
        eq(md.getDatabaseProductName(), "PostgreSQL", "product name");
        eq(md.getDatabaseMajorVersion() >= 10, true, "major version " + md.getDatabaseMajorVersion());
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM cl_city")) {
            rs.next();
            eq(rs.getLong(1), 5L, "count");
        }
    }

    static void getSchemas(Connection c) throws Exception {
        List<Object> schemas = column(c.getMetaData().getSchemas(), "TABLE_SCHEM");
        for (String s : new String[] {"public", "pg_catalog", "information_schema"})
            eq(schemas.contains(s), true, "schema " + s + " in " + schemas);
    }

    static void getTables(Connection c) throws Exception {
        List<List<Object>> t = rows(c.getMetaData().getTables(null, "public", "cl%", new String[] {"TABLE"}),
                "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE");
        // Other tests share the database: keep this harness's tables (cl_ prefix).
        t.removeIf(r -> !String.valueOf(r.get(1)).startsWith("cl_"));
        eq(t, List.of(List.of("public", "cl_city", "TABLE"), List.of("public", "cl_order", "TABLE"),
                List.of("public", "cl_scratch", "TABLE")), "tables");
    }

    static void getColumns(Connection c) throws Exception {
        List<List<Object>> cols = rows(c.getMetaData().getColumns(null, "public", "cl_city", "%"),
                "COLUMN_NAME", "TYPE_NAME", "DATA_TYPE", "NULLABLE", "ORDINAL_POSITION");
        eq(cols, List.of(
                List.of("id", "int8", Types.BIGINT, DatabaseMetaData.columnNoNulls, 1),
                List.of("name", "text", Types.VARCHAR, DatabaseMetaData.columnNullable, 2),
                List.of("country", "text", Types.VARCHAR, DatabaseMetaData.columnNullable, 3),
                List.of("population", "int8", Types.BIGINT, DatabaseMetaData.columnNullable, 4),
                List.of("area", "float8", Types.DOUBLE, DatabaseMetaData.columnNullable, 5),
                List.of("founded", "date", Types.DATE, DatabaseMetaData.columnNullable, 6),
                List.of("capital", "bool", Types.BIT, DatabaseMetaData.columnNullable, 7),
                List.of("updated_at", "timestamp", Types.TIMESTAMP, DatabaseMetaData.columnNullable, 8)),
                "columns");
    }

    static void getPrimaryKeys(Connection c) throws Exception {
        eq(rows(c.getMetaData().getPrimaryKeys(null, "public", "cl_city"), "COLUMN_NAME", "KEY_SEQ", "PK_NAME"),
                List.of(List.of("id", 1, "cl_city_pkey")), "primary key"); // KEY_SEQ: int4 in PostgreSQL 15
    }

    static void getIndexInfo(Connection c) throws Exception {
        eq(rows(c.getMetaData().getIndexInfo(null, "public", "cl_order", false, false),
                "NON_UNIQUE", "INDEX_NAME", "ORDINAL_POSITION", "COLUMN_NAME"),
                // ORDINAL_POSITION: int4, as PostgreSQL 15 answers it through pgjdbc 42.5
                List.of(List.of(false, "cl_order_pkey", 1, "id"),
                        List.of(true, "cl_order_idx", 1, "status"),
                        List.of(true, "cl_order_idx", 2, "amount")), "indexes");
    }

    static void getTypeInfo(Connection c) throws Exception {
        List<List<Object>> types = rows(c.getMetaData().getTypeInfo(), "TYPE_NAME", "DATA_TYPE");
        for (List<Object> want : List.of(List.<Object>of("int8", Types.BIGINT), List.<Object>of("text", Types.VARCHAR),
                List.<Object>of("float8", Types.DOUBLE), List.<Object>of("bool", Types.BIT),
                List.<Object>of("date", Types.DATE), List.<Object>of("timestamp", Types.TIMESTAMP)))
            eq(types.contains(want), true, "type " + want + " in getTypeInfo (" + types.size() + " rows)");
    }

    static void getImportedKeys(Connection c) throws Exception {
        eq(rows(c.getMetaData().getImportedKeys(null, "public", "cl_order"), "FK_NAME").size(), 0, "foreign keys");
    }

    static final Object[][] CITIES = {
        {1L, "Paris", 2102650L, 105.4, "1900-01-01", true, "2024-01-05 10:00:00.0"},
        {2L, "Lyon", 522250L, 47.87, "1901-02-03", false, "2024-01-06 11:30:00.0"},
        {3L, "Berlin", 3878100L, 891.1, "1902-03-04", true, "2024-02-07 12:45:30.0"},
        {4L, "Hamburg", 1910160L, 755.2, "1903-04-05", false, "2024-03-08 08:00:00.0"},
        {5L, "Porto", 231800L, 41.42, "1904-05-06", false, null},
    };

    /** The current row (id, name, population, area, founded, capital, updated_at) via typed getters. */
    static Object[] city(ResultSet rs) throws SQLException {
        Timestamp ts = rs.getTimestamp(7);
        return new Object[] {rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getDouble(4),
            rs.getDate(5).toString(), rs.getBoolean(6), ts == null ? null : ts.toString()};
    }

    static final String CITY_COLS = "id, name, population, area, founded, capital, updated_at";

    static void selectTypes(Connection c) throws Exception {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT " + CITY_COLS + " FROM cl_city ORDER BY id")) {
            for (Object[] want : CITIES) {
                eq(rs.next(), true, "row " + want[0]);
                eq(Arrays.asList(city(rs)), Arrays.asList(want), "row");
            }
            eq(rs.next(), false, "end");
        }
    }

    /** pgjdbc looks up the RowDescription's table OID/column number in pg_attribute for nullability. */
    static void resultSetMetaData(Connection c) throws Exception {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id, name, area FROM cl_city")) {
            ResultSetMetaData md = rs.getMetaData();
            eq(md.getColumnTypeName(1) + "," + md.getColumnTypeName(2) + "," + md.getColumnTypeName(3),
                    "int8,text,float8", "type names");
            eq(md.isNullable(1), ResultSetMetaData.columnNoNulls, "id nullability");
            eq(md.isNullable(2), ResultSetMetaData.columnNullable, "name nullability");
            eq(md.getTableName(1), "cl_city", "base table name");
        }
    }

    /** Executions 1-4 are unnamed text-format statements; from the 5th (prepareThreshold) pgjdbc
     *  uses a named server statement and binary parameters and results. */
    static void preparedBinary(Connection c) throws Exception {
        try (PreparedStatement ps = c.prepareStatement("SELECT " + CITY_COLS + " FROM cl_city WHERE id = ?")) {
            for (int run = 0; run < 8; run++) {
                int id = run % 5 + 1;
                ps.setLong(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    eq(rs.next(), true, "row for id " + id + " on execution " + (run + 1));
                    eq(Arrays.asList(city(rs)), Arrays.asList(CITIES[id - 1]), "execution " + (run + 1));
                }
            }
            eq(ps.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare(), true, "server-prepared");
        }
    }

    static void preparedParamTypes(Connection c) throws Exception {
        String sql = "SELECT id FROM cl_city WHERE country = ? AND area > ? AND founded >= ? AND capital = ? "
                + "AND updated_at < ? ORDER BY id";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int run = 0; run < 6; run++) {
                ps.setString(1, "DE");
                ps.setDouble(2, 100.0);
                ps.setDate(3, java.sql.Date.valueOf("1902-01-01"));
                ps.setBoolean(4, true);
                ps.setTimestamp(5, Timestamp.valueOf("2024-12-31 00:00:00"));
                eq(column(ps.executeQuery(), "id"), List.of(3L), "execution " + (run + 1));
            }
        }
    }

    /** With autocommit off, setFetchSize makes pgjdbc Execute a portal with a row limit
     *  and resume it (PortalSuspended) until the rows run out. */
    static void fetchSize(Connection c) throws Exception {
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("SELECT id, amount FROM cl_order WHERE id > ? ORDER BY id")) {
            ps.setFetchSize(7);
            ps.setLong(1, 0);
            long n = 0, sum = 0;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    n++;
                    eq(rs.getLong(1), n, "id order");
                    eq(rs.getDouble(2), n * 2.5, "amount");
                    sum += rs.getLong(1);
                }
            }
            eq(n, 60L, "rows");
            eq(sum, 1830L, "sum of ids");
        }
        c.commit();
    }

    static void transaction(Connection c) throws Exception {
        eq(c.getTransactionIsolation(), Connection.TRANSACTION_READ_COMMITTED, "isolation");
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.executeUpdate("DELETE FROM cl_scratch WHERE id BETWEEN 300 AND 399");
            eq(s.executeUpdate("INSERT INTO cl_scratch VALUES (300, 'jdbc tx', 3.5)"), 1, "insert count");
        }
        c.commit();
        c.setAutoCommit(true);
        try (Statement s = c.createStatement()) {
            eq(column(s.executeQuery("SELECT label FROM cl_scratch WHERE id = 300"), "label"), List.of("jdbc tx"),
                    "committed row");
        }
    }

    static void batchInsert(Connection c) throws Exception {
        try (Statement s = c.createStatement()) {
            s.executeUpdate("DELETE FROM cl_scratch WHERE id BETWEEN 310 AND 319");
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO cl_scratch (id, label, score) VALUES (?, ?, ?)")) {
            for (int i = 0; i < 6; i++) {
                ps.setLong(1, 310 + i);
                ps.setString(2, "b" + i);
                ps.setDouble(3, i * 0.5);
                ps.addBatch();
            }
            eq(Arrays.toString(ps.executeBatch()), "[1, 1, 1, 1, 1, 1]", "batch counts");
        }
        try (Statement s = c.createStatement()) {
            eq(column(s.executeQuery("SELECT sum(score) AS s FROM cl_scratch WHERE id BETWEEN 310 AND 319"), "s"),
                    List.of(7.5), "sum");
        }
    }

    static void errorSqlState(Connection c) throws Exception {
        try (Statement s = c.createStatement()) {
            try {
                s.executeQuery("SELECT * FROM cl_no_such_table");
                throw new AssertionError("no error for an unknown table");
            } catch (SQLException e) {
                eq(e.getSQLState(), "42P01", "SQLSTATE");
            }
            eq(column(s.executeQuery("SELECT count(*) AS n FROM cl_order"), "n"), List.of(60L), "after the error");
        }
    }
}
