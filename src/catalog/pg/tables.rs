//! The `pg_catalog` relations: declarations and rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    indexes, pkey_name, table_columns, types, view_columns, Col, Relation, Row, DATABASE_NAME, DATABASE_OID,
    INFORMATION_SCHEMA_NS, PG_CATALOG_NS, PUBLIC_NS, REDSQL_NS, ROLE_NAME, ROLE_OID, V,
};
use crate::catalog::system::SYSTEM_VIEWS;
use crate::catalog::TableInfo;

macro_rules! rel {
    ($name:literal, $oid:expr, $kind:literal, $cols:literal) => {
        Relation {
            schema: "pg_catalog",
            name: $name,
            oid: $oid,
            kind: $kind,
            columns: $cols,
        }
    };
}

/// Access methods: tables, btree (the primary keys), and RediSearch indexes.
const AM_HEAP: u32 = 2;
const AM_BTREE: u32 = 403;
const AM_REDISEARCH: u32 = 16382;

pub static RELATIONS: &[Relation] = &[
    rel!(
        "pg_namespace",
        2615,
        'r',
        "oid:oid nspname:text nspowner:oid nspacl:list"
    ),
    rel!(
        "pg_class",
        1259,
        'r',
        "oid:oid relname:text relnamespace:oid reltype:oid reloftype:oid relowner:oid relam:oid relfilenode:oid \
         reltablespace:oid relpages:int4 reltuples:float4 relallvisible:int4 reltoastrelid:oid relhasindex:bool \
         relisshared:bool relpersistence:text relkind:text relnatts:int2 relchecks:int2 relhasrules:bool \
         relhastriggers:bool relhassubclass:bool relrowsecurity:bool relforcerowsecurity:bool relispopulated:bool \
         relreplident:text relispartition:bool relrewrite:oid relfrozenxid:int8 relminmxid:int8 relacl:list \
         reloptions:list relpartbound:text"
    ),
    rel!(
        "pg_attribute",
        1249,
        'r',
        "attrelid:oid attname:text atttypid:oid attstattarget:int4 attlen:int2 attnum:int2 attndims:int4 \
         attcacheoff:int4 atttypmod:int4 attbyval:bool attalign:text attstorage:text attcompression:text \
         attnotnull:bool atthasdef:bool atthasmissing:bool attidentity:text attgenerated:text attisdropped:bool \
         attislocal:bool attinhcount:int4 attcollation:oid attacl:list attoptions:list attfdwoptions:list \
         attmissingval:text"
    ),
    rel!(
        "pg_type",
        1247,
        'r',
        "oid:oid typname:text typnamespace:oid typowner:oid typlen:int2 typbyval:bool typtype:text \
         typcategory:text typispreferred:bool typisdefined:bool typdelim:text typrelid:oid typsubscript:text \
         typelem:oid typarray:oid typinput:text typoutput:text typreceive:text typsend:text typmodin:text \
         typmodout:text typanalyze:text typalign:text typstorage:text typnotnull:bool typbasetype:oid \
         typtypmod:int4 typndims:int4 typcollation:oid typdefaultbin:text typdefault:text typacl:list"
    ),
    rel!(
        "pg_database",
        1262,
        'r',
        "oid:oid datname:text datdba:oid encoding:int4 datlocprovider:text datistemplate:bool datallowconn:bool \
         datconnlimit:int4 datfrozenxid:int8 datminmxid:int8 dattablespace:oid datcollate:text datctype:text \
         daticulocale:text datcollversion:text datacl:list"
    ),
    rel!(
        "pg_roles",
        1260,
        'v',
        "rolname:text rolsuper:bool rolinherit:bool rolcreaterole:bool rolcreatedb:bool rolcanlogin:bool \
         rolreplication:bool rolconnlimit:int4 rolpassword:text rolvaliduntil:text rolbypassrls:bool \
         rolconfig:list oid:oid"
    ),
    rel!(
        "pg_user",
        12000,
        'v',
        "usename:text usesysid:oid usecreatedb:bool usesuper:bool userepl:bool usebypassrls:bool passwd:text \
         valuntil:text useconfig:list"
    ),
    rel!("pg_am", 2601, 'r', "oid:oid amname:text amhandler:text amtype:text"),
    rel!(
        "pg_index",
        2610,
        'r',
        "indexrelid:oid indrelid:oid indnatts:int2 indnkeyatts:int2 indisunique:bool indnullsnotdistinct:bool \
         indisprimary:bool indisexclusion:bool indimmediate:bool indisclustered:bool indisvalid:bool \
         indcheckxmin:bool indisready:bool indislive:bool indisreplident:bool indkey:int2v indcollation:int2v \
         indclass:int2v indoption:int2v indexprs:text indpred:text indexdef:text indexcols:list"
    ),
    rel!(
        "pg_constraint",
        2606,
        'r',
        "oid:oid conname:text connamespace:oid contype:text condeferrable:bool condeferred:bool convalidated:bool \
         conrelid:oid contypid:oid conindid:oid conparentid:oid confrelid:oid confupdtype:text confdeltype:text \
         confmatchtype:text conislocal:bool coninhcount:int4 connoinherit:bool conkey:int2v confkey:int2v \
         conbin:text condef:text"
    ),
    rel!(
        "pg_description",
        2609,
        'r',
        "objoid:oid classoid:oid objsubid:int4 description:text"
    ),
    rel!(
        "pg_shdescription",
        2396,
        'r',
        "objoid:oid classoid:oid description:text"
    ),
    rel!(
        "pg_settings",
        12001,
        'v',
        "name:text setting:text unit:text category:text short_desc:text extra_desc:text context:text \
         vartype:text source:text min_val:text max_val:text enumvals:list boot_val:text reset_val:text \
         sourcefile:text sourceline:int4 pending_restart:bool"
    ),
    rel!(
        "pg_tables",
        12002,
        'v',
        "schemaname:text tablename:text tableowner:text tablespace:text hasindexes:bool hasrules:bool \
         hastriggers:bool rowsecurity:bool"
    ),
    rel!(
        "pg_views",
        12003,
        'v',
        "schemaname:text viewname:text viewowner:text definition:text"
    ),
    rel!(
        "pg_matviews",
        12004,
        'v',
        "schemaname:text matviewname:text matviewowner:text tablespace:text hasindexes:bool ispopulated:bool \
         definition:text"
    ),
    rel!(
        "pg_stat_user_tables",
        12005,
        'v',
        "relid:oid schemaname:text relname:text seq_scan:int8 seq_tup_read:int8 idx_scan:int8 \
         idx_tup_fetch:int8 n_tup_ins:int8 n_tup_upd:int8 n_tup_del:int8 n_live_tup:int8 n_dead_tup:int8"
    ),
    rel!(
        "pg_proc",
        1255,
        'r',
        "oid:oid proname:text pronamespace:oid proowner:oid prolang:oid prokind:text proretset:bool \
         prorettype:oid pronargs:int2 proargtypes:text prosrc:text"
    ),
    rel!("pg_attrdef", 2604, 'r', "oid:oid adrelid:oid adnum:int2 adbin:text"),
    rel!(
        "pg_collation",
        3456,
        'r',
        "oid:oid collname:text collnamespace:oid collowner:oid collprovider:text"
    ),
    rel!(
        "pg_tablespace",
        1213,
        'r',
        "oid:oid spcname:text spcowner:oid spcacl:list spcoptions:list"
    ),
    rel!(
        "pg_inherits",
        2611,
        'r',
        "inhrelid:oid inhparent:oid inhseqno:int4 inhdetachpending:bool"
    ),
    rel!(
        "pg_policy",
        3256,
        'r',
        "oid:oid polname:text polrelid:oid polcmd:text polpermissive:bool polroles:int2v polqual:text \
         polwithcheck:text"
    ),
    rel!(
        "pg_statistic_ext",
        3381,
        'r',
        "oid:oid stxrelid:oid stxname:text stxnamespace:oid stxowner:oid stxstattarget:int4 stxkeys:int2v \
         stxkind:list"
    ),
    rel!(
        "pg_publication",
        6104,
        'r',
        "oid:oid pubname:text pubowner:oid puballtables:bool"
    ),
    rel!("pg_publication_namespace", 6237, 'r', "oid:oid pnpubid:oid pnnspid:oid"),
    rel!(
        "pg_publication_rel",
        6106,
        'r',
        "oid:oid prpubid:oid prrelid:oid prqual:text prattrs:int2v"
    ),
    rel!(
        "pg_trigger",
        2620,
        'r',
        "oid:oid tgrelid:oid tgname:text tgenabled:text tgisinternal:bool"
    ),
    rel!(
        "pg_rewrite",
        2618,
        'r',
        "oid:oid rulename:text ev_class:oid ev_type:text"
    ),
    rel!(
        "pg_extension",
        3079,
        'r',
        "oid:oid extname:text extowner:oid extnamespace:oid extversion:text"
    ),
    rel!(
        "pg_enum",
        3501,
        'r',
        "oid:oid enumtypid:oid enumsortorder:float4 enumlabel:text"
    ),
    rel!(
        "pg_sequence",
        2224,
        'r',
        "seqrelid:oid seqtypid:oid seqstart:int8 seqincrement:int8 seqmax:int8 seqmin:int8 seqcache:int8 seqcycle:bool"
    ),
    // Operator classes: none beyond the access methods' defaults, which
    // redsql's indexes do not name (SQLAlchemy asks for non-default ones).
    rel!(
        "pg_opclass",
        2616,
        'r',
        "oid:oid opcmethod:oid opcname:text opcnamespace:oid opcowner:oid opcfamily:oid opcintype:oid \
         opcdefault:bool opckeytype:oid"
    ),
    rel!(
        "pg_depend",
        2608,
        'r',
        "classid:oid objid:oid objsubid:int4 refclassid:oid refobjid:oid refobjsubid:int4 deptype:text"
    ),
    rel!("pg_foreign_table", 3118, 'r', "ftrelid:oid ftserver:oid ftoptions:list"),
    rel!(
        "pg_partitioned_table",
        3350,
        'r',
        "partrelid:oid partstrat:text partnatts:int2"
    ),
    rel!("pg_event_trigger", 3466, 'r', "oid:oid evtname:text evtevent:text"),
];

/// A stable OID for a name: PostgreSQL's user OIDs start at 16384; these
/// are FNV-1a hashes above 2^24 so they stay put across catalog changes.
pub(super) fn hashed_oid(kind: &str, name: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in kind.bytes().chain([0u8]).chain(name.bytes()) {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    (1 << 24) + h % ((1u32 << 31) - (1 << 24))
}

/// The OID of a relation by name (`sale`, `pg_class`, `redsql.tables`):
/// what `'name'::regclass` gives.
pub fn relation_oid(name: &str) -> u32 {
    let bare = name.strip_prefix("pg_catalog.").unwrap_or(name);
    if let Some(r) = RELATIONS.iter().find(|r| r.name == bare) {
        return r.oid;
    }
    if let Some(r) = super::all().find(|r| r.qualified() == name) {
        return r.oid;
    }
    if let Some(i) = SYSTEM_VIEWS.iter().position(|v| *v == name) {
        return 16385 + i as u32;
    }
    hashed_oid("rel", name.strip_prefix("public.").unwrap_or(name))
}

/// Every relation `pg_class` lists: (oid, name, namespace, kind, columns
/// (name, type OID, not null), access method, has indexes, tuples).
struct Rel {
    oid: u32,
    name: String,
    ns: u32,
    kind: &'static str,
    columns: Vec<Col>,
    am: u32,
    has_index: bool,
    tuples: f64,
}

fn catalog_type_oid(ty: super::Ty) -> u32 {
    use super::Ty;
    match ty {
        Ty::Oid => 26,
        Ty::Text => 25,
        Ty::Bool => 16,
        // Sent as int4 (see Ty::I16): the catalog says what the wire carries.
        Ty::I16 => 23,
        Ty::I32 => 23,
        Ty::I64 => 20,
        Ty::F32 => 700,
        Ty::TextList => 1009,
        Ty::I16List => 1005,
    }
}

fn relations(tables: &BTreeMap<String, Arc<TableInfo>>) -> Vec<Rel> {
    let mut out = Vec::new();
    for t in tables.values() {
        let oid = relation_oid(&t.name);
        let columns = table_columns(t);
        out.push(Rel {
            oid,
            name: t.name.clone(),
            ns: PUBLIC_NS,
            kind: "r",
            columns: columns.clone(),
            am: AM_HEAP,
            has_index: true,
            tuples: t.key_count as f64,
        });
        out.push(Rel {
            oid: hashed_oid("pkey", &t.name),
            name: pkey_name(t),
            ns: PUBLIC_NS,
            kind: "i",
            columns: columns[..1].to_vec(),
            am: AM_BTREE,
            has_index: false,
            tuples: t.key_count as f64,
        });
        if let (Some(name), Some(index)) = (&t.index_name, &t.index) {
            let cols = index
                .attributes
                .iter()
                .filter_map(|a| columns.iter().find(|c| c.0 == a.identifier || c.0 == a.alias).cloned())
                .collect();
            out.push(Rel {
                oid: hashed_oid("index", name),
                name: name.clone(),
                ns: PUBLIC_NS,
                kind: "i",
                columns: cols,
                am: AM_REDISEARCH,
                has_index: false,
                tuples: index.num_docs as f64,
            });
        }
    }
    for v in SYSTEM_VIEWS {
        out.push(Rel {
            oid: relation_oid(v),
            name: v.trim_start_matches("redsql.").to_string(),
            ns: REDSQL_NS,
            kind: "v",
            columns: view_columns(v),
            am: 0,
            has_index: false,
            tuples: 0.0,
        });
    }
    for r in super::all() {
        out.push(Rel {
            oid: r.oid,
            name: r.name.to_string(),
            ns: if r.schema == "pg_catalog" {
                PG_CATALOG_NS
            } else {
                INFORMATION_SCHEMA_NS
            },
            kind: if r.kind == 'v' { "v" } else { "r" },
            columns: r
                .columns()
                .map(|(n, ty)| (n.to_string(), catalog_type_oid(ty), false))
                .collect(),
            am: if r.kind == 'v' { 0 } else { AM_HEAP },
            has_index: false,
            tuples: 0.0,
        });
    }
    out
}

/// The rows of a `pg_catalog` relation.
pub fn rows(rel: &Relation, tables: &BTreeMap<String, Arc<TableInfo>>) -> Vec<Row> {
    match rel.name {
        "pg_namespace" => [
            (PG_CATALOG_NS, "pg_catalog"),
            (PUBLIC_NS, "public"),
            (INFORMATION_SCHEMA_NS, "information_schema"),
            (REDSQL_NS, "redsql"),
        ]
        .into_iter()
        .map(|(oid, name)| {
            vec![
                ("oid", oid.into()),
                ("nspname", name.into()),
                ("nspowner", ROLE_OID.into()),
            ]
        })
        .collect(),
        "pg_class" => relations(tables)
            .into_iter()
            .map(|r| {
                vec![
                    ("oid", r.oid.into()),
                    ("relname", r.name.into()),
                    ("relnamespace", r.ns.into()),
                    ("relowner", ROLE_OID.into()),
                    ("relam", r.am.into()),
                    ("relfilenode", r.oid.into()),
                    ("reltuples", V::Float(r.tuples)),
                    ("relhasindex", r.has_index.into()),
                    ("relpersistence", "p".into()),
                    ("relkind", r.kind.into()),
                    ("relnatts", V::Int(r.columns.len() as i64)),
                    ("relispopulated", true.into()),
                    ("relreplident", if r.kind == "r" { "d" } else { "n" }.into()),
                ]
            })
            .collect(),
        "pg_attribute" => relations(tables)
            .into_iter()
            .flat_map(|r| {
                r.columns.into_iter().enumerate().map(move |(i, (name, ty, not_null))| {
                    let len = types::length(ty);
                    vec![
                        ("attrelid", r.oid.into()),
                        ("attname", name.into()),
                        ("atttypid", ty.into()),
                        ("attstattarget", V::Int(-1)),
                        ("attlen", V::Int(len as i64)),
                        ("attnum", V::Int(i as i64 + 1)),
                        ("attndims", V::Int(0)),
                        ("attcacheoff", V::Int(-1)),
                        ("atttypmod", V::Int(-1)),
                        ("attbyval", (len > 0 && len <= 8).into()),
                        ("attalign", if len > 0 { "d" } else { "i" }.into()),
                        ("attstorage", if len > 0 { "p" } else { "x" }.into()),
                        ("attcompression", "".into()),
                        ("attnotnull", not_null.into()),
                        ("attidentity", "".into()),
                        ("attgenerated", "".into()),
                        ("attislocal", true.into()),
                        ("attinhcount", V::Int(0)),
                        ("attcollation", if ty == 25 { 100u32 } else { 0 }.into()),
                    ]
                })
            })
            .collect(),
        "pg_type" => types::TYPES
            .iter()
            .map(|&(oid, name, _, len, category, array, elem)| {
                vec![
                    ("oid", oid.into()),
                    ("typname", name.into()),
                    ("typnamespace", PG_CATALOG_NS.into()),
                    ("typowner", ROLE_OID.into()),
                    ("typlen", V::Int(len as i64)),
                    ("typbyval", (len > 0 && len <= 8).into()),
                    ("typtype", "b".into()),
                    ("typcategory", category.to_string().into()),
                    ("typisdefined", true.into()),
                    ("typdelim", ",".into()),
                    ("typelem", elem.into()),
                    ("typarray", array.into()),
                    (
                        "typinput",
                        if elem != 0 {
                            "array_in".to_string()
                        } else {
                            format!("{name}in")
                        }
                        .into(),
                    ),
                    (
                        "typoutput",
                        if elem != 0 {
                            "array_out".to_string()
                        } else {
                            format!("{name}out")
                        }
                        .into(),
                    ),
                    (
                        "typreceive",
                        if elem != 0 {
                            "array_recv".to_string()
                        } else {
                            format!("{name}recv")
                        }
                        .into(),
                    ),
                    (
                        "typsend",
                        if elem != 0 {
                            "array_send".to_string()
                        } else {
                            format!("{name}send")
                        }
                        .into(),
                    ),
                    ("typalign", if len == 8 { "d" } else { "i" }.into()),
                    ("typstorage", if len > 0 { "p" } else { "x" }.into()),
                    ("typtypmod", V::Int(-1)),
                    ("typndims", V::Int(0)),
                    ("typcollation", if category == 'S' { 100u32 } else { 0 }.into()),
                ]
            })
            .collect(),
        "pg_database" => vec![vec![
            ("oid", DATABASE_OID.into()),
            ("datname", DATABASE_NAME.into()),
            ("datdba", ROLE_OID.into()),
            ("encoding", V::Int(6)),
            ("datlocprovider", "c".into()),
            ("datallowconn", true.into()),
            ("datconnlimit", V::Int(-1)),
            ("dattablespace", 1663u32.into()),
            ("datcollate", "C.UTF-8".into()),
            ("datctype", "C.UTF-8".into()),
        ]],
        "pg_roles" => vec![vec![
            ("rolname", ROLE_NAME.into()),
            ("rolsuper", true.into()),
            ("rolinherit", true.into()),
            ("rolcreatedb", true.into()),
            ("rolcanlogin", true.into()),
            ("rolconnlimit", V::Int(-1)),
            ("rolpassword", "********".into()),
            ("oid", ROLE_OID.into()),
        ]],
        "pg_user" => vec![vec![
            ("usename", ROLE_NAME.into()),
            ("usesysid", ROLE_OID.into()),
            ("usecreatedb", true.into()),
            ("usesuper", true.into()),
            ("passwd", "********".into()),
        ]],
        "pg_am" => [
            (AM_HEAP, "heap", "t"),
            (AM_BTREE, "btree", "i"),
            (AM_REDISEARCH, "redisearch", "i"),
        ]
        .into_iter()
        .map(|(oid, name, ty)| vec![("oid", oid.into()), ("amname", name.into()), ("amtype", ty.into())])
        .collect(),
        "pg_index" => indexes::index_rows(tables),
        "pg_constraint" => indexes::constraint_rows(tables),
        "pg_description" => tables
            .values()
            .map(|t| {
                vec![
                    ("objoid", relation_oid(&t.name).into()),
                    ("classoid", 1259u32.into()),
                    ("objsubid", V::Int(0)),
                    ("description", format!("Redis {} keys {}*", t.storage, t.prefix).into()),
                ]
            })
            .collect(),
        "pg_settings" => crate::session::commands::DEFAULT_SETTINGS
            .iter()
            .map(|(name, value)| {
                vec![
                    ("name", (*name).into()),
                    ("setting", (*value).into()),
                    ("category", "redsql".into()),
                    ("context", "user".into()),
                    ("vartype", "string".into()),
                    ("source", "default".into()),
                    ("boot_val", (*value).into()),
                    ("reset_val", (*value).into()),
                ]
            })
            .collect(),
        "pg_tables" => tables
            .values()
            .map(|t| {
                vec![
                    ("schemaname", "public".into()),
                    ("tablename", t.name.clone().into()),
                    ("tableowner", ROLE_NAME.into()),
                    ("hasindexes", true.into()),
                ]
            })
            .collect(),
        "pg_views" => SYSTEM_VIEWS
            .iter()
            .map(|v| {
                vec![
                    ("schemaname", "redsql".into()),
                    ("viewname", v.trim_start_matches("redsql.").into()),
                    ("viewowner", ROLE_NAME.into()),
                ]
            })
            .collect(),
        "pg_stat_user_tables" => tables
            .values()
            .map(|t| {
                vec![
                    ("relid", relation_oid(&t.name).into()),
                    ("schemaname", "public".into()),
                    ("relname", t.name.clone().into()),
                    ("n_live_tup", V::Int(t.key_count as i64)),
                    ("n_dead_tup", V::Int(0)),
                ]
            })
            .collect(),
        "pg_collation" => [(100u32, "default", "d"), (950, "C", "c"), (951, "POSIX", "c")]
            .into_iter()
            .map(|(oid, name, p)| {
                vec![
                    ("oid", oid.into()),
                    ("collname", name.into()),
                    ("collnamespace", PG_CATALOG_NS.into()),
                    ("collowner", ROLE_OID.into()),
                    ("collprovider", p.into()),
                ]
            })
            .collect(),
        "pg_tablespace" => [(1663u32, "pg_default"), (1664, "pg_global")]
            .into_iter()
            .map(|(oid, name)| {
                vec![
                    ("oid", oid.into()),
                    ("spcname", name.into()),
                    ("spcowner", ROLE_OID.into()),
                ]
            })
            .collect(),
        // Everything else is empty in redsql: no functions of its own,
        // defaults, inheritance, policies, publications, triggers, ...
        _ => Vec::new(),
    }
}
