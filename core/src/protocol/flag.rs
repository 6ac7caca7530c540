//! SQLite booleans: the backend sends `0`/`1` integers where JSON would use `true`/`false`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A boolean carried as `0`/`1` (also accepts `true`/`false` when reading).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IntFlag(pub bool);

impl Serialize for IntFlag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(u8::from(self.0))
    }
}

impl<'de> Deserialize<'de> for IntFlag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Int(i64),
        }
        Ok(IntFlag(match Raw::deserialize(deserializer)? {
            Raw::Bool(b) => b,
            Raw::Int(i) => i != 0,
        }))
    }
}

impl From<bool> for IntFlag {
    fn from(value: bool) -> Self {
        IntFlag(value)
    }
}

impl From<IntFlag> for bool {
    fn from(value: IntFlag) -> Self {
        value.0
    }
}
