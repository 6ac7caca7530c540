//! Where the vectors are and how to read them, for the vector suite (natively and on wasm32:
//! file access goes through the includer's `host` module).
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

/// The vector directory: `QC_VECTORS_DIR`, or the copy in the repository.
pub(crate) fn vectors_dir() -> PathBuf {
    match crate::host::var_os("QC_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(crate::host::CORE_DIR).join("../tests/data/vectors"),
    }
}

/// Whether the directory is the in-repo default (which must hold every kind of file).
pub(crate) fn using_default_dir() -> bool {
    crate::host::var_os("QC_VECTORS_DIR").is_none()
}

/// The kinds of vector file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Identity,
    X3dh,
    Conversation,
    WebStorageImport,
}

/// Recognises a vector file by its content, so renamed or additional files work too.
pub(crate) fn kind_of(value: &Value) -> Option<Kind> {
    if value.get("parties").is_some() && value.get("steps").is_some() {
        return Some(Kind::Conversation);
    }
    if value.get("snapshot").is_some() && value.get("afterSnapshot").is_some() {
        return Some(Kind::WebStorageImport);
    }
    let first = value.get("cases")?.as_array()?.first()?;
    if first.get("seed").is_some() {
        Some(Kind::Identity)
    } else if first.get("initiator").is_some() {
        Some(Kind::X3dh)
    } else {
        None
    }
}

/// Every `*.json` in the vector directory, parsed, sorted by file name.
pub(crate) fn all_files() -> Vec<(PathBuf, Value)> {
    let dir = vectors_dir();
    let entries = crate::host::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read vector directory {}: {e}", dir.display()));
    let mut files: Vec<(PathBuf, Value)> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = crate::host::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            (p, value)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!files.is_empty(), "no vector files in {}", dir.display());
    files
}

/// The files of one kind.
pub(crate) fn files_of(kind: Kind) -> Vec<(PathBuf, Value)> {
    all_files()
        .into_iter()
        .filter(|(_, v)| kind_of(v) == Some(kind))
        .collect()
}

/// Lower-case hex to bytes.
pub(crate) fn hex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap_or_else(|e| panic!("bad hex {text:?}: {e}"))
}

/// Lower-case hex to 32 bytes.
pub(crate) fn hex32(text: &str) -> [u8; 32] {
    hex(text).try_into().expect("32 bytes")
}

/// A string field.
pub(crate) fn s<'a>(value: &'a Value, key: &str) -> &'a str {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string field {key} in {value}"))
}

/// The `draws` of an operation.
pub(crate) fn draws(value: &Value) -> Vec<Vec<u8>> {
    value
        .get("draws")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|d| hex(d.as_str().expect("hex draw")))
                .collect()
        })
        .unwrap_or_default()
}
