//! Serde forms of keys, for the platforms' stores: base64 strings, and small objects for
//! the prekeys. Serializing a private key writes it in the clear; stores encrypt the
//! serialized record before it touches a disk.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::{
    IdentityKeyPair, KeyPair, OneTimePrekey, PublicKey, SecretKey, SignedPrekey, SigningPublicKey,
};
use crate::encoding::{b64_decode_array, b64_encode};

fn b64_32<'de, D: Deserializer<'de>>(
    deserializer: D,
    field: &'static str,
) -> Result<Zeroizing<[u8; 32]>, D::Error> {
    let text = Zeroizing::new(String::deserialize(deserializer)?);
    b64_decode_array::<32>(field, &text)
        .map(Zeroizing::new)
        .map_err(D::Error::custom)
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(PublicKey::from_bytes(*b64_32(deserializer, "public key")?))
    }
}

impl Serialize for SigningPublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for SigningPublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(SigningPublicKey::from_bytes(*b64_32(
            deserializer,
            "signing key",
        )?))
    }
}

impl Serialize for SecretKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&Zeroizing::new(b64_encode(self.as_bytes())))
    }
}

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(SecretKey::from_bytes(*b64_32(deserializer, "secret key")?))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyPairForm {
    public_key: PublicKey,
    secret_key: SecretKey,
}

impl Serialize for KeyPair {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KeyPairForm {
            public_key: *self.public(),
            secret_key: self.secret().clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for KeyPair {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = KeyPairForm::deserialize(deserializer)?;
        KeyPair::from_parts(form.secret_key, form.public_key)
            .ok_or_else(|| D::Error::custom("key pair: public key does not match secret key"))
    }
}

impl Serialize for IdentityKeyPair {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&Zeroizing::new(b64_encode(self.seed())))
    }
}

impl<'de> Deserialize<'de> for IdentityKeyPair {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(IdentityKeyPair::from_seed(*b64_32(
            deserializer,
            "identity seed",
        )?))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedPrekeyForm {
    id: u32,
    pair: KeyPair,
    signature: String,
    created_at: i64,
}

impl Serialize for SignedPrekey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SignedPrekeyForm {
            id: self.id(),
            pair: self.pair().clone(),
            signature: b64_encode(self.signature()),
            created_at: self.created_at(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SignedPrekey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = SignedPrekeyForm::deserialize(deserializer)?;
        let signature =
            b64_decode_array::<64>("signature", &form.signature).map_err(D::Error::custom)?;
        Ok(SignedPrekey::from_parts(
            form.id,
            form.pair,
            signature,
            form.created_at,
        ))
    }
}

#[derive(Serialize, Deserialize)]
struct OneTimePrekeyForm {
    id: u32,
    pair: KeyPair,
}

impl Serialize for OneTimePrekey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        OneTimePrekeyForm {
            id: self.id(),
            pair: self.pair().clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for OneTimePrekey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = OneTimePrekeyForm::deserialize(deserializer)?;
        Ok(OneTimePrekey::from_parts(form.id, form.pair))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_json() {
        let identity = IdentityKeyPair::from_seed([7; 32]);
        let json = serde_json::to_string(&identity).unwrap();
        let back: IdentityKeyPair = serde_json::from_str(&json).unwrap();
        assert_eq!(back.public(), identity.public());

        let pair = KeyPair::from_secret(SecretKey::from_bytes([8; 32]));
        let json = serde_json::to_string(&pair).unwrap();
        assert_eq!(serde_json::from_str::<KeyPair>(&json).unwrap(), pair);

        let spk = SignedPrekey::from_parts(3, pair.clone(), [1; 64], 99);
        let json = serde_json::to_string(&spk).unwrap();
        assert_eq!(serde_json::from_str::<SignedPrekey>(&json).unwrap(), spk);
    }

    #[test]
    fn mismatched_pair_is_refused() {
        let a = KeyPair::from_secret(SecretKey::from_bytes([1; 32]));
        let b = KeyPair::from_secret(SecretKey::from_bytes([2; 32]));
        let json = format!(
            r#"{{"publicKey":"{}","secretKey":"{}"}}"#,
            b.public().to_base64(),
            b64_encode(a.secret().as_bytes())
        );
        assert!(serde_json::from_str::<KeyPair>(&json).is_err());
    }
}
