//! A password on its way to the backend: never printed, wiped from memory when dropped.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A password in a register or login request. It serializes as the plain JSON string the
/// backend reads, prints as `Password(<redacted>)` and overwrites its bytes when dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// The password itself, for the rare caller that must read it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Password {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

impl From<String> for Password {
    /// Takes the string's buffer over (no copy is left behind to wipe).
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_a_plain_string_and_never_prints() {
        let password = Password::from("hunter22");
        assert_eq!(serde_json::to_string(&password).unwrap(), "\"hunter22\"");
        let back: Password = serde_json::from_str("\"hunter22\"").unwrap();
        assert_eq!(back.expose(), "hunter22");
        assert_eq!(format!("{password:?}"), "Password(<redacted>)");
    }

    #[test]
    fn is_wiped_on_drop_and_on_demand() {
        fn wiped_on_drop<T: ZeroizeOnDrop>() {}
        wiped_on_drop::<Password>();
        let mut password = Password::from(String::from("hunter22"));
        password.zeroize();
        assert_eq!(password.expose(), "");
    }
}
