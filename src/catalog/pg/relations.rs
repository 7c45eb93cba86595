//! The `pg_catalog` relations redsql has: names, OIDs and columns (their
//! rows are in [`super::tables`]).

use super::Relation;

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
         typelem:oid typarray:oid typinput:regproc typoutput:regproc typreceive:regproc typsend:regproc typmodin:regproc \
         typmodout:regproc typanalyze:regproc typalign:text typstorage:text typnotnull:bool typbasetype:oid \
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
