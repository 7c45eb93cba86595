//! Translation rules: SQL predicate in, FT query / exactness / FILTER out.

use std::collections::HashMap;

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::*;
use crate::catalog::index::{AttrType, Attribute};

/// An attribute as redsql's CREATE INDEX declares it: text columns as
/// `TAG SEPARATOR "\x1f" CASESENSITIVE INDEXMISSING INDEXEMPTY SORTABLE UNF`,
/// numbers as `NUMERIC INDEXMISSING SORTABLE`.
fn attr(name: &str, ty: AttrType) -> Attribute {
    let tag = ty == AttrType::Tag;
    Attribute {
        identifier: name.into(),
        alias: name.into(),
        ty,
        separator: tag.then(|| "\u{1f}".to_string()),
        case_sensitive: tag,
        sortable: true,
        unf: tag,
        noindex: false,
        index_missing: true,
        index_empty: tag,
    }
}

fn field(name: &str, kind: Kind, attr: Attribute) -> (String, Field) {
    (
        name.to_string(),
        Field {
            column: name.into(),
            alias: name.into(),
            kind,
            attr,
        },
    )
}

/// s text, d double, b bigint (redsql's index definitions), and p: a
/// default TAG (separator `,`, not sortable, no INDEXMISSING).
fn schema(json: bool) -> Schema {
    let plain = Attribute {
        separator: Some(",".into()),
        case_sensitive: false,
        sortable: false,
        unf: false,
        index_missing: false,
        index_empty: false,
        ..attr("p", AttrType::Tag)
    };
    let fields: HashMap<String, Field> = [
        field("s", Kind::Text, attr("s", AttrType::Tag)),
        field("d", Kind::Double, attr("d", AttrType::Numeric)),
        field("b", Kind::BigInt, attr("b", AttrType::Numeric)),
        field("p", Kind::Text, plain),
    ]
    .into();
    Schema {
        fields,
        json,
        cluster: false,
        live_only: false,
    }
}

fn tr_in(sql: &str, json: bool) -> Pushed {
    let e = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    translate(Some(&e), &schema(json))
}

fn tr(sql: &str) -> Pushed {
    tr_in(sql, false)
}

/// (query, exactness, filter, filter exactness) in one value for asserts.
fn parts(p: &Pushed) -> (Option<&str>, Exactness, Option<&str>, Exactness) {
    (p.query.as_deref(), p.exactness, p.filter.as_deref(), p.filter_exactness)
}

fn params(p: &Pushed) -> Vec<(&str, &str)> {
    p.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

use Exactness::{Exact, IfClean, Superset};

#[test]
fn no_where_is_every_row_exactly() {
    let p = translate(None, &schema(false));
    assert_eq!(parts(&p), (None, Exact, None, Exact));
    assert_eq!(p.query_text(), "*");
}

#[test]
fn double_comparisons_are_exact_with_brackets_in_the_query_text() {
    let cases = [
        ("d = 1.5", "@d:[$p0 $p0]", "(exists(@d) && @d == 1.5)"),
        ("d < 2", "@d:[-inf ($p0]", "(exists(@d) && @d < 2.0)"),
        ("d <= 2", "@d:[-inf $p0]", "(exists(@d) && @d <= 2.0)"),
        ("d > 2", "@d:[($p0 +inf]", "(exists(@d) && @d > 2.0)"),
        ("d >= 2", "@d:[$p0 +inf]", "(exists(@d) && @d >= 2.0)"),
        (
            "d <> 2",
            "(@d:[-inf ($p0] | @d:[($p0 +inf])",
            "(exists(@d) && @d != 2.0)",
        ),
        // A literal on the left flips the operator.
        ("2 < d", "@d:[($p0 +inf]", "(exists(@d) && @d > 2.0)"),
        // NOT of a comparison is the negated comparison (NULL stays out).
        ("NOT d < 2", "@d:[$p0 +inf]", "(exists(@d) && @d >= 2.0)"),
    ];
    for (sql, query, filter) in cases {
        let p = tr(sql);
        assert_eq!(parts(&p), (Some(query), Exact, Some(filter), Exact), "{sql}");
        assert_eq!(params(&p)[0].0, "p0", "{sql}");
        assert_eq!(p.columns, ["d".to_string()].into(), "{sql}");
    }
    assert_eq!(params(&tr("d = 1.5")), [("p0", "1.5")]);
    assert_eq!(params(&tr("d > -3")), [("p0", "-3.0")]);
    assert_eq!(params(&tr("d = 1e300")), [("p0", "1e300")]);
    // How bound parameters arrive.
    let p = tr("d = CAST(1.5 AS DOUBLE PRECISION)");
    assert_eq!(parts(&p).0, Some("@d:[$p0 $p0]"));
    assert_eq!(params(&p), [("p0", "1.5")]);
}

#[test]
fn bigint_is_exact_if_clean_within_2_pow_53_and_a_superset_beyond() {
    let p = tr("b = 5");
    assert_eq!(
        parts(&p),
        (
            Some("@b:[$p0 $p0]"),
            IfClean,
            Some("(exists(@b) && @b == 5.0)"),
            IfClean
        )
    );
    let p = tr("b < 9007199254740991");
    assert_eq!(parts(&p).0, Some("@b:[-inf ($p0]"));
    assert_eq!(p.exactness, IfClean);
    // 2^53 + 1 has no double of its own: inclusive bounds, no FILTER.
    let p = tr("b = 9007199254740993");
    assert_eq!(parts(&p), (Some("@b:[$p0 $p0]"), Superset, None, Superset));
    assert_eq!(params(&p), [("p0", "9007199254740992.0")]);
    assert_eq!(parts(&tr("b < 9007199254740993")).0, Some("@b:[-inf $p0]"));
    assert_eq!(parts(&tr("b > -9007199254740993")).0, Some("@b:[$p0 +inf]"));
    assert_eq!(
        parts(&tr("b <> 9007199254740993")),
        (Some("@b:[-inf +inf]"), Superset, None, Superset)
    );
    // 2^53 itself is already ambiguous.
    assert_eq!(tr("b = 9007199254740992").exactness, Superset);
    // A fractional literal against a bigint is not translated.
    assert_eq!(parts(&tr("b = 2.5")), (None, Superset, None, Superset));
    assert_eq!(parts(&tr("b = CAST(2 AS DOUBLE PRECISION)")).0, None);
}

#[test]
fn text_equality_is_a_superset_query_plus_an_exact_filter() {
    let p = tr("s = 'Foo'");
    assert_eq!(
        parts(&p),
        (Some("@s:{$p0}"), Superset, Some("(exists(@s) && @s == 'Foo')"), Exact)
    );
    assert_eq!(params(&p), [("p0", "Foo")]);
    // Punctuation travels as a PARAM, literally.
    assert_eq!(params(&tr("s = 'user@example.com'")), [("p0", "user@example.com")]);
    assert_eq!(params(&tr("s = '$p0'")), [("p0", "$p0")]);
    // Quotes and backslashes are escaped inside the FILTER string.
    assert_eq!(
        tr(r"s = 'it''s a \ b'").filter.as_deref(),
        Some(r"(exists(@s) && @s == 'it\'s a \\ b')")
    );
    assert_eq!(parts(&tr("'Foo' = s")).0, Some("@s:{$p0}"));
}

#[test]
fn text_equality_the_tag_index_cannot_look_up_has_no_query_part() {
    // Outer whitespace is trimmed at indexing, the separator splits, and
    // the empty string is not a tag literal.
    for lit in [" Foo", "Foo ", "  Foo  ", "", "a\u{1f}b", "\tx"] {
        let sql = format!("s = '{lit}'");
        let p = tr(&sql);
        let filter = format!("(exists(@s) && @s == '{lit}')");
        assert_eq!(parts(&p), (None, Superset, Some(filter.as_str()), Exact), "{sql:?}");
        assert!(p.params.is_empty(), "{sql:?}");
    }
    // A default TAG splits on ',': no query; not sortable UNF: no filter.
    assert_eq!(parts(&tr("p = 'a,b'")), (None, Superset, None, Superset));
    assert_eq!(parts(&tr("p = 'ab'")), (Some("@p:{$p0}"), Superset, None, Superset));
    // Inequalities on text are not translated.
    assert_eq!(parts(&tr("s < 'b'")), (None, Superset, None, Superset));
}

#[test]
fn text_inequality_excludes_nulls() {
    let p = tr("s <> 'Foo'");
    assert_eq!(
        parts(&p),
        (
            Some("-ismissing(@s)"),
            Superset,
            Some("(exists(@s) && @s != 'Foo')"),
            Exact
        )
    );
    assert!(p.params.is_empty());
    // NOT (s = ...) is the same.
    assert_eq!(parts(&tr("NOT (s = 'Foo')")), parts(&p));
    // Without INDEXMISSING there is no null-safe query.
    assert_eq!(parts(&tr("p <> 'x'")), (None, Superset, None, Superset));
}

#[test]
fn null_tests() {
    assert_eq!(
        parts(&tr("s IS NULL")),
        (Some("ismissing(@s)"), Exact, Some("!exists(@s)"), Exact)
    );
    assert_eq!(
        parts(&tr("d IS NULL")),
        (Some("ismissing(@d)"), Exact, Some("!exists(@d)"), Exact)
    );
    // An unreadable bigint is NULL to SQL but present to RediSearch.
    assert_eq!(parts(&tr("b IS NULL")), (None, Superset, None, Superset));
    // Without INDEXMISSING, IS NULL has no query.
    assert_eq!(parts(&tr("p IS NULL")).0, None);
    assert_eq!(
        parts(&tr("s IS NOT NULL")),
        (Some("-ismissing(@s)"), Exact, Some("exists(@s)"), Exact)
    );
    assert_eq!(
        parts(&tr("d IS NOT NULL")),
        (Some("@d:[-inf +inf]"), Exact, Some("exists(@d)"), Exact)
    );
    assert_eq!(
        parts(&tr("b IS NOT NULL")),
        (Some("@b:[-inf +inf]"), IfClean, Some("exists(@b)"), IfClean)
    );
    assert_eq!(parts(&tr("NOT (s IS NULL)")), parts(&tr("s IS NOT NULL")));
    assert_eq!(parts(&tr("NOT (d IS NOT NULL)")), parts(&tr("d IS NULL")));
}

#[test]
fn in_lists_and_between() {
    let p = tr("s IN ('a', 'b')");
    assert_eq!(
        parts(&p),
        (
            Some("(@s:{$p0} | @s:{$p1})"),
            Superset,
            Some("((exists(@s) && @s == 'a') || (exists(@s) && @s == 'b'))"),
            Exact
        )
    );
    assert_eq!(params(&p), [("p0", "a"), ("p1", "b")]);
    // One untranslatable literal makes the OR untranslatable as a query.
    assert_eq!(parts(&tr("s IN ('a', ' b')")).0, None);
    assert_eq!(parts(&tr("s IN ('a', ' b')")).3, Exact);
    assert_eq!(
        parts(&tr("d NOT IN (1, 2)")),
        (
            Some("((@d:[-inf ($p0] | @d:[($p0 +inf]) (@d:[-inf ($p1] | @d:[($p1 +inf]))"),
            Exact,
            Some("((exists(@d) && @d != 1.0) && (exists(@d) && @d != 2.0))"),
            Exact
        )
    );
    assert_eq!(parts(&tr("NOT (d IN (1, 2))")), parts(&tr("d NOT IN (1, 2)")));
    assert_eq!(
        parts(&tr("d BETWEEN 1 AND 2")),
        (
            Some("@d:[$p0 $p1]"),
            Exact,
            Some("(exists(@d) && @d >= 1.0 && @d <= 2.0)"),
            Exact
        )
    );
    assert_eq!(
        parts(&tr("d NOT BETWEEN 1 AND 2")),
        (
            Some("(@d:[-inf ($p0] | @d:[($p1 +inf])"),
            Exact,
            Some("((exists(@d) && @d < 1.0) || (exists(@d) && @d > 2.0))"),
            Exact
        )
    );
    assert_eq!(
        parts(&tr("NOT (d BETWEEN 1 AND 2)")),
        parts(&tr("d NOT BETWEEN 1 AND 2"))
    );
    assert_eq!(tr("b BETWEEN 1 AND 9007199254740993").exactness, Superset);
}

#[test]
fn not_of_and_goes_to_negation_normal_form() {
    // s <> 'x' is a NOT (-ismissing), which never goes under an OR: the
    // query is dropped, the FILTER stays exact.
    let p = tr("NOT (d = 1 AND s = 'x')");
    assert_eq!(
        parts(&p),
        (
            None,
            Superset,
            Some("((exists(@d) && @d != 1.0) || (exists(@s) && @s != 'x'))"),
            Exact
        )
    );
    assert_eq!(p.columns, ["d".to_string(), "s".to_string()].into());
    assert_eq!(
        parts(&tr("NOT (d = 1 AND d = 2)")).0,
        Some("((@d:[-inf ($p0] | @d:[($p0 +inf]) | (@d:[-inf ($p1] | @d:[($p1 +inf]))")
    );
    // A NOT is kept outside any OR.
    assert_eq!(
        parts(&tr("s <> 'x' AND d = 1")).0,
        Some("(@d:[$p0 $p0] -ismissing(@s))")
    );
    assert_eq!(
        parts(&tr("s IS NOT NULL OR d = 1")),
        (None, Superset, Some("(exists(@s) || (exists(@d) && @d == 1.0))"), Exact)
    );
    // NOT (a OR b) = NOT a AND NOT b; double negation cancels; the bounds
    // on d (>= 1, > 5) merge into one range.
    assert_eq!(parts(&tr("NOT (d < 1 OR NOT d > 5)")).0, Some("@d:[($p0 +inf]"));
    assert_eq!(
        parts(&tr("d > 1 AND d <= 9.5 AND d >= 1 AND d < 20")),
        (
            Some("@d:[($p0 $p1]"),
            Exact,
            Some("(exists(@d) && @d > 1.0 && @d <= 9.5)"),
            Exact
        )
    );
}

#[test]
fn untranslatable_parts() {
    // OR with an untranslatable branch: no query, no filter.
    assert_eq!(parts(&tr("d = 1 OR lower(s) = 'x'")), (None, Superset, None, Superset));
    // AND leaves it out: the rest is a superset.
    assert_eq!(
        parts(&tr("d = 1 AND lower(s) = 'x'")),
        (Some("@d:[$p0 $p0]"), Superset, None, Superset)
    );
    assert_eq!(
        parts(&tr("d = 1 AND s LIKE 'a%'")),
        (Some("@d:[$p0 $p0]"), Superset, None, Superset)
    );
    // Two exact parts stay exact; a bigint part makes it exact if clean.
    assert_eq!(
        parts(&tr("d = 1 AND b = 2")),
        (
            Some("(@d:[$p0 $p0] @b:[$p1 $p1])"),
            IfClean,
            Some("((exists(@d) && @d == 1.0) && (exists(@b) && @b == 2.0))"),
            IfClean
        )
    );
    // Columns not in the index, and column-to-column comparisons.
    assert_eq!(parts(&tr("x = 1")), (None, Superset, None, Superset));
    assert_eq!(parts(&tr("d = b")), (None, Superset, None, Superset));
    assert_eq!(parts(&tr("d + 1 = 2")), (None, Superset, None, Superset));
    // A text column compared with a number (and the reverse) is left alone.
    assert_eq!(parts(&tr("s = 1")).0, None);
    assert_eq!(parts(&tr("d = 'x'")).0, None);
}

#[test]
fn json_tables_are_only_ever_a_superset() {
    let j = |sql| tr_in(sql, true);
    assert_eq!(parts(&j("d = 1")), (Some("@d:[$p0 $p0]"), Superset, None, Superset));
    assert_eq!(parts(&j("d < 1")), (Some("@d:[-inf ($p0]"), Superset, None, Superset));
    assert_eq!(parts(&j("s = 'x'")), (Some("@s:{$p0}"), Superset, None, Superset));
    assert_eq!(
        parts(&j("s <> 'x'")),
        (Some("-ismissing(@s)"), Superset, None, Superset)
    );
    // JSON null is neither a value nor missing.
    assert_eq!(parts(&j("s IS NULL")), (None, Superset, None, Superset));
    assert_eq!(
        parts(&j("s IS NOT NULL")),
        (Some("-ismissing(@s)"), Superset, None, Superset)
    );
    assert_eq!(
        parts(&j("d = 1 AND s = 'x'")),
        (Some("(@d:[$p0 $p0] @s:{$p1})"), Superset, None, Superset)
    );
}
