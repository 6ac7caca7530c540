//! Passwords and passphrases from the command line: never shown by `Debug`, wiped from
//! memory when dropped.

use std::convert::Infallible;
use std::str::FromStr;

use zeroize::Zeroizing;

/// A secret string (a password or the store's passphrase). `Debug` prints `<redacted>`;
/// the text is zeroized on drop. It serializes as the plain text: only for the daemon's
/// socket, which only this user can open.
#[derive(Clone, Default)]
pub(crate) struct Secret(Zeroizing<String>);

impl Secret {
    /// The text.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty (an empty variable counts as not given).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Self(Zeroizing::new(text)))
    }
}

impl FromStr for Secret {
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Self, Infallible> {
        Ok(Self(Zeroizing::new(text.to_string())))
    }
}
