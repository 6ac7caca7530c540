//! Fingerprints: what two people compare to know they talk to each other's keys.

use std::fmt;

use super::PublicKey;
use crate::encoding::upper_hex;

/// Number of hex characters in a fingerprint.
pub(super) const FINGERPRINT_LEN: usize = 60;

/// A text that is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    /// Not 60 hexadecimal digits once spaces are removed.
    #[error("a fingerprint is 60 hexadecimal digits (spaces allowed), got {found} characters")]
    Malformed {
        /// Number of non-space characters found.
        found: usize,
    },
}

/// The first 60 characters of the upper-case hex SHA-256 of an X25519 identity key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of an identity key.
    pub fn of(identity_key: &PublicKey) -> Self {
        let digest = quickchat_primitives::sha256(identity_key.as_bytes());
        let mut hex = upper_hex(&digest);
        hex.truncate(FINGERPRINT_LEN);
        Self(hex)
    }

    /// Parses the compact or the grouped form, in either case.
    pub fn parse(text: &str) -> Result<Self, FingerprintError> {
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let found = compact.chars().count();
        if found != FINGERPRINT_LEN || !compact.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(FingerprintError::Malformed { found });
        }
        Ok(Self(compact))
    }

    /// The 60-character form sent to the backend.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to people: 12 groups of 5 characters separated by spaces.
    pub fn grouped(&self) -> String {
        let mut out = String::with_capacity(FINGERPRINT_LEN + 11);
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i % 5 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_form_has_twelve_groups_of_five() {
        let fp = Fingerprint::of(&PublicKey::from_bytes([1; 32]));
        let grouped = fp.grouped();
        let groups: Vec<&str> = grouped.split(' ').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups.iter().all(|g| g.len() == 5));
        assert_eq!(groups.concat(), fp.as_str());
    }

    #[test]
    fn parse_accepts_both_forms() {
        let fp = Fingerprint::of(&PublicKey::from_bytes([2; 32]));
        assert_eq!(Fingerprint::parse(&fp.grouped()).unwrap(), fp);
        assert_eq!(Fingerprint::parse(&fp.as_str().to_lowercase()).unwrap(), fp);
        assert_eq!(
            Fingerprint::parse("ABC"),
            Err(FingerprintError::Malformed { found: 3 })
        );
        assert!(Fingerprint::parse(&"G".repeat(60)).is_err());
    }
}
