//! Hazardous materials: the Double Ratchet's raw symmetric keys.
//!
//! Nothing an application needs: sessions keep these keys inside [`RatchetState`] and
//! [`SessionEngine`](crate::SessionEngine). They are here for tools that must compute the
//! reference client's derivations step by step (test peers, vector generators). Their byte
//! accessors hand out key material: never log, print or persist it unsealed.
//!
//! [`RatchetState`]: crate::ratchet::RatchetState

pub use crate::ratchet::keys::{ChainKey, MessageKey, RootKey};
