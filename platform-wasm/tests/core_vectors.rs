//! Core's vector suite (`core/tests/vectors.rs`, unchanged but for how it reads files) on
//! wasm32, in Node: keys, X3DH both ways, the whole conversation byte for byte, continuing
//! from every reference ratchet state, and the web-storage import — computed by the same core
//! compiled to WebAssembly. `QC_VECTORS_DIR` is honoured as natively (read from Node's
//! environment at run time).
//!
//! Run: `scripts/wasm-test-node.sh` (or the wasm32 `cargo test` it runs, with
//! `wasm-bindgen-test-runner` as the runner).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// File and environment access through Node, in the shapes the suite uses from std.
mod host {
    use std::ffi::OsString;
    use std::io;
    use std::path::{Path, PathBuf};

    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "fs")]
    extern "C" {
        #[wasm_bindgen(js_name = readdirSync, catch)]
        fn readdir_sync(path: &str) -> Result<js_sys::Array, JsValue>;
        #[wasm_bindgen(js_name = readFileSync, catch)]
        fn read_file_sync(path: &str, encoding: &str) -> Result<String, JsValue>;
    }

    /// Core's directory, where the default vector directory is found.
    pub(crate) const CORE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core");

    fn io_error(e: JsValue) -> io::Error {
        let message = js_sys::Reflect::get(&e, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_else(|| format!("{e:?}"));
        io::Error::other(message)
    }

    /// A directory entry.
    pub(crate) struct Entry(PathBuf);

    impl Entry {
        pub(crate) fn path(&self) -> PathBuf {
            self.0.clone()
        }
    }

    pub(crate) fn read_dir(
        path: impl AsRef<Path>,
    ) -> io::Result<std::vec::IntoIter<io::Result<Entry>>> {
        let dir = path.as_ref();
        let names = readdir_sync(&dir.display().to_string()).map_err(io_error)?;
        Ok(names
            .iter()
            .filter_map(|n| n.as_string())
            .map(|name| Ok(Entry(dir.join(name))))
            .collect::<Vec<_>>()
            .into_iter())
    }

    pub(crate) fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
        read_file_sync(&path.as_ref().display().to_string(), "utf8").map_err(io_error)
    }

    pub(crate) fn var_os(name: &str) -> Option<OsString> {
        let process = js_sys::Reflect::get(&js_sys::global(), &"process".into()).ok()?;
        let env = js_sys::Reflect::get(&process, &"env".into()).ok()?;
        js_sys::Reflect::get(&env, &name.into())
            .ok()?
            .as_string()
            .map(OsString::from)
    }
}

#[path = "../../core/tests/vectors/common.rs"]
mod common;

use wasm_bindgen_test::wasm_bindgen_test as test;

include!("../../core/tests/vectors/suite.rs");
