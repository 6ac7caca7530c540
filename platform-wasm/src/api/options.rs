//! Options objects passed from JavaScript.

#[cfg(feature = "client")]
use std::collections::HashSet;

#[cfg(feature = "client")]
use quickchat_core::client::{Backoff, CatchUpScope, ClientConfig};
use quickchat_core::quoted::Quoted;
use quickchat_core::x3dh::OneTimePrekeyUse;
use wasm_bindgen::JsValue;

use super::fields::Fields;
use crate::error::{Error, Result};
use crate::rng::WebRng;
use crate::store::KdfStrength;
use crate::transport::WebTransport;

/// Where a client keeps its keys, sessions and history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// An encrypted IndexedDB database (browsers).
    Indexeddb,
    /// Memory only: everything is lost when the page or process ends.
    Memory,
}

/// Reconnection delays.
#[cfg(feature = "client")]
#[derive(Clone, Copy, Debug)]
pub struct BackoffOptions {
    initial_ms: Option<u64>,
    max_ms: Option<u64>,
    jitter: Option<f64>,
}

/// Storage, server and behaviour options (the data fields of the options object, by their
/// `camelCase` names). The drop-in's module (without the feature `client`) reads only the
/// fields it uses; the client's are ignored there, as any unknown field is.
#[derive(Default)]
pub struct Options {
    /// Server origin; empty or absent: the page's origin.
    pub server: Option<String>,
    #[cfg(feature = "client")]
    /// WebSocket URL other than `<server>/ws`.
    pub websocket_url: Option<String>,
    /// Where to keep data.
    pub storage: Option<Storage>,
    /// IndexedDB database name.
    pub database_name: Option<String>,
    /// Passphrase of the IndexedDB store.
    pub passphrase: Option<String>,
    /// `"recommended"` or `"insecure-for-tests"`.
    pub kdf: Option<String>,
    #[cfg(feature = "client")]
    /// `"known-peers"` (the default: known peers on every connect, new ones by the
    /// background directory scan) or `"all-users"` (every user on every connect).
    pub catch_up: Option<String>,
    #[cfg(feature = "client")]
    /// Reconnection delays.
    pub backoff: Option<BackoffOptions>,
    #[cfg(feature = "client")]
    /// Heartbeat interval, ms.
    pub keepalive_interval_ms: Option<u64>,
    #[cfg(feature = "client")]
    /// Heartbeat timeout, ms.
    pub keepalive_timeout_ms: Option<u64>,
    #[cfg(feature = "client")]
    /// Prekey re-check interval, ms.
    pub prekey_check_interval_ms: Option<u64>,
    #[cfg(feature = "client")]
    /// Peers plaintext may go to when they have no keys.
    pub allow_plaintext_to: Vec<String>,
    #[cfg(feature = "client")]
    /// Keep the password to renew the login.
    pub remember_password: Option<bool>,
    /// `"when-available"` or `"never"`.
    pub one_time_prekeys: Option<String>,
}

/// A duration option: whole milliseconds, up to JavaScript's largest exact integer.
#[cfg(feature = "client")]
const MAX_MS: f64 = 9_007_199_254_740_991.0;
#[cfg(feature = "client")]
const MS: &str = "a whole number of milliseconds";

impl Options {
    /// Reads the data fields of an options object, read one by one from the object itself
    /// (no JSON in between: its functions and other fields are left alone). `undefined` or
    /// `null`, for the object or a field, means the defaults.
    fn read(value: &JsValue) -> Result<Self> {
        if value.is_undefined() || value.is_null() {
            return Ok(Self::default());
        }
        let fields = Fields::of(value, "options")?;
        Ok(Self {
            server: fields.string("server")?,
            #[cfg(feature = "client")]
            websocket_url: fields.string("websocketUrl")?,
            storage: match fields.string("storage")?.as_deref() {
                None => None,
                Some("indexeddb") => Some(Storage::Indexeddb),
                Some("memory") => Some(Storage::Memory),
                Some(other) => {
                    return Err(Error::invalid(
                        "storage",
                        format!("{} is not \"indexeddb\" or \"memory\"", Quoted(other)),
                    ));
                }
            },
            database_name: fields.string("databaseName")?,
            passphrase: fields.string("passphrase")?,
            kdf: fields.string("kdf")?,
            #[cfg(feature = "client")]
            catch_up: fields.string("catchUp")?,
            #[cfg(feature = "client")]
            backoff: match fields.object("backoff")? {
                None => None,
                Some(backoff) => {
                    let backoff = Fields::of(&backoff, "options")?;
                    Some(BackoffOptions {
                        initial_ms: backoff.whole("initialMs", MAX_MS, MS)?,
                        max_ms: backoff.whole("maxMs", MAX_MS, MS)?,
                        jitter: backoff.number("jitter")?,
                    })
                }
            },
            #[cfg(feature = "client")]
            keepalive_interval_ms: fields.whole("keepaliveIntervalMs", MAX_MS, MS)?,
            #[cfg(feature = "client")]
            keepalive_timeout_ms: fields.whole("keepaliveTimeoutMs", MAX_MS, MS)?,
            #[cfg(feature = "client")]
            prekey_check_interval_ms: fields.whole("prekeyCheckIntervalMs", MAX_MS, MS)?,
            #[cfg(feature = "client")]
            allow_plaintext_to: fields.strings("allowPlaintextTo")?,
            #[cfg(feature = "client")]
            remember_password: fields.boolean("rememberPassword")?,
            one_time_prekeys: fields.string("oneTimePrekeys")?,
        })
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("server", &self.server)
            .field("storage", &self.storage)
            .field("database_name", &self.database_name)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// The options object: its JSON-like fields and its functions.
#[derive(Debug)]
pub struct ParsedOptions {
    /// The JSON-like fields.
    pub options: Options,
    /// `WebSocket`: a WebSocket constructor (Node).
    pub websocket: Option<js_sys::Function>,
    /// `randomSource`: `(length) => Uint8Array` (deterministic tests only).
    pub rng: WebRng,
}

fn function_field(value: &JsValue, name: &str) -> Option<js_sys::Function> {
    crate::realm::function(&crate::realm::field(value, name))
}

impl ParsedOptions {
    /// Reads an options object (`undefined` gives the defaults).
    pub fn parse(value: &JsValue) -> Result<Self> {
        let options = Options::read(value)?;
        let (websocket, rng) = if value.is_object() {
            (
                function_field(value, "WebSocket"),
                function_field(value, "randomSource")
                    .map(WebRng::Source)
                    .unwrap_or_default(),
            )
        } else {
            (None, WebRng::System)
        };
        Ok(Self {
            options,
            websocket,
            rng,
        })
    }

    /// The transport the options describe.
    pub fn transport(&self) -> Result<WebTransport> {
        let mut transport = WebTransport::new(self.options.server.as_deref().unwrap_or(""))?;
        #[cfg(feature = "client")]
        if let Some(url) = &self.options.websocket_url {
            transport = transport.with_websocket_url(url.clone());
        }
        if let Some(constructor) = &self.websocket {
            transport = transport.with_websocket_constructor(constructor.clone());
        }
        Ok(transport)
    }

    /// The storage to use: as asked, else IndexedDB where there is one, else memory.
    pub fn storage(&self) -> Storage {
        self.options.storage.unwrap_or_else(|| {
            let has_idb = js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into())
                .is_ok_and(|v| !v.is_undefined() && !v.is_null());
            if has_idb {
                Storage::Indexeddb
            } else {
                Storage::Memory
            }
        })
    }

    /// The KDF strength of a new store.
    pub fn kdf(&self) -> Result<KdfStrength> {
        match self.options.kdf.as_deref() {
            None | Some("recommended") => Ok(KdfStrength::Recommended),
            Some("insecure-for-tests") => Ok(KdfStrength::InsecureForTests),
            Some(other) => Err(Error::invalid(
                "kdf",
                format!(
                    "{} is not \"recommended\" or \"insecure-for-tests\"",
                    Quoted(other)
                ),
            )),
        }
    }

    /// Whether sessions this device starts mix in one-time prekeys.
    pub fn one_time_prekeys(&self) -> Result<OneTimePrekeyUse> {
        match self.options.one_time_prekeys.as_deref() {
            Some("when-available") => Ok(OneTimePrekeyUse::WhenAvailable),
            None | Some("never") => Ok(OneTimePrekeyUse::Never),
            Some(other) => Err(Error::invalid(
                "oneTimePrekeys",
                format!("{} is not \"when-available\" or \"never\"", Quoted(other)),
            )),
        }
    }

    /// The client settings the options describe.
    #[cfg(feature = "client")]
    pub fn client_config(&self) -> Result<ClientConfig> {
        let o = &self.options;
        let mut config = ClientConfig::default();
        config.session.one_time_prekey_use = self.one_time_prekeys()?;
        if let Some(b) = o.backoff {
            let defaults = Backoff::default();
            config.backoff = Backoff {
                initial_ms: b.initial_ms.unwrap_or(defaults.initial_ms),
                max_ms: b.max_ms.unwrap_or(defaults.max_ms),
                jitter: b.jitter.unwrap_or(defaults.jitter),
            };
        }
        if let Some(ms) = o.keepalive_interval_ms {
            config.keepalive_interval_ms = ms;
        }
        if let Some(ms) = o.keepalive_timeout_ms {
            config.keepalive_timeout_ms = ms;
        }
        if let Some(ms) = o.prekey_check_interval_ms {
            config.prekey_check_interval_ms = ms;
        }
        config.catch_up = match o.catch_up.as_deref() {
            Some("all-users") => CatchUpScope::AllUsers,
            None | Some("known-peers") => CatchUpScope::KnownPeers,
            Some(other) => {
                return Err(Error::invalid(
                    "catchUp",
                    format!("{} is not \"all-users\" or \"known-peers\"", Quoted(other)),
                ));
            }
        };
        config.plaintext_allowed = o.allow_plaintext_to.iter().cloned().collect::<HashSet<_>>();
        if let Some(remember) = o.remember_password {
            config.remember_password = remember;
        }
        Ok(config)
    }
}
