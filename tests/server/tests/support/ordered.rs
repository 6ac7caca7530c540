//! An order-keeping JSON value for the golden comparison, written independently of the
//! server's own JSON type so that an ordering bug in one cannot hide in the other.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value; objects are lists of members in the order they were written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<V>),
    Obj(Vec<(String, V)>),
}

impl V {
    /// Parses JSON text.
    pub(crate) fn parse(text: &str) -> Result<V, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Compact JSON text, members in order.
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            V::Null => out.push_str("null"),
            V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            V::Num(n) => out.push_str(&n.to_string()),
            V::Str(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
            V::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            V::Obj(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }

    /// The member `key` of an object.
    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        match self {
            V::Obj(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Applies `f` to every string in the value (keys excluded).
    pub(crate) fn map_strings(&self, f: &dyn Fn(&str) -> String) -> V {
        match self {
            V::Str(s) => V::Str(f(s)),
            V::Arr(items) => V::Arr(items.iter().map(|i| i.map_strings(f)).collect()),
            V::Obj(members) => V::Obj(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.map_strings(f)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for V {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<V, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = V;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<V, E> {
                Ok(V::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<V, E> {
                Ok(V::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<V, E> {
                Ok(V::Num(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<V, E> {
                Ok(V::Num(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<V, E> {
                Ok(serde_json::Number::from_f64(n).map_or(V::Null, V::Num))
            }
            fn visit_str<E>(self, s: &str) -> Result<V, E> {
                Ok(V::Str(s.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(V::Arr(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V, A::Error> {
                let mut members = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    members.push((key, value));
                }
                Ok(V::Obj(members))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}
