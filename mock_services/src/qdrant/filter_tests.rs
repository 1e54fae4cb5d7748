//! Tests of [`super::filter`]: each condition kind, their combinations, parse errors.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::filter::Filter;
use super::ids::PointId;

fn f(v: Value) -> Filter {
    Filter::parse(&v).unwrap()
}

fn p(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

const ID: PointId = PointId::Num(7);

#[test]
fn match_value_any_except_text() {
    let doc = p(
        json!({"topic": "finance", "year": 2024, "ok": true, "tags": ["a", "b"],
                       "body": "quarterly revenue grew"}),
    );
    let yes = [
        json!({"must": [{"key": "topic", "match": {"value": "finance"}}]}),
        json!({"must": {"key": "year", "match": {"value": 2024}}}),
        json!({"must": [{"key": "ok", "match": {"value": true}}]}),
        json!({"must": [{"key": "tags", "match": {"value": "b"}}]}),
        json!({"must": [{"key": "topic", "match": {"any": ["hr", "finance"]}}]}),
        json!({"must": [{"key": "topic", "match": {"except": ["hr"]}}]}),
        json!({"must": [{"key": "tags", "match": {"except": ["a"]}}]}),
        json!({"must": [{"key": "missing", "match": {"except": ["a"]}}]}),
        json!({"must": [{"key": "body", "match": {"text": "revenue"}}]}),
    ];
    for c in yes {
        assert!(f(c.clone()).matches(&ID, &doc), "{c}");
    }
    let no = [
        json!({"must": [{"key": "topic", "match": {"value": "hr"}}]}),
        json!({"must": [{"key": "year", "match": {"value": "2024"}}]}),
        json!({"must": [{"key": "ok", "match": {"value": false}}]}),
        json!({"must": [{"key": "topic", "match": {"any": ["hr", "it"]}}]}),
        json!({"must": [{"key": "topic", "match": {"except": ["finance"]}}]}),
        json!({"must": [{"key": "tags", "match": {"except": ["a", "b"]}}]}),
        json!({"must": [{"key": "missing", "match": {"value": "x"}}]}),
        json!({"must": [{"key": "body", "match": {"text": "loss"}}]}),
    ];
    for c in no {
        assert!(!f(c.clone()).matches(&ID, &doc), "{c}");
    }
}

#[test]
fn range_values_count_and_nested_paths() {
    let doc = p(json!({"price": 9.5, "n": [1, 5, 10],
                       "site": {"name": "north", "rooms": [{"temp": 21}, {"temp": 30}]}}));
    let cases = [
        (
            json!({"key": "price", "range": {"gte": 9.5, "lt": 10}}),
            true,
        ),
        (json!({"key": "price", "range": {"gt": 9.5}}), false),
        (json!({"key": "n", "range": {"gt": 9}}), true),
        (json!({"key": "n", "range": {"gt": 10}}), false),
        (json!({"key": "n", "values_count": {"gte": 3}}), true),
        (json!({"key": "n", "values_count": {"gt": 3}}), false),
        (
            json!({"key": "site.name", "match": {"value": "north"}}),
            true,
        ),
        (
            json!({"key": "site.rooms[].temp", "range": {"gte": 30}}),
            true,
        ),
        (
            json!({"key": "site.rooms.temp", "range": {"gt": 30}}),
            false,
        ),
        (
            json!({"nested": {"key": "site.rooms", "filter": {"must": [
            {"key": "temp", "range": {"gt": 25}}]}}}),
            true,
        ),
        (
            json!({"nested": {"key": "site.rooms", "filter": {"must": [
            {"key": "temp", "range": {"gt": 25}}, {"key": "temp", "range": {"lt": 25}}]}}}),
            false,
        ),
    ];
    for (c, want) in cases {
        let filter = f(json!({ "must": [c.clone()] }));
        assert_eq!(filter.matches(&ID, &doc), want, "{c}");
    }
}

#[test]
fn has_id_is_empty_is_null() {
    let doc = p(json!({"a": null, "b": [], "c": "x"}));
    let uuid = "550e8400-e29b-41d4-a716-446655440000";
    let cases = [
        (json!({"has_id": [1, 7]}), true),
        (json!({"has_id": [1, uuid]}), false),
        (json!({"is_empty": {"key": "a"}}), true),
        (json!({"is_empty": {"key": "b"}}), true),
        (json!({"is_empty": {"key": "zz"}}), true),
        (json!({"is_empty": {"key": "c"}}), false),
        (json!({"is_null": {"key": "a"}}), true),
        (json!({"is_null": {"key": "zz"}}), false),
        (json!({"is_null": {"key": "b"}}), false),
    ];
    for (c, want) in cases {
        assert_eq!(
            f(json!({ "must": c.clone() })).matches(&ID, &doc),
            want,
            "{c}"
        );
    }
    let u = PointId::parse_uuid(uuid).unwrap();
    assert!(f(json!({"must": {"has_id": [uuid]}})).matches(&u, &doc));
}

#[test]
fn boolean_combinations() {
    let doc = p(json!({"t": "a", "n": 3}));
    let a = json!({"key": "t", "match": {"value": "a"}});
    let b = json!({"key": "t", "match": {"value": "b"}});
    let three = json!({"key": "n", "match": {"value": 3}});
    let cases = [
        (json!({}), true),
        (json!({"should": [a.clone(), b.clone()]}), true),
        (json!({"should": [b.clone()]}), false),
        (json!({"must_not": [b.clone()]}), true),
        (json!({"must_not": a.clone()}), false),
        (json!({"must": [a.clone(), three.clone()]}), true),
        (json!({"must": [a.clone(), b.clone()]}), false),
        (
            json!({"must": [{"should": [b.clone(), three.clone()]}]}),
            true,
        ),
        (json!({"must": [{"must_not": [a.clone()]}]}), false),
        (
            json!({"min_should": {"conditions": [a.clone(), b.clone(), three.clone()], "min_count": 2}}),
            true,
        ),
        (
            json!({"min_should": {"conditions": [a.clone(), b.clone()], "min_count": 2}}),
            false,
        ),
        (
            json!({"must": a.clone(), "should": [b.clone()], "must_not": []}),
            false,
        ),
    ];
    for (c, want) in cases {
        assert_eq!(f(c.clone()).matches(&ID, &doc), want, "{c}");
    }
    assert!(f(json!({})).is_empty());
    assert!(f(Value::Null).is_empty());
}

#[test]
fn parse_errors_say_what_is_wrong() {
    let cases = [
        (
            json!({"must": [{"foo": 1}]}),
            "Expected some form of condition",
        ),
        (
            json!({"must": [{"key": "t"}]}),
            "Expected some form of condition",
        ),
        (
            json!({"must": [{"key": "t", "match": {"value": 1.5}}]}),
            "not an integer",
        ),
        (
            json!({"must": [{"key": "t", "range": {"gt": "2024-01-01"}}]}),
            "datetime",
        ),
        (
            json!({"must": [{"key": "t", "geo_radius": {}}]}),
            "geo_radius",
        ),
        (
            json!({"must": [{"has_id": ["nope"]}]}),
            "not a valid point ID",
        ),
        (json!({"must": 3}), "`must`"),
        (json!([1]), "`filter` must be an object"),
    ];
    for (c, want) in cases {
        let e = Filter::parse(&c).unwrap_err();
        assert!(e.contains(want), "{c}: {e}");
    }
    // Inside a request body, serde_json adds the position to the message.
    #[derive(Debug, Deserialize)]
    struct Body {
        #[allow(dead_code)]
        filter: Option<Filter>,
    }
    let e = serde_json::from_str::<Body>(r#"{"filter": {"must": [{"key": "t"}]}}"#).unwrap_err();
    assert!(e.to_string().contains("at line 1 column"), "{e}");
    assert!(serde_json::from_str::<Body>(r#"{"filter": null}"#).is_ok());
}
