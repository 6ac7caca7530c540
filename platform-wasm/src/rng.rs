//! Randomness for the browser: the platform's `crypto.getRandomValues` (through
//! `getrandom`), or — for deterministic tests only — a JavaScript function that supplies the
//! bytes.
//!
//! A call into JavaScript for each draw would cost more than the encryption it serves (a
//! message needs one 24-byte nonce), so system randomness is fetched 8 KiB at a time into a
//! pool in WebAssembly memory and handed out from there; every byte handed out is wiped from
//! the pool at once, so the pool never holds a draw that was already used. (A refill costs
//! about as much for 8 KiB as for 1 KiB: with 1 KiB, refills were 3 % of a drop-in
//! encryption.)

use std::cell::RefCell;
use std::convert::Infallible;

use quickchat_core::rand_core::{TryCryptoRng, TryRng};
use wasm_bindgen::JsValue;

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
        match crate::realm::function(value) {
            Some(function) => WebRng::Source(function),
            None => WebRng::System,
        }
    }

    fn fill(&mut self, dst: &mut [u8]) {
        match self {
            WebRng::System => POOL.with(|pool| pool.borrow_mut().fill(dst)),
            WebRng::Source(function) => {
                let bytes = function
                    .call1(&JsValue::NULL, &JsValue::from(dst.len() as u32))
                    .ok()
                    .and_then(|v| crate::realm::uint8_array(&v));
                match bytes {
                    Some(bytes) if bytes.length() as usize == dst.len() => bytes.copy_to(dst),
                    // No input from JavaScript may stop the module, and a draw cannot fail
                    // here: the system's randomness stands in (the keys stay secret; only the
                    // replay the source was for is lost), and the console says so.
                    _ => {
                        web_sys::console::error_1(&JsValue::from_str(&format!(
                            "quickchat: randomSource did not return a Uint8Array of {} bytes; \
                             system randomness used instead",
                            dst.len()
                        )));
                        POOL.with(|pool| pool.borrow_mut().fill(dst));
                    }
                }
            }
        }
    }
}

const POOL_SIZE: usize = 8192;

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; POOL_SIZE], next: POOL_SIZE }) };
}

/// System randomness not handed out yet: `bytes[next..]`.
struct Pool {
    bytes: [u8; POOL_SIZE],
    next: usize,
}

/// There is no safe way to go on without randomness (as natively, where the system
/// generator's failure aborts the operation).
#[expect(
    clippy::panic,
    reason = "RngCore::fill_bytes cannot report a failure; going on without randomness is worse"
)]
fn system_fill(dst: &mut [u8]) {
    if let Err(e) = getrandom::fill(dst) {
        panic!("the platform's random source failed: {e}");
    }
}

impl Pool {
    fn fill(&mut self, dst: &mut [u8]) {
        if dst.len() > POOL_SIZE / 4 {
            system_fill(dst);
            return;
        }
        let mut filled = 0;
        while filled < dst.len() {
            if self.next == POOL_SIZE {
                system_fill(&mut self.bytes);
                self.next = 0;
            }
            let take = (dst.len() - filled).min(POOL_SIZE - self.next);
            let source = &mut self.bytes[self.next..self.next + take];
            dst[filled..filled + take].copy_from_slice(source);
            zeroize::Zeroize::zeroize(source);
            self.next += take;
            filled += take;
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
