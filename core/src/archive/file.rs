//! The archive's bytes: the clear header, then the sealed account (see the module docs).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use super::{AccountArchive, ArchiveError};
use crate::store::StoreError;
use crate::store::sealing::{
    KdfParams, KdfStrength, NewStoreKey, new_store_key, to_json_zeroizing, unlock,
};

/// The first bytes of every account file.
pub const MAGIC: &[u8; 8] = b"QCACCT\0\n";
/// The format version this build writes, and the newest it reads.
pub const FORMAT_VERSION: u16 = 1;
/// A header longer than this is not one this SDK wrote (it holds a salt, four numbers and a
/// check value).
const MAX_HEADER_LEN: usize = 4096;
const PREFIX_LEN: usize = MAGIC.len() + 2 + 4;

/// The clear header: what opening needs before the key exists.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    kdf: KdfParams,
    check: String,
}

/// Seals `archive` under `passphrase` (Argon2id of `strength`, a fresh salt).
pub fn seal_archive<R: CryptoRng + ?Sized>(
    archive: &AccountArchive,
    passphrase: &str,
    strength: KdfStrength,
    rng: &mut R,
) -> Result<Vec<u8>, ArchiveError> {
    let NewStoreKey { params, check, key } = new_store_key(passphrase, strength, rng)?;
    let header = serde_json::to_vec(&Header {
        kdf: params,
        check: STANDARD.encode(check),
    })
    .map_err(|e| serializing("the header", e))?;
    let header_len = u32::try_from(header.len()).map_err(|e| serializing("the header", e))?;
    let mut out = Vec::with_capacity(PREFIX_LEN + header.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&header_len.to_be_bytes());
    out.extend_from_slice(&header);
    let payload = to_json_zeroizing(archive).map_err(|e| serializing("the account", e))?;
    let sealed = key.seal(&out, &payload, rng);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens an account file: [`ArchiveError::Damaged`] for anything that is not an intact
/// account file, [`ArchiveError::NewerVersion`] for a newer format,
/// [`ArchiveError::WrongPassphrase`] when the passphrase does not open it.
pub fn open_archive(bytes: &[u8], passphrase: &str) -> Result<AccountArchive, ArchiveError> {
    let damaged = |detail: &str| ArchiveError::Damaged {
        detail: detail.to_string(),
    };
    let (magic, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or_else(|| damaged("too short"))?;
    if magic != MAGIC {
        return Err(damaged("not an account file (wrong magic bytes)"));
    }
    let (version, rest) = rest
        .split_first_chunk::<2>()
        .ok_or_else(|| damaged("too short"))?;
    let version = u16::from_be_bytes(*version);
    if version > FORMAT_VERSION {
        return Err(ArchiveError::NewerVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version == 0 {
        return Err(damaged("format version 0"));
    }
    let (header_len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| damaged("too short"))?;
    let header_len = usize::try_from(u32::from_be_bytes(*header_len)).unwrap_or(usize::MAX);
    if header_len > MAX_HEADER_LEN || header_len > rest.len() {
        return Err(damaged("header length out of range"));
    }
    let (header_bytes, sealed) = rest.split_at(header_len);
    // Read as text, as every other JSON of the browser's modules is: `from_slice` would bring
    // serde_json's second reader (and every record's deserializer for it) into them.
    let header_text =
        std::str::from_utf8(header_bytes).map_err(|_| damaged("header is not UTF-8 text"))?;
    let header: Header = serde_json::from_str(header_text)
        .map_err(|e| damaged(&format!("header not readable: {e}")))?;
    let check = STANDARD
        .decode(&header.check)
        .map_err(|_| damaged("header check value is not base64"))?;
    let key = unlock(passphrase, &header.kdf, &check).map_err(|e| match e {
        StoreError::WrongPassphrase => ArchiveError::WrongPassphrase,
        StoreError::Corrupt { detail, .. } => ArchiveError::Damaged { detail },
        other => other.into(),
    })?;
    let aad = &bytes[..PREFIX_LEN + header_len];
    let payload = key
        .open(aad, sealed)
        .map_err(|_| damaged("the sealed account does not open: damaged or cut short"))?;
    let text = std::str::from_utf8(&payload).map_err(|_| damaged("account is not UTF-8 text"))?;
    serde_json::from_str(text).map_err(|e| damaged(&format!("account not readable: {e}")))
}

fn serializing(what: &str, e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Store(StoreError::Backend {
        context: format!("serializing {what}"),
        detail: e.to_string(),
    })
}
