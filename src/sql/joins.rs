//! Join conditions beyond column equality, which Polars SQL cannot take in
//! an `ON` clause, moved where they mean the same thing:
//!
//! * a condition on the joined relation alone (`LEFT JOIN d ON c.oid =
//!   d.objoid AND d.objsubid = 0`) filters that relation before the join:
//!   `LEFT JOIN (SELECT * FROM d WHERE d.objsubid = 0) AS d ON c.oid = d.objoid`.
//!   Exact for inner and left joins (the joined side is the optional one);
//! * in an inner join, a condition on the relations before it moves to WHERE;
//! * in a right join that is the first join, a condition on the first
//!   relation filters it before the join.
//!
//! Conditions naming columns without a qualifier, or both sides other than
//! by equality, are left in place.

use std::collections::HashSet;

use sqlparser::ast::{
    BinaryOperator, Expr, Ident, JoinConstraint, JoinOperator, Query, Select, SetExpr, TableAlias, TableFactor,
    TableWithJoins, Visit, VisitMut, Visitor, VisitorMut,
};
use std::ops::ControlFlow;

/// Apply the rule to every SELECT of a query.
pub fn rewrite(query: &mut Query) {
    struct Rule;
    impl VisitorMut for Rule {
        type Break = ();
        fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
            if let SetExpr::Select(s) = q.body.as_mut() {
                select(s);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(query, &mut Rule);
}

/// The name a relation's columns are qualified with.
pub fn qualifier(f: &TableFactor) -> Option<String> {
    match f {
        TableFactor::Table { name, alias, .. } => Some(match alias {
            Some(a) => a.name.value.clone(),
            None => name.0.last()?.as_ident()?.value.clone(),
        }),
        TableFactor::Derived { alias: Some(a), .. } => Some(a.name.value.clone()),
        _ => None,
    }
}

/// Qualifiers an expression names; None if it names an unqualified column
/// or holds a subquery.
fn qualifiers(e: &Expr) -> Option<HashSet<String>> {
    struct Names(HashSet<String>, bool);
    impl Visitor for Names {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            match e {
                Expr::CompoundIdentifier(p) if p.len() == 2 => {
                    self.0.insert(p[0].value.clone());
                }
                Expr::Identifier(_) | Expr::CompoundIdentifier(_) => self.1 = false,
                Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => self.1 = false,
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut n = Names(HashSet::new(), true);
    let _ = e.visit(&mut n);
    n.1.then_some(n.0)
}

/// The conditions AND-ed (None for none).
pub fn and_all(mut v: Vec<Expr>) -> Option<Expr> {
    let first = if v.is_empty() { return None } else { v.remove(0) };
    Some(v.into_iter().fold(first, |acc, e| Expr::BinaryOp {
        left: Box::new(acc),
        op: BinaryOperator::And,
        right: Box::new(e),
    }))
}

/// `f` filtered by `pred`, under the same qualifier.
fn filtered(f: &TableFactor, name: &str, pred: Expr) -> Option<TableFactor> {
    let sql = format!("SELECT * FROM {f} WHERE {pred}");
    let sub = match crate::sql::parse(&sql).ok()?.pop()? {
        sqlparser::ast::Statement::Query(q) => q,
        _ => return None,
    };
    Some(TableFactor::Derived {
        lateral: false,
        subquery: sub,
        alias: Some(TableAlias {
            explicit: true,
            at: None,
            name: Ident::new(name),
            columns: vec![],
        }),
        sample: None,
    })
}

fn select(s: &mut Select) {
    for from in &mut s.from {
        let mut where_extra = Vec::new();
        rewrite_joins(from, &mut where_extra);
        if let Some(extra) = and_all(where_extra) {
            s.selection = Some(match s.selection.take() {
                Some(w) => Expr::BinaryOp {
                    left: Box::new(Expr::Nested(Box::new(w))),
                    op: BinaryOperator::And,
                    right: Box::new(extra),
                },
                None => extra,
            });
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Inner,
    Left,
    Right,
}

/// The columns of a pg_catalog relation (the only relations whose columns
/// are known before the catalog is read).
fn catalog_columns(f: &TableFactor) -> Option<Vec<&'static str>> {
    let TableFactor::Table { name, .. } = f else {
        return None;
    };
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(|i| i.value.clone())
        .collect();
    let (schema, table) = match parts.as_slice() {
        [t] => ("pg_catalog", t.as_str()),
        [s, t] => (s.as_str(), t.as_str()),
        _ => return None,
    };
    let rel = crate::catalog::pg::find(schema, table)?;
    Some(rel.columns().map(|(c, _)| c).collect())
}

/// `conrelid = i.indrelid` in `JOIN pg_constraint con ON ...` →
/// `con.conrelid = i.indrelid`, when exactly one relation of the join has
/// the column (psql writes catalog joins this way).
fn qualify(e: &mut Expr, relations: &[(String, Option<Vec<&'static str>>)]) {
    struct Q<'a>(&'a [(String, Option<Vec<&'static str>>)]);
    impl VisitorMut for Q<'_> {
        type Break = ();
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            let Expr::Identifier(id) = e else {
                return ControlFlow::Continue(());
            };
            if self.0.iter().any(|(_, cols)| cols.is_none()) {
                return ControlFlow::Continue(());
            }
            let mut owners = self
                .0
                .iter()
                .filter(|(_, cols)| cols.as_ref().is_some_and(|c| c.contains(&id.value.as_str())));
            if let (Some((q, _)), None) = (owners.next(), owners.next()) {
                *e = Expr::CompoundIdentifier(vec![Ident::new(q), id.clone()]);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(e, &mut Q(relations));
}

fn rewrite_joins(from: &mut TableWithJoins, where_extra: &mut Vec<Expr>) {
    let mut left_names: HashSet<String> = qualifier(&from.relation).into_iter().collect();
    let mut relations: Vec<(String, Option<Vec<&'static str>>)> = qualifier(&from.relation)
        .map(|q| (q, catalog_columns(&from.relation)))
        .into_iter()
        .collect();
    for i in 0..from.joins.len() {
        let right_name = qualifier(&from.joins[i].relation);
        if let Some(r) = &right_name {
            relations.push((r.clone(), catalog_columns(&from.joins[i].relation)));
        }
        let join = &mut from.joins[i];
        let (kind, constraint) = match &mut join.join_operator {
            JoinOperator::Join(c) | JoinOperator::Inner(c) => (Kind::Inner, c),
            JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (Kind::Left, c),
            JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (Kind::Right, c),
            _ => {
                left_names.extend(right_name);
                continue;
            }
        };
        let (Some(right), JoinConstraint::On(on)) = (right_name.clone(), constraint) else {
            left_names.extend(right_name);
            continue;
        };
        qualify(on, &relations);
        let parts: Vec<Expr> = crate::sql::conjuncts(on).into_iter().cloned().collect();
        let (mut keep, mut on_right, mut on_left) = (Vec::new(), Vec::new(), Vec::new());
        for p in parts {
            match qualifiers(&p) {
                Some(q) if !q.is_empty() && q.iter().all(|n| *n == right) => on_right.push(p),
                Some(q) if !q.is_empty() && q.iter().all(|n| left_names.contains(n)) => on_left.push(p),
                _ => keep.push(p),
            }
        }
        if keep.is_empty() {
            // An ON with no join condition left is not a join Polars runs.
            left_names.insert(right);
            continue;
        }
        let movable_right = matches!(kind, Kind::Inner | Kind::Left) && !on_right.is_empty();
        let movable_left = match kind {
            Kind::Inner => !on_left.is_empty(),
            Kind::Right => i == 0 && !on_left.is_empty(),
            Kind::Left => false,
        };
        if !movable_right && !movable_left {
            left_names.insert(right);
            continue;
        }
        if movable_right {
            match filtered(
                &join.relation,
                &right,
                and_all(std::mem::take(&mut on_right)).expect("not empty"),
            ) {
                Some(f) => join.relation = f,
                None => {
                    left_names.insert(right);
                    continue;
                }
            }
        }
        if movable_left {
            let preds = std::mem::take(&mut on_left);
            if kind == Kind::Inner {
                where_extra.extend(preds);
            } else if let Some(name) = qualifier(&from.relation) {
                match filtered(&from.relation, &name, and_all(preds.clone()).expect("not empty")) {
                    Some(f) => from.relation = f,
                    None => on_left = preds,
                }
            }
        }
        keep.extend(on_right);
        keep.extend(on_left);
        let join = &mut from.joins[i];
        if let JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c)
        | JoinOperator::Right(c)
        | JoinOperator::RightOuter(c) = &mut join.join_operator
        {
            *c = JoinConstraint::On(and_all(keep).expect("not empty"));
        }
        left_names.insert(right);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut q = match crate::sql::parse(sql).unwrap().remove(0) {
            sqlparser::ast::Statement::Query(q) => *q,
            other => panic!("{other}"),
        };
        rewrite(&mut q);
        q.to_string()
    }

    #[test]
    fn joined_side_conditions_filter_before_the_join() {
        assert_eq!(
            rewritten("SELECT * FROM c LEFT JOIN d ON c.oid = d.objoid AND d.objsubid = 0 AND d.classoid = 1259"),
            "SELECT * FROM c LEFT JOIN (SELECT * FROM d WHERE d.objsubid = 0 AND d.classoid = 1259) AS d \
             ON c.oid = d.objoid"
        );
        assert_eq!(
            rewritten("SELECT * FROM a x JOIN b y ON (x.id = y.id AND y.s = 'r' AND x.v > 1)"),
            "SELECT * FROM a x JOIN (SELECT * FROM b y WHERE y.s = 'r') AS y ON x.id = y.id WHERE x.v > 1"
        );
        assert_eq!(
            rewritten("SELECT * FROM o RIGHT JOIN p ON p.id = o.pid AND o.qty >= 10"),
            "SELECT * FROM (SELECT * FROM o WHERE o.qty >= 10) AS o RIGHT JOIN p ON p.id = o.pid"
        );
    }

    #[test]
    fn catalog_columns_get_their_relation() {
        assert_eq!(
            rewritten(
                "SELECT * FROM pg_catalog.pg_index i LEFT JOIN pg_catalog.pg_constraint con ON \
                 (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))"
            ),
            "SELECT * FROM pg_catalog.pg_index i LEFT JOIN (SELECT * FROM pg_catalog.pg_constraint con \
             WHERE con.contype IN ('p', 'u', 'x')) AS con ON con.conrelid = i.indrelid AND con.conindid = i.indexrelid"
        );
    }

    #[test]
    fn what_would_change_the_meaning_stays() {
        for sql in [
            // A left join's condition on the preserved side.
            "SELECT * FROM c LEFT JOIN o ON o.cid = c.id AND c.vip",
            // Unqualified columns.
            "SELECT * FROM c LEFT JOIN o ON o.cid = c.id AND status = 'x'",
            // Only equalities.
            "SELECT * FROM c JOIN o ON o.cid = c.id AND o.k = c.k",
        ] {
            assert_eq!(rewritten(sql), crate::sql::parse(sql).unwrap()[0].to_string(), "{sql}");
        }
    }
}
