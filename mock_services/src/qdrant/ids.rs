//! Point ids: Qdrant's `ExtendedPointId`, an unsigned integer or a UUID.
//!
//! UUIDs are kept as a `u128` (cheap to compare, hash and copy) and always written back in the
//! lower-case hyphenated form, as Qdrant does whatever form the client sent (hyphenated, simple,
//! braced or `urn:uuid:`). Integers sort before UUIDs, which is the order `scroll` pages in.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PointId {
    /// An unsigned integer id.
    Num(u64),
    /// A UUID, as its 128-bit value.
    Uuid(u128),
}

impl PointId {
    /// Parses a UUID in any of the forms Qdrant accepts; `None` when `s` is not a UUID.
    pub fn parse_uuid(s: &str) -> Option<PointId> {
        let s = s.strip_prefix("urn:uuid:").unwrap_or(s);
        let s = s
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(s);
        let hex: String = match s.len() {
            32 => s.to_string(),
            36 => {
                let b = s.as_bytes();
                if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
                    return None;
                }
                s.chars().filter(|&c| c != '-').collect()
            }
            _ => return None,
        };
        if hex.len() != 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(&hex, 16).ok().map(PointId::Uuid)
    }

    /// Reads an id from a JSON value (what a client may send in `has_id`, `ids`, `offset`…).
    pub fn from_json(v: &serde_json::Value) -> Result<PointId, String> {
        match v {
            serde_json::Value::Number(n) => n.as_u64().map(PointId::Num).ok_or_else(|| invalid(n)),
            serde_json::Value::String(s) => PointId::parse_uuid(s).ok_or_else(|| invalid(s)),
            other => Err(invalid(other)),
        }
    }
}

fn invalid(v: impl fmt::Display) -> String {
    format!(
        "value {v} is not a valid point ID, valid values are either an unsigned integer or a UUID"
    )
}

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PointId::Num(n) => write!(f, "{n}"),
            PointId::Uuid(u) => {
                let h = format!("{u:032x}");
                write!(
                    f,
                    "{}-{}-{}-{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                )
            }
        }
    }
}

impl From<u64> for PointId {
    fn from(n: u64) -> Self {
        PointId::Num(n)
    }
}

impl Serialize for PointId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            PointId::Num(n) => s.serialize_u64(n),
            PointId::Uuid(_) => s.collect_str(self),
        }
    }
}

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = PointId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an unsigned integer or a UUID string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<PointId, E> {
        Ok(PointId::Num(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<PointId, E> {
        u64::try_from(v)
            .map(PointId::Num)
            .map_err(|_| E::custom(invalid(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<PointId, E> {
        Err(E::custom(invalid(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<PointId, E> {
        PointId::parse_uuid(v).ok_or_else(|| E::custom(invalid(v)))
    }
}

impl<'de> Deserialize<'de> for PointId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PointId, D::Error> {
        d.deserialize_any(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_forms_normalise_to_hyphenated_lower_case() {
        let canonical = "550e8400-e29b-41d4-a716-446655440000";
        for form in [
            canonical,
            "550E8400-E29B-41D4-A716-446655440000",
            "550e8400e29b41d4a716446655440000",
            "{550e8400-e29b-41d4-a716-446655440000}",
            "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
        ] {
            let id = PointId::parse_uuid(form).unwrap();
            assert_eq!(id.to_string(), canonical, "{form}");
            assert_eq!(
                serde_json::to_string(&id).unwrap(),
                format!("\"{canonical}\"")
            );
        }
        for bad in [
            "",
            "abc",
            "550e8400-e29b-41d4-a716-44665544000g",
            "550e8400e29b-41d4a716-446655440000x",
        ] {
            assert!(PointId::parse_uuid(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn json_round_trip_and_errors() {
        assert_eq!(
            serde_json::from_str::<PointId>("42").unwrap(),
            PointId::Num(42)
        );
        assert_eq!(serde_json::to_string(&PointId::Num(42)).unwrap(), "42");
        let e = serde_json::from_str::<PointId>("-1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a valid point ID"), "{e}");
        let e = serde_json::from_str::<PointId>("\"doc-1\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("value doc-1 is not a valid point ID"), "{e}");
        assert!(serde_json::from_str::<PointId>("1.5").is_err());
    }

    #[test]
    fn integers_sort_before_uuids() {
        let mut v = [
            PointId::parse_uuid("00000000-0000-0000-0000-000000000001").unwrap(),
            PointId::Num(u64::MAX),
            PointId::Num(3),
        ];
        v.sort();
        assert_eq!(v[0], PointId::Num(3));
        assert!(matches!(v[2], PointId::Uuid(1)));
    }
}
