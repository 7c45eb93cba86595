//! Running a pushed aggregate on every part of an index and merging the
//! parts' groups exactly (a part is one Redis Cluster master's share of the
//! table; on one node the index is its only part):
//!
//! * `COUNT(*)`, `COUNT(col)` and `SUM` add up;
//! * `MIN` and `MAX` combine, over the parts where the group has a value
//!   (RediSearch answers 0 for a group whose values are all missing, so a
//!   part whose `COUNT(col)` is 0 is left out); `AVG` is the merged SUM over
//!   the merged COUNT (the plan never uses RediSearch's AVG);
//! * `COUNT(DISTINCT)` is not merged: a value on two masters would count
//!   twice, so the planner does not push it down when there are parts;
//! * the exactness checks (bigint guards, infinities under MIN/MAX, sums
//!   within ±2⁵³) hold for the merged result when they hold on every part
//!   and for the merged counts and bounds.

use std::collections::HashMap;

use polars::prelude::*;

use super::search::{cursor_rows, full_args, on_every_part, Fields};
use crate::catalog::index::IndexInfo;
use crate::error::{Error, Result};
use crate::pushdown::aggregate::{guard_name, AggPlan, Reduce};
use crate::pushdown::filter::{Kind, EXACT_INT};
use crate::store::node::Node;
use crate::store::Store;

/// A group's key (its group column values) and its reducers' values.
type Group = (Vec<Option<String>>, Vec<Option<f64>>);

/// Run a pushed aggregate: the groups frame (group columns, then `__aN`),
/// or None when a guard shows values RediSearch does not aggregate exactly
/// (bigints beyond ±2⁵³ or fractional, infinities under MIN/MAX; the caller
/// falls back to the scan path).
pub async fn aggregate(store: &Store, index: &IndexInfo, plan: &AggPlan) -> Result<Option<DataFrame>> {
    let per_part = on_every_part(store, index, |name, node| async move {
        part_groups(&node, &name, plan).await
    })
    .await?;
    let mut all = Vec::with_capacity(per_part.len());
    for groups in per_part {
        match groups {
            Some(groups) => all.push(groups),
            None => return Ok(None),
        }
    }
    let Some(mut groups) = merge(plan, all)? else {
        return Ok(None);
    };
    if plan.group_by.is_empty() && groups.is_empty() {
        // SQL's aggregate over no rows is one row: counts 0, the rest NULL.
        let values = plan
            .reducers
            .iter()
            .map(|r| matches!(r.reduce, Reduce::CountAll | Reduce::Count(_) | Reduce::CountDistinct(_)).then_some(0.0))
            .collect();
        groups.push((Vec::new(), values));
    }
    let outs: Vec<Vec<Option<f64>>> = (0..plan.reducers.len())
        .map(|j| groups.iter().map(|(_, v)| v[j]).collect())
        .collect();
    if !sums_exact(plan, &outs) {
        return Ok(None);
    }
    let mut cols: Vec<Column> = Vec::new();
    for (i, g) in plan.group_by.iter().enumerate() {
        let values: Vec<Option<String>> = groups.iter().map(|(k, _)| k[i].clone()).collect();
        cols.push(Series::new(g.column.as_str().into(), values).into_column());
    }
    for (r, values) in plan.reducers.iter().zip(outs) {
        let integral = match &r.reduce {
            Reduce::CountAll | Reduce::Count(_) | Reduce::CountDistinct(_) => true,
            Reduce::Sum(_) | Reduce::Min(_) | Reduce::Max(_) => {
                r.field.as_ref().is_some_and(|f| f.kind == Kind::BigInt)
            }
        };
        let s = if integral {
            Series::new(
                r.name.as_str().into(),
                values.iter().map(|v| v.map(|x| x as i64)).collect::<Vec<_>>(),
            )
        } else {
            Series::new(r.name.as_str().into(), values)
        };
        cols.push(s.into_column());
    }
    Ok(Some(DataFrame::new_infer_height(cols)?))
}

/// One part's groups, or None when its guards or infinity checks trip.
async fn part_groups(node: &Node, index: &str, plan: &AggPlan) -> Result<Option<Vec<Group>>> {
    let args = full_args(index, plan.args(), &plan.pushed);
    let mut groups: Vec<Group> = Vec::new();
    let mut dirty = false;
    cursor_rows(node, &args, None, |fields| {
        let get = |name: &str| text(fields, name);
        let key = plan.group_by.iter().map(|g| get(&g.alias)).collect();
        let values = plan
            .reducers
            .iter()
            .map(|r| get(&r.name).and_then(|s| parse_number(&s)))
            .collect();
        groups.push((key, values));
        for g in &plan.guards {
            if get(&guard_name(g)).and_then(|s| parse_number(&s)).unwrap_or(0.0) != 0.0 {
                dirty = true;
            }
        }
    })
    .await?;
    for body in plan.infinity_checks() {
        let mut infinite = 0.0;
        cursor_rows(node, &full_args(index, body, &plan.pushed), None, |fields| {
            infinite += text(fields, "__infinite").and_then(|s| parse_number(&s)).unwrap_or(0.0);
        })
        .await?;
        if infinite > 0.0 {
            return Ok(None);
        }
    }
    // Counts of a field's values: COUNT(*) minus its missing rows per group.
    if let Some(all) = plan.reducers.iter().position(|r| r.reduce == Reduce::CountAll) {
        for (name, body) in plan.missing_counts() {
            let args = full_args(index, body, &plan.pushed);
            let mut missing: HashMap<Vec<Option<String>>, f64> = HashMap::new();
            cursor_rows(node, &args, None, |fields| {
                let key: Vec<Option<String>> = plan.group_by.iter().map(|g| text(fields, &g.alias)).collect();
                let n = text(fields, "__missing").and_then(|s| parse_number(&s)).unwrap_or(0.0);
                missing.insert(key, n);
            })
            .await?;
            let Some(col) = plan.reducers.iter().position(|r| r.name == name) else {
                continue;
            };
            for (key, values) in &mut groups {
                let m = missing.get(key).copied().unwrap_or(0.0);
                values[col] = values[all].map(|n| n - m);
            }
        }
    }
    Ok((!dirty).then_some(groups))
}

/// The parts' groups merged into one list (in the order groups were first
/// seen); None when a reducer cannot be merged exactly.
fn merge(plan: &AggPlan, mut parts: Vec<Vec<Group>>) -> Result<Option<Vec<Group>>> {
    if parts.len() == 1 {
        return Ok(parts.pop());
    }
    // For MIN and MAX, the reducer counting the same field's values.
    let mut counts = Vec::new();
    for r in &plan.reducers {
        counts.push(match &r.reduce {
            Reduce::Min(c) | Reduce::Max(c) => {
                match plan.reducers.iter().position(|x| x.reduce == Reduce::Count(c.clone())) {
                    Some(n) => Some(n),
                    None => return Ok(None),
                }
            }
            Reduce::CountDistinct(c) => {
                return Err(Error::Internal(format!(
                    "COUNT(DISTINCT {c}) cannot be merged over the parts of an index"
                )))
            }
            _ => None,
        });
    }
    let mut merged: Vec<Group> = Vec::new();
    let mut at: HashMap<Vec<Option<String>>, usize> = HashMap::new();
    for (key, values) in parts.into_iter().flatten() {
        let Some(&i) = at.get(&key) else {
            at.insert(key.clone(), merged.len());
            merged.push((key, values));
            continue;
        };
        let into = &mut merged[i].1;
        // The counts before this part's are added in: MIN/MAX need both.
        let before = into.clone();
        for (j, r) in plan.reducers.iter().enumerate() {
            into[j] = match &r.reduce {
                Reduce::CountAll | Reduce::Count(_) | Reduce::Sum(_) => match (before[j], values[j]) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                },
                Reduce::Min(_) | Reduce::Max(_) => {
                    let n = counts[j].expect("MIN/MAX has its count");
                    let has = |v: &[Option<f64>]| v[n].unwrap_or(0.0) > 0.0;
                    match (has(&before), has(&values)) {
                        (true, true) => {
                            let (a, b) = (before[j].unwrap_or(f64::NAN), values[j].unwrap_or(f64::NAN));
                            let better = if matches!(r.reduce, Reduce::Min(_)) {
                                b < a
                            } else {
                                b > a
                            };
                            Some(if better { b } else { a })
                        }
                        (false, true) => values[j],
                        _ => before[j],
                    }
                }
                Reduce::CountDistinct(_) => unreachable!("refused above"),
            };
        }
    }
    Ok(Some(merged))
}

/// Bigint sums are exact only while |count × max(|min|, |max|)| < 2⁵³.
fn sums_exact(plan: &AggPlan, outs: &[Vec<Option<f64>>]) -> bool {
    let col = |r: &Reduce| plan.reducers.iter().position(|x| &x.reduce == r);
    for r in &plan.reducers {
        let (Reduce::Sum(c), Some(f)) = (&r.reduce, &r.field) else {
            continue;
        };
        if f.kind != Kind::BigInt {
            continue;
        }
        let (Some(n), Some(lo), Some(hi)) = (
            col(&Reduce::Count(c.clone())),
            col(&Reduce::Min(c.clone())),
            col(&Reduce::Max(c.clone())),
        ) else {
            return false;
        };
        for ((count, lo), hi) in outs[n].iter().zip(&outs[lo]).zip(&outs[hi]) {
            let count = count.unwrap_or(0.0);
            let big = lo.unwrap_or(0.0).abs().max(hi.unwrap_or(0.0).abs());
            if count * big >= EXACT_INT {
                return false;
            }
        }
    }
    true
}

/// A field of a reply row as text (None when absent or nil).
fn text(fields: &Fields<'_>, name: &str) -> Option<String> {
    super::search::field(fields, name.as_bytes()).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// A reducer's printed number (`inf`, `-nan` included).
fn parse_number(s: &str) -> Option<f64> {
    match s {
        "nan" | "-nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}
