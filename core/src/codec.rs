//! The pieces of core's binary record forms ([`crate::session::binary`] for sessions,
//! [`crate::store::binary`] for the key records): integers big-endian, 32-byte keys as raw
//! bytes, `opt<T>` as a byte 0 or 1 then `T` if 1, strings as a `u32` length then UTF-8.
//! Writers fill a buffer that is zeroized on drop (records hold private keys); readers
//! refuse anything truncated, left over or out of range, never panic.

use zeroize::Zeroizing;

use crate::keys::PublicKey;

/// Bytes in a key.
pub(crate) const KEY: usize = 32;

/// Why a record in one of core's binary forms (or the JSON form before it) cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The record ends inside a field.
    #[error("record is truncated")]
    Truncated,
    /// Bytes are left after the record.
    #[error("record has {0} bytes after its end")]
    TrailingBytes(usize),
    /// A field holds a value it cannot hold.
    #[error("record: invalid {0}")]
    Invalid(&'static str),
    /// An unknown first byte.
    #[error("record of unknown version {0}")]
    UnknownVersion(u8),
    /// The JSON form does not parse.
    #[error("record (JSON): {0}")]
    Json(String),
    /// A record in the JSON form, in a build without its reader.
    #[error("record in the JSON form of older stores, which this build does not read")]
    JsonNotRead,
}

/// Writes a record in a binary form.
pub struct Writer(pub(crate) Zeroizing<Vec<u8>>);

impl Writer {
    /// A writer whose buffer holds `capacity` bytes before it grows: callers pass an upper
    /// bound of the record's size, so no stray copy of a secret is left by a reallocation.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self(Zeroizing::new(Vec::with_capacity(capacity)))
    }

    pub(crate) fn finish(self) -> Zeroizing<Vec<u8>> {
        self.0
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn flag(&mut self, v: bool) {
        self.byte(u8::from(v));
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    pub(crate) fn key(&mut self, key: &[u8; KEY]) {
        self.raw(key);
    }

    pub(crate) fn opt<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Self, T)) {
        match value {
            None => self.byte(0),
            Some(v) => {
                self.byte(1);
                write(self, v);
            }
        }
    }

    pub(crate) fn bytes_with_len(&mut self, bytes: &[u8]) {
        // Nothing longer than 4 GiB reaches a record.
        self.u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        self.raw(bytes);
    }

    pub(crate) fn str(&mut self, text: &str) {
        self.bytes_with_len(text.as_bytes());
    }
}

/// Reads a record in a binary form.
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.0.len()
    }

    /// Refuses bytes left after the record.
    pub(crate) fn end(&self) -> Result<(), CodecError> {
        match self.0.len() {
            0 => Ok(()),
            left => Err(CodecError::TrailingBytes(left)),
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.0.len() < n {
            return Err(CodecError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    pub(crate) fn byte(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, CodecError> {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(bytes))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, CodecError> {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(self.take(8)?);
        Ok(i64::from_be_bytes(bytes))
    }

    /// A key's bytes, in a buffer zeroized on drop (they may be secret).
    pub(crate) fn key(&mut self) -> Result<Zeroizing<[u8; KEY]>, CodecError> {
        let mut key = Zeroizing::new([0u8; KEY]);
        key.copy_from_slice(self.take(KEY)?);
        Ok(key)
    }

    pub(crate) fn public(&mut self) -> Result<PublicKey, CodecError> {
        Ok(PublicKey::from_bytes(*self.key()?))
    }

    pub(crate) fn flag(&mut self, what: &'static str) -> Result<bool, CodecError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(CodecError::Invalid(what)),
        }
    }

    pub(crate) fn opt<T>(
        &mut self,
        what: &'static str,
        read: impl FnOnce(&mut Self) -> Result<T, CodecError>,
    ) -> Result<Option<T>, CodecError> {
        if self.flag(what)? {
            read(self).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn bytes_with_len(&mut self) -> Result<&'a [u8], CodecError> {
        let len = usize::try_from(self.u32()?).map_err(|_| CodecError::Truncated)?;
        self.take(len)
    }

    pub(crate) fn string(&mut self, what: &'static str) -> Result<String, CodecError> {
        String::from_utf8(self.bytes_with_len()?.to_vec()).map_err(|_| CodecError::Invalid(what))
    }
}
