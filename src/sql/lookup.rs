//! Key lookups: a query over one table whose WHERE pins the key column to
//! constants (`id = 17`, `id IN (1, 2)`, `_key = 'abc'`, ANDed with anything
//! else) reads only those keys instead of scanning the table.
//!
//! This is exact: the full WHERE still runs over the rows read, and a row
//! whose key is not among the constants cannot satisfy it. Only literals of
//! the key's own type are used (integers for a bigint key, strings for a text
//! key), in the canonical form redsql writes and reads keys in (a stored id
//! that is not canonical, like `017` for a bigint key, reads as NULL and so
//! cannot match either way).

use sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr,
    TableFactor, UnaryOperator, Value, WildcardAdditionalOptions,
};

use crate::catalog::types::parse_bigint;
use crate::catalog::ColType;
use crate::sql::params::Param;

/// The key ids a query's WHERE restricts its only table, `table` (as the
/// analyzer names it), to, if it does.
pub fn key_lookup(query: &Query, table: &str, key_column: &str, key_type: ColType) -> Option<Vec<String>> {
    let select = only_table(query, table)?;
    let mut best: Option<Vec<String>> = None;
    for conjunct in super::conjuncts(select.selection.as_ref()?) {
        if let Some(ids) = pinned_ids(conjunct, key_column, key_type) {
            if best.as_ref().is_none_or(|b| ids.len() < b.len()) {
                best = Some(ids);
            }
        }
    }
    best
}

/// The SELECT of a query that reads `table` alone (no WITH, no join).
fn only_table<'a>(query: &'a Query, table: &str) -> Option<&'a Select> {
    if query.with.is_some() {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    let TableFactor::Table { name, .. } = &from.relation else {
        return None;
    };
    let names_table = matches!(name.0.as_slice(), [part] if part.as_ident().is_some_and(|i| i.value == table));
    (from.joins.is_empty() && names_table).then_some(select)
}

/// A query whose result is the rows a key lookup reads, as they are
/// (`SELECT * FROM t WHERE id = $1`), decided once when it is planned: no
/// query engine needs to run, and the ids come from the parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct PlainLookup {
    /// The output columns, as (column read, name the client sees).
    pub columns: Vec<(String, String)>,
    /// The values the key is compared with: literals or `$n` placeholders.
    values: Vec<Expr>,
}

impl PlainLookup {
    /// The key ids the lookup reads with these parameters, by the same rule
    /// as [`key_lookup`] over the bound query (canonical ids of the key's own
    /// type); None when a value is not one, and the query then runs the
    /// general way.
    pub fn ids(&self, params: &[Param], key_type: ColType) -> Option<Vec<String>> {
        let mut ids = self
            .values
            .iter()
            .map(|v| match super::params::placeholder_index(strip_nested(v)) {
                Some(i) => param_id(params.get(i.checked_sub(1)?)?, key_type),
                None => id_of(v, key_type),
            })
            .collect::<Option<Vec<String>>>()?;
        ids.sort();
        ids.dedup();
        Some(ids)
    }
}

/// The id a parameter denotes: what [`id_of`] gives for the literal the
/// parameter binds to (`Param::to_expr`), without building it.
fn param_id(p: &Param, key_type: ColType) -> Option<String> {
    match (p, key_type) {
        (Param::Int(i), ColType::BigInt) => Some(i.to_string()),
        (Param::Text(s), ColType::Text) if !s.contains(':') => Some(s.clone()),
        _ => None,
    }
}

/// The plain lookup a query is, if it is nothing but plain columns of its one
/// table under a WHERE that is exactly a key lookup: `table` as the analyzer
/// names it, `columns` the table's columns in order, the key first. Anything
/// else (expressions, ordering, LIMIT, DISTINCT, grouping, another
/// condition) is None.
pub fn plain_lookup(query: &Query, table: &str, key_column: &str, columns: &[String]) -> Option<PlainLookup> {
    if query.order_by.is_some()
        || query.limit_clause.is_some()
        || query.fetch.is_some()
        || !query.locks.is_empty()
        || query.for_clause.is_some()
        || query.settings.is_some()
        || query.format_clause.is_some()
        || !query.pipe_operators.is_empty()
    {
        return None;
    }
    let s = only_table(query, table)?;
    let plain = s.distinct.is_none()
        && s.select_modifiers.is_none()
        && s.top.is_none()
        && s.exclude.is_none()
        && s.into.is_none()
        && s.lateral_views.is_empty()
        && s.prewhere.is_none()
        && s.connect_by.is_empty()
        && matches!(&s.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty())
        && s.cluster_by.is_empty()
        && s.distribute_by.is_empty()
        && s.sort_by.is_empty()
        && s.having.is_none()
        && s.named_window.is_empty()
        && s.qualify.is_none()
        && s.value_table_mode.is_none();
    // The WHERE is a key condition alone, against literals or parameters.
    let values = pinned_values(strip_nested(s.selection.as_ref()?), key_column)?;
    if !plain || !values.iter().all(|v| is_constant(v)) {
        return None;
    }
    let alias = match &s.from[0].relation {
        TableFactor::Table { alias, args: None, .. } => alias.as_ref().map(|a| a.name.value.as_str()),
        _ => return None,
    };
    let names_relation = |q: &str| q == table || Some(q) == alias;
    let column = |e: &Expr| -> Option<String> {
        let name = match e {
            Expr::Identifier(i) => &i.value,
            Expr::CompoundIdentifier(p) if p.len() == 2 && names_relation(&p[0].value) => &p[1].value,
            _ => return None,
        };
        columns.contains(name).then(|| name.clone())
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for item in &s.projection {
        let all = match item {
            SelectItem::Wildcard(o) => *o == plain_wildcard(o),
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(n), o) => {
                *o == plain_wildcard(o)
                    && matches!(n.0.as_slice(), [p] if p.as_ident().is_some_and(|i| names_relation(&i.value)))
            }
            _ => false,
        };
        if all {
            out.extend(columns.iter().map(|c| (c.clone(), c.clone())));
            continue;
        }
        match item {
            SelectItem::UnnamedExpr(e) => {
                let c = column(e)?;
                out.push((c.clone(), c));
            }
            SelectItem::ExprWithAlias { expr, alias } => out.push((column(expr)?, alias.value.clone())),
            _ => return None,
        }
    }
    // A frame's columns have distinct names, and so must the output's here.
    let mut read: Vec<&String> = out.iter().map(|(c, _)| c).collect();
    let mut shown: Vec<&String> = out.iter().map(|(_, n)| n).collect();
    read.sort();
    shown.sort();
    let distinct = read.windows(2).all(|w| w[0] != w[1]) && shown.windows(2).all(|w| w[0] != w[1]);
    distinct.then(|| PlainLookup {
        columns: out,
        values: values.into_iter().cloned().collect(),
    })
}

/// A literal (possibly negated) or a `$n` placeholder, possibly parenthesised.
fn is_constant(e: &Expr) -> bool {
    match strip_nested(e) {
        Expr::Value(_) => true,
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => matches!(expr.as_ref(), Expr::Value(_)),
        _ => false,
    }
}

/// A wildcard with no options (its token aside).
fn plain_wildcard(o: &WildcardAdditionalOptions) -> WildcardAdditionalOptions {
    WildcardAdditionalOptions {
        wildcard_token: o.wildcard_token.clone(),
        ..Default::default()
    }
}

fn strip_nested(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => strip_nested(inner),
        other => other,
    }
}

fn is_key(e: &Expr, key_column: &str) -> bool {
    match e {
        Expr::Identifier(i) => i.value == key_column,
        Expr::CompoundIdentifier(parts) => parts.len() == 2 && parts[1].value == key_column,
        Expr::Nested(inner) => is_key(inner, key_column),
        _ => false,
    }
}

/// The values a condition compares the key with: `key = v`, `v = key` or
/// `key IN (v, ...)`.
fn pinned_values<'a>(e: &'a Expr, key_column: &str) -> Option<Vec<&'a Expr>> {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => {
            if is_key(left, key_column) {
                Some(vec![right])
            } else if is_key(right, key_column) {
                Some(vec![left])
            } else {
                None
            }
        }
        Expr::InList {
            expr,
            list,
            negated: false,
        } if is_key(expr, key_column) => Some(list.iter().collect()),
        _ => None,
    }
}

fn pinned_ids(e: &Expr, key_column: &str, key_type: ColType) -> Option<Vec<String>> {
    let mut ids: Vec<String> = pinned_values(e, key_column)?
        .into_iter()
        .map(|v| id_of(v, key_type))
        .collect::<Option<_>>()?;
    ids.sort();
    ids.dedup();
    Some(ids)
}

/// The canonical id a literal denotes, when its type is the key's own.
fn id_of(e: &Expr, key_type: ColType) -> Option<String> {
    match (e, key_type) {
        (Expr::Value(v), ColType::BigInt) => match &v.value {
            Value::Number(n, _) => parse_bigint(n).map(|i| i.to_string()),
            _ => None,
        },
        (
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            },
            ColType::BigInt,
        ) => match expr.as_ref() {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => parse_bigint(&format!("-{n}")).map(|i| i.to_string()),
                _ => None,
            },
            _ => None,
        },
        (Expr::Value(v), ColType::Text) => match &v.value {
            Value::SingleQuotedString(s) if !s.contains(':') => Some(s.clone()),
            _ => None,
        },
        (Expr::Nested(inner), _) => id_of(inner, key_type),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::Statement;

    fn ids(sql: &str, ty: ColType) -> Option<Vec<String>> {
        let Some(Statement::Query(q)) = crate::sql::parse(sql).unwrap().pop() else {
            panic!()
        };
        key_lookup(&q, "t", "id", ty)
    }

    #[test]
    fn finds_pinned_keys_only_where_exact() {
        let b = ColType::BigInt;
        assert_eq!(ids("SELECT * FROM t WHERE id = 17", b), Some(vec!["17".into()]));
        assert_eq!(
            ids("SELECT a FROM t WHERE 17 = t.id AND a > 3", b),
            Some(vec!["17".into()])
        );
        assert_eq!(
            ids("SELECT * FROM t WHERE id IN (3, -1, 3)", b),
            Some(vec!["-1".into(), "3".into()])
        );
        assert_eq!(
            ids("SELECT * FROM t WHERE (id = 5) AND (b = 1 OR c = 2)", b),
            Some(vec!["5".into()])
        );
        assert_eq!(
            ids("SELECT * FROM t WHERE id = '5'", ColType::Text),
            Some(vec!["5".into()])
        );
        let t = ColType::Text;
        assert_eq!(ids("SELECT * FROM t WHERE \"id\" = 'a b'", t), Some(vec!["a b".into()]));
        // Not exact, or not a lookup:
        assert_eq!(ids("SELECT * FROM t WHERE id = 5 OR a = 1", b), None);
        assert_eq!(ids("SELECT * FROM t WHERE id = 1.5", b), None);
        assert_eq!(ids("SELECT * FROM t WHERE id = 017", b), None);
        assert_eq!(ids("SELECT * FROM t WHERE id = '5'", b), None);
        assert_eq!(ids("SELECT * FROM t WHERE id = 5", t), None);
        assert_eq!(ids("SELECT * FROM t WHERE id NOT IN (1)", b), None);
        assert_eq!(ids("SELECT * FROM t JOIN u ON t.id = u.id WHERE t.id = 1", b), None);
        assert_eq!(ids("WITH x AS (SELECT 1) SELECT * FROM t WHERE id = 1", b), None);
        assert_eq!(ids("SELECT * FROM t WHERE id = 'a:b'", t), None);
        assert_eq!(ids("SELECT * FROM t", b), None);
        assert_eq!(ids("SELECT * FROM u WHERE id = 1", b), None);
    }

    fn lookup(sql: &str) -> Option<PlainLookup> {
        let Some(Statement::Query(q)) = crate::sql::parse(sql).unwrap().pop() else {
            panic!()
        };
        let columns = ["id", "a", "b"].map(String::from);
        plain_lookup(&q, "t", "id", &columns)
    }

    /// The columns of a plain lookup whose ids are literals of the key's type.
    fn plain(sql: &str) -> Option<Vec<(String, String)>> {
        lookup(sql)
            .filter(|l| l.ids(&[], ColType::BigInt).is_some())
            .map(|l| l.columns)
    }

    fn pairs(p: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    #[test]
    fn plain_lookups_need_no_query_engine() {
        let all = pairs(&[("id", "id"), ("a", "a"), ("b", "b")]);
        assert_eq!(plain("SELECT * FROM t WHERE id = 17"), all);
        assert_eq!(plain("SELECT t.* FROM t WHERE (t.id = 17)"), all);
        assert_eq!(plain("SELECT x.* FROM t AS x WHERE id IN (1, 2)"), all);
        assert_eq!(
            plain("SELECT b, x.a AS \"A\" FROM t x WHERE 3 = id"),
            pairs(&[("b", "b"), ("a", "A")])
        );
        // Anything the rows read do not answer as they are runs in Polars:
        for sql in [
            "SELECT * FROM t WHERE id = 17 AND a > 1",
            "SELECT a + 1 FROM t WHERE id = 17",
            "SELECT count(*) FROM t WHERE id = 17",
            "SELECT DISTINCT a FROM t WHERE id = 17",
            "SELECT * FROM t WHERE id IN (1, 2) ORDER BY a",
            "SELECT * FROM t WHERE id = 17 LIMIT 0",
            "SELECT a, a FROM t WHERE id = 17",
            "SELECT a AS x, b AS x FROM t WHERE id = 17",
            "SELECT u.* FROM t WHERE id = 17",
            "SELECT c FROM t WHERE id = 17",
            "SELECT * FROM t WHERE id = 17 OR id = 18",
            "SELECT * FROM t",
        ] {
            assert_eq!(plain(sql), None, "{sql}");
        }
    }

    #[test]
    fn plain_lookup_ids_come_from_parameters_as_bound_literals_would() {
        let l = lookup("SELECT * FROM t WHERE id IN ($2, 5, ($1))").unwrap();
        let ids = l.ids(&[Param::Int(-3), Param::Int(5)], ColType::BigInt);
        assert_eq!(ids, Some(vec!["-3".into(), "5".into()]));
        // A missing parameter, or one of another type, is no lookup here.
        assert_eq!(l.ids(&[Param::Int(1)], ColType::BigInt), None);
        assert_eq!(l.ids(&[Param::Text("1".into()), Param::Int(1)], ColType::BigInt), None);
        // Each parameter gives the id key_lookup finds in the bound literal.
        let params = [
            Param::Int(17),
            Param::Int(-17),
            Param::Int(i64::MIN),
            Param::Text("a b".into()),
            Param::Text("a:b".into()),
            Param::Text("it's".into()),
            Param::Float(1.0),
            Param::Bool(true),
            Param::Null(pgwire::api::Type::INT8),
            Param::Null(pgwire::api::Type::TEXT),
        ];
        for p in &params {
            for ty in [ColType::BigInt, ColType::Text] {
                let bound = id_of(&p.to_expr().unwrap(), ty);
                assert_eq!(param_id(p, ty), bound, "{p:?} for a {ty:?} key");
            }
        }
    }
}
