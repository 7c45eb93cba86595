-- DBeaver 24/25 (PostgreSQL driver = pgjdbc, extended protocol) connecting to
-- database redsql and opening public > Tables > cl_city (columns, constraints,
-- indexes, data). Statements as DBeaver's PostgreSQL plugin
-- (PostgreDataSource, PostgreSchema, PostgreTableBase) sends them; $1 is the
-- OID DBeaver read before (given here by a `bind:` query).
-- default protocol: extended

-- check: set-extra-float-digits
SET extra_float_digits = 3

-- check: set-application-name
SET application_name = 'DBeaver 25.1.0 - Main <redsql>'

-- check: current-schema-user
-- expect rows: 1
-- expect row: current_schema=public, session_user=redsql
SELECT current_schema(),session_user

-- check: namespaces
-- expect row: nspname=public
-- expect row: nspname=pg_catalog
-- expect columns: oid, nspname, nspowner, description
SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass
 ORDER BY nspname

-- check: show-search-path
-- expect value: "$user", public
SHOW search_path

-- check: database
-- bind: SELECT current_database()
-- expect rows: 1
-- expect row: datname=redsql
SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname=$1

-- check: standard-conforming-strings
-- expect row: name=standard_conforming_strings, setting=on
select * from pg_catalog.pg_settings where name='standard_conforming_strings'

-- check: keywords
-- expect rows: 1
select string_agg(word, ',') from pg_catalog.pg_get_keywords() where word <> ALL ('{a,abs,absolute,action,ada,add,admin,after,all,allocate,alter,always,and,any,are,array,as,asc,asensitive,assertion,assignment,asymmetric,at,atomic,attribute,attributes,authorization,avg,before,begin,bernoulli,between,bigint,binary,blob,boolean,both,breadth,by,c,call,called,cardinality,cascade,cascaded,case,cast,catalog,catalog_name,ceil,ceiling,chain,char,char_length,character,character_length,character_set_catalog,character_set_name,character_set_schema,characteristics,characters,check,class_origin,clob,close,coalesce,cobol,collate,collation,column,commit,condition,connect,connection,constraint,constraints,constructor,contains,continue,convert,corr,corresponding,count,create,cross,cube,current,current_date,current_role,current_time,current_timestamp,current_user,cursor,cycle,data,date,day,deallocate,dec,decimal,declare,default,delete,desc,describe,deterministic,disconnect,distinct,double,drop,dynamic,each,else,end,escape,except,exec,execute,exists,external,false,fetch,first,float,for,foreign,from,full,function,get,global,grant,group,having,hold,hour,identity,in,inner,insert,int,integer,intersect,interval,into,is,join,key,language,last,leading,left,like,local,max,min,minute,month,natural,no,not,null,numeric,of,on,only,open,or,order,outer,primary,real,references,right,rollback,row,rows,schema,second,select,set,smallint,some,sql,table,then,time,timestamp,to,true,union,unique,update,user,using,values,varchar,view,when,where,with,year,zone}'::text[])

-- check: schema-tables
-- bind: SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public'
-- expect row: relname=cl_city, relkind=r
-- expect row: relname=cl_order, relkind=r
-- expect absent: relname=cl_order_idx
SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key 
FROM pg_catalog.pg_class c
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass
WHERE c.relnamespace=$1 AND c.relkind not in ('i','I','c')

-- check: table-columns
-- bind: SELECT oid FROM pg_catalog.pg_class WHERE relname = 'cl_city'
-- expect rows: 8
-- expect row: attname=id, attnum=1, atttypid=20, attnotnull=t
-- expect row: attname=updated_at, attnum=8, atttypid=1114, attnotnull=f
SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid
WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid=$1
ORDER BY a.attnum

-- check: table-constraints
-- bind: SELECT oid FROM pg_catalog.pg_class WHERE relname = 'cl_city'
-- expect rows: 1
-- expect row: conname=cl_city_pkey, contype=p, tabrelname=cl_city
SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, case when c.contype='c' then "substring"(pg_get_constraintdef(c.oid), 7) else null end consrc_copy
FROM pg_catalog.pg_constraint c
INNER JOIN pg_catalog.pg_class t ON t.oid=c.conrelid
LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_constraint'::regclass
WHERE t.oid=$1
ORDER BY c.oid

-- check: table-indexes
-- bind: SELECT oid FROM pg_catalog.pg_class WHERE relname = 'cl_order'
-- expect rows: 2
-- expect row: relname=cl_order_pkey, indisprimary=t
-- expect row: relname=cl_order_idx, indisprimary=f
SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) as pred_expr,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans
FROM pg_catalog.pg_index i
INNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid
INNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid
LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid
WHERE  i.indrelid=$1 ORDER BY tabrelname, c.relname

-- check: data-types
-- expect row: typname=int8
-- expect row: typname=text
SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, d.description
FROM pg_catalog.pg_type t
LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem
LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid
WHERE t.typname IS NOT NULL
AND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C')

-- check: roles
-- expect row: rolname=redsql
SELECT a.oid,a.* FROM pg_catalog.pg_roles a
ORDER BY a.oid

-- check: tablespaces
-- expect row: spcname=pg_default
SELECT t.oid,t.*,pg_catalog.pg_tablespace_location(t.oid) loc
FROM pg_catalog.pg_tablespace t
ORDER BY t.oid

-- check: extensions
-- expect rows: 0
SELECT e.oid,e.*,a.rolname as owner_name,n.nspname as schema_name FROM pg_catalog.pg_extension e
LEFT OUTER JOIN pg_catalog.pg_roles a ON a.oid=e.extowner
LEFT OUTER JOIN pg_catalog.pg_namespace n ON n.oid=e.extnamespace
ORDER BY e.oid

-- check: data-row-count
-- expect value: 5
SELECT COUNT(*) FROM public.cl_city

-- check: data-page
-- expect rows: 5
-- expect row: id=3, name=Berlin, capital=t, founded=1902-03-04
SELECT * FROM public.cl_city
LIMIT 200

-- check: data-filter-order
-- expect rows: 2
-- expect row: id=4, name=Hamburg
SELECT * FROM public.cl_city x
WHERE x.country = 'DE'
ORDER BY x.population DESC
LIMIT 200
