//! Randomness for the browser: the platform's `crypto.getRandomValues` (through
//! `getrandom`), or — for deterministic tests only — a JavaScript function that supplies the
//! bytes.

use std::convert::Infallible;

use quickchat_core::rand_core::{TryCryptoRng, TryRng};
use wasm_bindgen::{JsCast, JsValue};

/// Where random bytes come from.
#[derive(Clone, Default)]
pub enum WebRng {
    /// `crypto.getRandomValues` (browsers, Node ≥ 19).
    #[default]
    System,
    /// A JavaScript function `(length) => Uint8Array`, called once per draw. Deterministic
    /// sources make keys predictable: this exists to replay recorded test vectors.
    Source(js_sys::Function),
}

impl std::fmt::Debug for WebRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebRng::System => f.write_str("WebRng::System"),
            WebRng::Source(_) => f.write_str("WebRng::Source(<function>)"),
        }
    }
}

impl WebRng {
    /// The JavaScript source in `value` if it is a function, else the system source.
    pub fn from_js(value: &JsValue) -> Self {
        match value.dyn_ref::<js_sys::Function>() {
            Some(function) => WebRng::Source(function.clone()),
            None => WebRng::System,
        }
    }

    fn fill(&mut self, dst: &mut [u8]) {
        match self {
            WebRng::System => {
                // There is no safe way to go on without randomness (as natively, where the
                // system generator's failure aborts the operation).
                if let Err(e) = getrandom::fill(dst) {
                    panic!("the platform's random source failed: {e}");
                }
            }
            WebRng::Source(function) => {
                let bytes = function
                    .call1(&JsValue::NULL, &JsValue::from(dst.len() as u32))
                    .ok()
                    .and_then(|v| v.dyn_into::<js_sys::Uint8Array>().ok());
                match bytes {
                    Some(bytes) if bytes.length() as usize == dst.len() => bytes.copy_to(dst),
                    _ => panic!(
                        "the random source function did not return a Uint8Array of {} bytes",
                        dst.len()
                    ),
                }
            }
        }
    }
}

impl TryRng for WebRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

impl TryCryptoRng for WebRng {}
