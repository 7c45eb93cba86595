//! Where each output column of a query comes from, for RowDescription's
//! table OID and column number: a column read as it is from a table
//! (`SELECT * FROM t`, `t.a`, `a AS b`) names that table's OID and the
//! column's `attnum`; anything computed names none (0), as in PostgreSQL.
//! pgjdbc reads them for `ResultSetMetaData` (nullability, base table and
//! column names); DBeaver to decide whether a result is editable.
//!
//! Only a plain top-level SELECT is traced; a UNION, or a `*` over
//! something other than tables (a subquery, a function), traces nothing.

use sqlparser::ast::{
    Expr, Ident, ObjectNamePart, Query, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, TableFactor,
    TableWithJoins,
};

/// A table's OID and 1-based column number.
pub type Origin = Option<(u32, i16)>;

/// A relation of the FROM clause: its qualifier, and its OID and columns
/// (in `attnum` order) when it is a table.
struct Relation {
    qualifier: String,
    table: Option<(u32, Vec<String>)>,
}

impl Relation {
    fn column(&self, name: &str) -> Option<(u32, i16)> {
        let (oid, columns) = self.table.as_ref()?;
        let i = columns.iter().position(|c| c == name)?;
        Some((*oid, i16::try_from(i + 1).ok()?))
    }

    fn all(&self) -> Option<Vec<Origin>> {
        let (oid, columns) = self.table.as_ref()?;
        Some(
            (1..=columns.len())
                .map(|i| i16::try_from(i).ok().map(|n| (*oid, n)))
                .collect(),
        )
    }
}

/// The origin of each output column of an analyzed query, or None when
/// the columns cannot be counted. `table` gives a relation's OID and
/// columns by the name the analyzer registered it under.
pub fn origins(q: &Query, table: impl Fn(&str) -> Option<(u32, Vec<String>)>) -> Option<Vec<Origin>> {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    let relations: Vec<Relation> = sel
        .from
        .iter()
        .flat_map(|TableWithJoins { relation, joins }| {
            std::iter::once(relation).chain(joins.iter().map(|j| &j.relation))
        })
        .map(|f| relation(f, &table))
        .collect();
    let mut out = Vec::new();
    for item in &sel.projection {
        match item {
            SelectItem::Wildcard(_) => {
                for r in &relations {
                    out.extend(r.all()?);
                }
            }
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(name), _) => {
                let q = name.0.last()?.as_ident()?.value.as_str();
                out.extend(relations.iter().find(|r| r.qualifier == q)?.all()?);
            }
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                out.push(column_origin(e, &relations))
            }
            _ => return None,
        }
    }
    Some(out)
}

fn relation(f: &TableFactor, table: &impl Fn(&str) -> Option<(u32, Vec<String>)>) -> Relation {
    let qualifier = crate::sql::joins::qualifier(f).unwrap_or_default();
    let table = match f {
        TableFactor::Table { name, args: None, .. } => match name.0.as_slice() {
            [ObjectNamePart::Identifier(Ident { value, .. })] => table(value),
            _ => None,
        },
        _ => None,
    };
    Relation { qualifier, table }
}

/// A column as it is: unqualified, the one relation that has it (none if a
/// relation of unknown columns might); qualified, that relation's.
fn column_origin(e: &Expr, relations: &[Relation]) -> Origin {
    match e {
        Expr::Nested(inner) => column_origin(inner, relations),
        Expr::Identifier(c) => {
            if relations.iter().any(|r| r.table.is_none()) {
                return None;
            }
            let mut found = relations.iter().filter_map(|r| r.column(&c.value));
            let first = found.next()?;
            found.next().is_none().then_some(first)
        }
        Expr::CompoundIdentifier(p) if p.len() == 2 => relations
            .iter()
            .find(|r| r.qualifier == p[0].value)?
            .column(&p[1].value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traced(sql: &str) -> Option<Vec<Origin>> {
        let q = crate::sql::parse_query(sql);
        origins(&q, |name| match name {
            "t" => Some((100, vec!["_key".into(), "a".into(), "b".into()])),
            "u" => Some((200, vec!["id".into(), "a".into()])),
            _ => None,
        })
    }

    #[test]
    fn columns_read_as_they_are_name_their_table() {
        assert_eq!(
            traced("SELECT * FROM t"),
            Some(vec![Some((100, 1)), Some((100, 2)), Some((100, 3))])
        );
        assert_eq!(
            traced("SELECT b, a AS x, a + 1, t.a FROM t"),
            Some(vec![Some((100, 3)), Some((100, 2)), None, Some((100, 2))])
        );
        // Unqualified and in both tables: ambiguous, so none; u.* expands.
        assert_eq!(
            traced("SELECT a, id, x.b, u.* FROM t x JOIN u ON x.a = u.a"),
            Some(vec![
                None,
                Some((200, 1)),
                Some((100, 3)),
                Some((200, 1)),
                Some((200, 2))
            ])
        );
        // Over a subquery: `*` cannot be counted; named columns are not traced.
        assert_eq!(traced("SELECT * FROM (SELECT a FROM t) s"), None);
        assert_eq!(traced("SELECT s.a FROM (SELECT a FROM t) s"), Some(vec![None]));
        assert_eq!(traced("SELECT a FROM t UNION SELECT a FROM u"), None);
    }
}
