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

use sqlparser::ast::{BinaryOperator, Expr, Query, SetExpr, TableFactor, UnaryOperator, Value};

use crate::catalog::types::parse_bigint;
use crate::catalog::ColType;

/// The key ids a query's WHERE restricts its only table, `table` (as the
/// analyzer names it), to, if it does.
pub fn key_lookup(query: &Query, table: &str, key_column: &str, key_type: ColType) -> Option<Vec<String>> {
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
    if !from.joins.is_empty() || !names_table {
        return None;
    }
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

fn is_key(e: &Expr, key_column: &str) -> bool {
    match e {
        Expr::Identifier(i) => i.value == key_column,
        Expr::CompoundIdentifier(parts) => parts.len() == 2 && parts[1].value == key_column,
        Expr::Nested(inner) => is_key(inner, key_column),
        _ => false,
    }
}

fn pinned_ids(e: &Expr, key_column: &str, key_type: ColType) -> Option<Vec<String>> {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => {
            let value = if is_key(left, key_column) {
                right
            } else if is_key(right, key_column) {
                left
            } else {
                return None;
            };
            Some(vec![id_of(value, key_type)?])
        }
        Expr::InList {
            expr,
            list,
            negated: false,
        } if is_key(expr, key_column) => {
            let mut ids: Vec<String> = list.iter().map(|v| id_of(v, key_type)).collect::<Option<_>>()?;
            ids.sort();
            ids.dedup();
            Some(ids)
        }
        _ => None,
    }
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
}
