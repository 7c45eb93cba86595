//! Schema inference: choose a type per field from a sample of hashes, with a
//! confidence (the share of sampled non-null values that parse as the chosen type).

use std::collections::HashMap;

use super::types::ColType;

/// Below this agreement a column falls back to text.
pub const MIN_AGREEMENT: f64 = 0.5;

#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub ty: ColType,
    /// Share of sampled non-null values that parse as `ty` (1.0 for text).
    pub confidence: f64,
    /// Share of sampled rows where the field is absent (or empty, for non-text columns).
    pub null_ratio: f64,
    /// Number of sampled non-null values the choice is based on.
    pub samples: usize,
}

#[derive(Default)]
struct FieldStats {
    first_seen: usize,
    present: usize,
    empty: usize,
    /// Non-empty values that parse, per candidate type (indexes of `ColType::INFERABLE`).
    accepted: [usize; ColType::INFERABLE.len()],
}

/// Infer the columns of a table from sampled rows (each a list of field/value
/// pairs as stored). Columns come in the order they were first seen.
pub fn infer_columns(rows: &[Vec<(Vec<u8>, Vec<u8>)>]) -> Vec<ColumnInfo> {
    let mut stats: HashMap<&[u8], FieldStats> = HashMap::new();
    for row in rows {
        for (field, value) in row {
            let next = stats.len();
            let st = stats.entry(field.as_slice()).or_insert_with(|| FieldStats {
                first_seen: next,
                ..Default::default()
            });
            st.present += 1;
            let Ok(s) = std::str::from_utf8(value) else { continue };
            if s.is_empty() {
                st.empty += 1;
                continue;
            }
            for (i, ty) in ColType::INFERABLE.iter().enumerate() {
                if ty.accepts(s) {
                    st.accepted[i] += 1;
                }
            }
        }
    }
    let total = rows.len().max(1) as f64;
    let mut cols: Vec<(usize, ColumnInfo)> = stats
        .into_iter()
        .map(|(field, st)| {
            let non_null = st.present - st.empty;
            let (ty, confidence) = choose_type(&st.accepted, non_null);
            let nulls = if ty == ColType::Text {
                rows.len() - st.present
            } else {
                rows.len() - non_null
            };
            let info = ColumnInfo {
                name: String::from_utf8_lossy(field).into_owned(),
                ty,
                confidence,
                null_ratio: nulls as f64 / total,
                samples: if ty == ColType::Text { st.present } else { non_null },
            };
            (st.first_seen, info)
        })
        .collect();
    cols.sort_by_key(|(seen, _)| *seen);
    cols.into_iter().map(|(_, c)| c).collect()
}

/// A column whose type is declared: its confidence is the share of sampled
/// non-null values that parse as the declared type.
pub fn declared_column(rows: &[Vec<(Vec<u8>, Vec<u8>)>], name: &str, ty: ColType) -> ColumnInfo {
    let (mut present, mut non_null, mut accepted) = (0usize, 0usize, 0usize);
    for row in rows {
        if let Some((_, v)) = row.iter().find(|(f, _)| f.as_slice() == name.as_bytes()) {
            present += 1;
            let s = String::from_utf8_lossy(v);
            if !s.is_empty() || ty == ColType::Text {
                non_null += 1;
                if ty.accepts(&s) {
                    accepted += 1;
                }
            }
        }
    }
    ColumnInfo {
        name: name.to_string(),
        ty,
        confidence: if non_null == 0 {
            1.0
        } else {
            accepted as f64 / non_null as f64
        },
        null_ratio: if rows.is_empty() {
            0.0
        } else {
            (rows.len() - if ty == ColType::Text { present } else { non_null }) as f64 / rows.len() as f64
        },
        samples: non_null,
    }
}

/// The type with the highest agreement (most specific on ties), or text when
/// no type reaches [`MIN_AGREEMENT`].
fn choose_type(accepted: &[usize; ColType::INFERABLE.len()], non_null: usize) -> (ColType, f64) {
    if non_null == 0 {
        return (ColType::Text, 1.0);
    }
    let mut best = (ColType::Text, 0.0);
    for (i, ty) in ColType::INFERABLE.iter().enumerate() {
        let share = accepted[i] as f64 / non_null as f64;
        if share > best.1 {
            best = (*ty, share);
        }
    }
    if best.1 < MIN_AGREEMENT {
        (ColType::Text, 1.0)
    } else {
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn col<'a>(cols: &'a [ColumnInfo], name: &str) -> &'a ColumnInfo {
        cols.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn chooses_types_with_confidence() {
        let rows = vec![
            row(&[
                ("id", "1"),
                ("amount", "1.5"),
                ("ok", "true"),
                ("d", "2024-01-01"),
                ("ts", "2024-01-01T10:00:00"),
                ("name", "a"),
            ]),
            row(&[
                ("id", "2"),
                ("amount", "2"),
                ("ok", "false"),
                ("d", "2024-01-02"),
                ("ts", "2024-01-01 10:00:00"),
                ("name", "b"),
            ]),
            row(&[
                ("id", "3"),
                ("amount", "oops"),
                ("ok", "t"),
                ("d", "2024-01-03"),
                ("ts", "2024-01-02"),
                ("name", "3"),
            ]),
            row(&[("id", "x"), ("ok", "f"), ("name", "c")]),
        ];
        let cols = infer_columns(&rows);
        assert_eq!(
            cols.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["id", "amount", "ok", "d", "ts", "name"]
        );
        let id = col(&cols, "id");
        assert_eq!((id.ty, id.confidence), (ColType::BigInt, 0.75));
        let amount = col(&cols, "amount");
        assert_eq!(amount.ty, ColType::Double);
        assert!((amount.confidence - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(amount.null_ratio, 0.25);
        assert_eq!(col(&cols, "ok").ty, ColType::Boolean);
        assert_eq!(col(&cols, "d").ty, ColType::Date);
        assert_eq!(col(&cols, "ts").ty, ColType::Timestamp);
        assert_eq!(col(&cols, "name").ty, ColType::Text);
    }

    #[test]
    fn below_half_agreement_is_text() {
        let rows = vec![row(&[("v", "1")]), row(&[("v", "a")]), row(&[("v", "b")])];
        let cols = infer_columns(&rows);
        assert_eq!((cols[0].ty, cols[0].confidence), (ColType::Text, 1.0));
    }

    #[test]
    fn mixed_ints_and_floats_are_double() {
        let rows = vec![row(&[("v", "1")]), row(&[("v", "2")]), row(&[("v", "2.5")])];
        assert_eq!(infer_columns(&rows)[0].ty, ColType::Double);
    }
}
