//! The types `pg_type` lists and `format_type()` names: PostgreSQL's OIDs,
//! names and sizes for every type redsql's columns, parameters and catalog
//! relations use.

/// (oid, typname, SQL name as `format_type` prints it, typlen, typcategory,
/// array type oid, element type oid for arrays).
pub const TYPES: &[(u32, &str, &str, i16, char, u32, u32)] = &[
    (16, "bool", "boolean", 1, 'B', 1000, 0),
    (17, "bytea", "bytea", -1, 'U', 1001, 0),
    (18, "char", "\"char\"", 1, 'Z', 1002, 0),
    (19, "name", "name", 64, 'S', 1003, 0),
    (20, "int8", "bigint", 8, 'N', 1016, 0),
    (21, "int2", "smallint", 2, 'N', 1005, 0),
    (22, "int2vector", "int2vector", -1, 'A', 1006, 21),
    (23, "int4", "integer", 4, 'N', 1007, 0),
    (24, "regproc", "regproc", 4, 'N', 1008, 0),
    (25, "text", "text", -1, 'S', 1009, 0),
    (26, "oid", "oid", 4, 'N', 1028, 0),
    (30, "oidvector", "oidvector", -1, 'A', 1013, 26),
    (114, "json", "json", -1, 'U', 199, 0),
    (700, "float4", "real", 4, 'N', 1021, 0),
    (701, "float8", "double precision", 8, 'N', 1022, 0),
    (1000, "_bool", "boolean[]", -1, 'A', 0, 16),
    (1001, "_bytea", "bytea[]", -1, 'A', 0, 17),
    (1005, "_int2", "smallint[]", -1, 'A', 0, 21),
    (1007, "_int4", "integer[]", -1, 'A', 0, 23),
    (1009, "_text", "text[]", -1, 'A', 0, 25),
    (1016, "_int8", "bigint[]", -1, 'A', 0, 20),
    (1021, "_float4", "real[]", -1, 'A', 0, 700),
    (1022, "_float8", "double precision[]", -1, 'A', 0, 701),
    (1042, "bpchar", "character", -1, 'S', 1014, 0),
    (1043, "varchar", "character varying", -1, 'S', 1015, 0),
    (1082, "date", "date", 4, 'D', 1182, 0),
    (1083, "time", "time without time zone", 8, 'D', 1183, 0),
    (1114, "timestamp", "timestamp without time zone", 8, 'D', 1115, 0),
    (1115, "_timestamp", "timestamp without time zone[]", -1, 'A', 0, 1114),
    (1182, "_date", "date[]", -1, 'A', 0, 1082),
    (1184, "timestamptz", "timestamp with time zone", 8, 'D', 1185, 0),
    (1185, "_timestamptz", "timestamp with time zone[]", -1, 'A', 0, 1184),
    (1186, "interval", "interval", 16, 'T', 1187, 0),
    (1700, "numeric", "numeric", -1, 'N', 1231, 0),
    (2205, "regclass", "regclass", 4, 'N', 2210, 0),
    (2206, "regtype", "regtype", 4, 'N', 2211, 0),
    (2950, "uuid", "uuid", 16, 'U', 2951, 0),
    (3802, "jsonb", "jsonb", -1, 'U', 3807, 0),
];

/// Types whose I/O functions PostgreSQL names with an underscore (`date_recv`).
const UNDERSCORED: &[&str] = &[
    "json",
    "date",
    "time",
    "timestamp",
    "timestamptz",
    "interval",
    "numeric",
    "uuid",
    "jsonb",
];
/// Types with a type-modifier input function (`varchartypmodin`).
const TYPMOD: &[&str] = &[
    "bpchar",
    "varchar",
    "time",
    "timestamp",
    "timestamptz",
    "interval",
    "numeric",
];

/// The name of a type's I/O function `kind` (`in`, `out`, `recv`, `send`,
/// `typmodin`, `typmodout`), as PostgreSQL 15's `pg_type` lists it; `-` for none.
/// ADBC's driver picks its decoders by these names (`date_recv` is a date).
pub fn io_function(oid: u32, kind: &str) -> String {
    let Some(&(_, name, _, _, _, _, elem)) = by_oid(oid) else {
        return "-".into();
    };
    let typmod = kind.starts_with("typmod");
    if elem != 0 && !name.ends_with("vector") {
        // Arrays: array_in/out/recv/send; the element's typmod functions.
        return if typmod {
            io_function(elem, kind)
        } else {
            format!("array_{kind}")
        };
    }
    match (typmod, UNDERSCORED.contains(&name)) {
        (true, _) if TYPMOD.contains(&name) => format!("{name}{kind}"),
        (true, _) => "-".into(),
        (false, true) => format!("{name}_{kind}"),
        (false, false) => format!("{name}{kind}"),
    }
}

fn by_oid(oid: u32) -> Option<&'static (u32, &'static str, &'static str, i16, char, u32, u32)> {
    TYPES.iter().find(|t| t.0 == oid)
}

/// A type's `format_type` name by OID.
pub fn sql_name(oid: u32) -> Option<&'static str> {
    by_oid(oid).map(|t| t.2)
}

/// A type's `typname` by OID.
pub fn type_name(oid: u32) -> Option<&'static str> {
    by_oid(oid).map(|t| t.1)
}

/// A type's `typlen` by OID (-1: variable length, or unknown).
pub fn length(oid: u32) -> i16 {
    by_oid(oid).map_or(-1, |t| t.3)
}

/// The OID of a type given by its `typname` or SQL name (`int8`, `bigint`).
pub fn oid_of(name: &str) -> Option<u32> {
    let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
    TYPES.iter().find(|t| t.1 == name || t.2 == name).map(|t| t.0)
}

#[cfg(test)]
mod tests {
    use super::io_function;

    #[test]
    fn io_functions_as_postgresql_15_names_them() {
        let f = |oid, kind| io_function(oid, kind);
        assert_eq!(f(20, "recv"), "int8recv");
        assert_eq!(f(1082, "recv"), "date_recv");
        assert_eq!(f(1114, "in"), "timestamp_in");
        assert_eq!(f(1114, "typmodin"), "timestamptypmodin");
        assert_eq!(f(1115, "recv"), "array_recv");
        assert_eq!(f(1115, "typmodout"), "timestamptypmodout");
        assert_eq!(f(22, "send"), "int2vectorsend");
        assert_eq!(f(1043, "typmodin"), "varchartypmodin");
        assert_eq!(f(25, "typmodin"), "-");
        assert_eq!(f(3802, "out"), "jsonb_out");
    }
}
