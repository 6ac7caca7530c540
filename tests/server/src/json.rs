//! An ordered JSON value, the server's single representation of request and response bodies.
//!
//! The backend is JavaScript: objects keep their keys in insertion order, and
//! `JSON.stringify` writes them in that order without whitespace. [`Json`] does the same
//! (objects are [`IndexMap`]s), so responses carry the backend's field order and payloads the
//! server relays unchanged (`group_event`) keep the sender's order. It is independent of
//! `serde_json`'s `preserve_order` feature on purpose: enabling that feature would change
//! `serde_json` for every crate of the workspace.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// The members of a JSON object, in order.
pub(crate) type JsonObject = IndexMap<String, Json>;

/// A JSON value whose objects keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number; integral values are kept as integers, as JavaScript prints them.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in order.
    Object(JsonObject),
}

impl Json {
    /// Parses JSON text. The error's message plays the part of the JavaScript parser's.
    pub(crate) fn parse(text: &[u8]) -> Result<Json, serde_json::Error> {
        serde_json::from_slice(text)
    }

    /// Writes the value as compact JSON text, as `JSON.stringify` does.
    pub(crate) fn to_text(&self) -> String {
        // Serializing this type into a String cannot fail: every key is a string and every
        // number is finite.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The member `key` of an object; `None` for a missing key or a value that is no object.
    pub(crate) fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(map) => map.get(key),
            _ => None,
        }
    }

    /// The value as a string slice, if it is a string.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer, if it is a number with an integral value.
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The value as an array, if it is one.
    pub(crate) fn as_array(&self) -> Option<&Vec<Json>> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Whether the value is an object.
    pub(crate) fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    /// JavaScript truthiness: `null`, `false`, `0`, `NaN` and `""` are false, all else true.
    pub(crate) fn is_truthy(&self) -> bool {
        match self {
            Json::Null => false,
            Json::Bool(b) => *b,
            Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Json::String(s) => !s.is_empty(),
            Json::Array(_) | Json::Object(_) => true,
        }
    }

    /// The member `key` of an object as a non-empty string (JavaScript's `if (!body.key)`).
    pub(crate) fn str_field(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Whether the member `key` of an object is present and truthy.
    pub(crate) fn truthy_field(&self, key: &str) -> bool {
        self.get(key).is_some_and(Json::is_truthy)
    }
}

/// Builds a [`JsonObject`] from `key => value` pairs, in the order written.
///
/// Values are anything that converts into [`Json`].
macro_rules! json_map {
    ($($key:expr => $value:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut map = $crate::json::JsonObject::new();
        $( map.insert(::std::string::String::from($key), $crate::json::Json::from($value)); )*
        map
    }};
}
pub(crate) use json_map;

/// Builds a [`Json::Object`] from `key => value` pairs, in the order written.
macro_rules! json_object {
    ($($body:tt)*) => {
        $crate::json::Json::Object($crate::json::json_map!($($body)*))
    };
}
pub(crate) use json_object;

impl From<&str> for Json {
    fn from(value: &str) -> Self {
        Json::String(value.to_owned())
    }
}

impl From<String> for Json {
    fn from(value: String) -> Self {
        Json::String(value)
    }
}

impl From<&String> for Json {
    fn from(value: &String) -> Self {
        Json::String(value.clone())
    }
}

impl From<bool> for Json {
    fn from(value: bool) -> Self {
        Json::Bool(value)
    }
}

impl From<i64> for Json {
    fn from(value: i64) -> Self {
        Json::Number(value.into())
    }
}

impl From<usize> for Json {
    fn from(value: usize) -> Self {
        Json::Number(value.into())
    }
}

impl From<Vec<Json>> for Json {
    fn from(value: Vec<Json>) -> Self {
        Json::Array(value)
    }
}

impl From<JsonObject> for Json {
    fn from(value: JsonObject) -> Self {
        Json::Object(value)
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(value: Option<T>) -> Self {
        value.map_or(Json::Null, Into::into)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    out.serialize_entry(key, value)?;
                }
                out.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        // JavaScript has one number type: 3600000.0 is printed back as 3600000.
        const SAFE: f64 = 9_007_199_254_740_992.0;
        if v.fract() == 0.0 && v.abs() <= SAFE {
            return Ok(Json::Number((v as i64).into()));
        }
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Json, A::Error> {
        let mut map = JsonObject::new();
        while let Some((key, value)) = access.next_entry::<String, Json>()? {
            // JSON.parse keeps the first position of a repeated key and its last value.
            map.insert(key, value);
        }
        Ok(Json::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_write_keep_key_order() {
        let text = r#"{"zeta":1,"alpha":{"b":true,"a":null},"mid":[1,"x"]}"#;
        let value = Json::parse(text.as_bytes()).expect("valid JSON");
        assert_eq!(value.to_text(), text);
    }

    #[test]
    fn integral_floats_are_written_as_javascript_does() {
        let value = Json::parse(b"[1.0, 2.5, -0.0, 1e3]").expect("valid JSON");
        assert_eq!(value.to_text(), "[1,2.5,0,1000]");
    }

    #[test]
    fn repeated_keys_keep_first_position_and_last_value() {
        let value = Json::parse(br#"{"a":1,"b":2,"a":3}"#).expect("valid JSON");
        assert_eq!(value.to_text(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn truthiness_follows_javascript() {
        for falsy in ["null", "false", "0", "\"\""] {
            let v = Json::parse(falsy.as_bytes()).expect("valid JSON");
            assert!(!v.is_truthy(), "{falsy} should be falsy");
        }
        for truthy in ["true", "1", "\"0\"", "[]", "{}"] {
            let v = Json::parse(truthy.as_bytes()).expect("valid JSON");
            assert!(v.is_truthy(), "{truthy} should be truthy");
        }
    }

    #[test]
    fn object_macro_keeps_written_order_and_converts_options() {
        let none: Option<String> = None;
        let value = json_object! { "id" => "x", "avatar" => none, "n" => 3i64, "ok" => true };
        assert_eq!(
            value.to_text(),
            r#"{"id":"x","avatar":null,"n":3,"ok":true}"#
        );
    }

    #[test]
    fn invalid_text_is_an_error() {
        assert!(Json::parse(b"{not json").is_err());
        assert!(Json::parse(b"").is_err());
    }
}
