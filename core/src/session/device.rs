//! [`Device`]: this device's keys at work — the session engine and the random source it
//! draws from, held together, and the one way a session is started from a peer's bundle.
//!
//! The full client ([`crate::Client`]) and the browser's drop-in for the web client's crypto
//! layer each keep one `Device` behind their own async lock, so that a crypto operation and
//! the writes that follow it never interleave with another. Both start sessions through
//! [`Device::session_from_bundle`] and follow a peer's reset through
//! [`Device::follow_published_identity`]; what differs between them (when a bundle is fetched,
//! how an identity change is reported) stays with them.

use rand_core::CryptoRng;

use super::{IdentityChange, SessionConfig, SessionEngine, SessionError};
use crate::store::Store;
use crate::x3dh::PrekeyBundle;

/// Why a [`Device`] operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The device has no open engine: no account yet, or it was closed (after a reset, an
    /// export or an import).
    #[error("the device is not open: no account is loaded")]
    Closed,
    /// The session engine failed.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// The session engine (once an account is loaded) and the random source.
pub struct Device<S, R> {
    engine: Option<SessionEngine<S>>,
    rng: R,
}

impl<S, R> std::fmt::Debug for Device<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("open", &self.engine.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: Store, R: CryptoRng> Device<S, R> {
    /// A device with no engine yet, drawing from `rng`.
    pub fn new(rng: R) -> Self {
        Self { engine: None, rng }
    }

    /// Opens the engine over `store`'s account, unless it is open already.
    pub async fn open(&mut self, store: S, config: SessionConfig) -> Result<(), SessionError> {
        if self.engine.is_none() {
            self.engine = Some(SessionEngine::open(store, config).await?);
        }
        Ok(())
    }

    /// Drops the engine (and its cached sessions): after the store's account was reset,
    /// exported or replaced, nothing may go on from the old state.
    pub fn close(&mut self) {
        self.engine = None;
    }

    /// Whether the engine is open.
    pub fn is_open(&self) -> bool {
        self.engine.is_some()
    }

    /// The random source (also while the engine is closed: account creation needs it).
    pub fn rng(&mut self) -> &mut R {
        &mut self.rng
    }

    /// The engine and the random source, borrowed together.
    pub fn parts(&mut self) -> Result<(&mut SessionEngine<S>, &mut R), DeviceError> {
        let engine = self.engine.as_mut().ok_or(DeviceError::Closed)?;
        Ok((engine, &mut self.rng))
    }

    /// Whether there is a session with `peer_id`.
    pub async fn has_session(&mut self, peer_id: &str) -> Result<bool, DeviceError> {
        Ok(self.parts()?.0.has_session(peer_id).await?)
    }

    /// Starts a session with `peer_id` from `bundle`, unless there is one (a first message
    /// from the peer may have made one while the bundle was being fetched: that one is
    /// kept). Returns the identity change the bundle shows, if any, for the caller to
    /// report.
    pub async fn session_from_bundle(
        &mut self,
        peer_id: &str,
        bundle: &PrekeyBundle,
        now: i64,
    ) -> Result<Option<IdentityChange>, DeviceError> {
        let (engine, rng) = self.parts()?;
        if engine.has_session(peer_id).await? {
            return Ok(None);
        }
        Ok(engine.start_session(peer_id, bundle, now, rng).await?)
    }

    /// When `bundle` (just fetched) publishes another identity than the one the current
    /// session with `peer_id` was agreed with — the peer reset or re-installed, and the
    /// session talks to keys it no longer has — starts a new session from it. Returns the
    /// identity change, if any. No session: nothing to follow.
    pub async fn follow_published_identity(
        &mut self,
        peer_id: &str,
        bundle: &PrekeyBundle,
        now: i64,
    ) -> Result<Option<IdentityChange>, DeviceError> {
        let (engine, rng) = self.parts()?;
        let Some(summary) = engine.session_summary(peer_id).await? else {
            return Ok(None);
        };
        if summary.remote_identity_key == bundle.identity.dh {
            return Ok(None);
        }
        Ok(engine.start_session(peer_id, bundle, now, rng).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_executor::block_on;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::account::create_account;
    use crate::store::MemoryStore;

    type TestDevice = Device<Arc<MemoryStore>, ChaCha20Rng>;

    /// A new account's store and its open device.
    fn account(user: &str, seed: u64) -> (Arc<MemoryStore>, TestDevice) {
        let store = Arc::new(MemoryStore::new());
        let mut device = Device::new(ChaCha20Rng::seed_from_u64(seed));
        block_on(create_account(&store, user, 1_000, device.rng())).unwrap();
        block_on(device.open(Arc::clone(&store), SessionConfig::default())).unwrap();
        (store, device)
    }

    /// The account's bundle as the backend hands it out (without a one-time prekey).
    fn bundle_of(store: &MemoryStore) -> PrekeyBundle {
        let identity = block_on(store.identity()).unwrap().unwrap();
        let signed = block_on(store.signed_prekeys()).unwrap().remove(0);
        PrekeyBundle {
            identity: *identity.identity.public(),
            signed_prekey: Some(signed.prekey.public()),
            one_time_prekey: None,
        }
    }

    fn remote_key(device: &mut TestDevice, peer: &str) -> Option<crate::keys::PublicKey> {
        let (engine, _) = device.parts().unwrap();
        block_on(engine.session_summary(peer))
            .unwrap()
            .map(|s| s.remote_identity_key)
    }

    #[test]
    fn a_closed_device_refuses_and_an_open_one_starts_a_session_once() {
        let (_, mut alice) = account("alice", 1);
        let (bob_store, _) = account("bob", 2);
        let bundle = bundle_of(&bob_store);

        let mut closed: TestDevice = Device::new(ChaCha20Rng::seed_from_u64(3));
        assert!(matches!(
            block_on(closed.session_from_bundle("bob", &bundle, 2_000)),
            Err(DeviceError::Closed)
        ));

        assert!(!block_on(alice.has_session("bob")).unwrap());
        let change = block_on(alice.session_from_bundle("bob", &bundle, 2_000)).unwrap();
        assert!(change.is_none(), "a first bundle is no change");
        assert_eq!(remote_key(&mut alice, "bob"), Some(bundle.identity.dh));

        // Another bundle while a session exists starts nothing: the session stays.
        let (other_store, _) = account("bob", 4);
        let other = bundle_of(&other_store);
        let change = block_on(alice.session_from_bundle("bob", &other, 3_000)).unwrap();
        assert!(change.is_none());
        assert_eq!(remote_key(&mut alice, "bob"), Some(bundle.identity.dh));

        alice.close();
        assert!(!alice.is_open());
        assert!(matches!(
            block_on(alice.has_session("bob")),
            Err(DeviceError::Closed)
        ));
    }

    #[test]
    fn a_new_published_identity_starts_a_new_session_and_is_reported() {
        let (_, mut alice) = account("alice", 1);
        let (bob_store, _) = account("bob", 2);
        let old = bundle_of(&bob_store);
        block_on(alice.session_from_bundle("bob", &old, 2_000)).unwrap();

        // The same identity published again: nothing to follow.
        let change = block_on(alice.follow_published_identity("bob", &old, 3_000)).unwrap();
        assert!(change.is_none());

        // Bob re-installed: a new identity, a new session, the change reported.
        let (new_store, _) = account("bob", 9);
        let new = bundle_of(&new_store);
        let change = block_on(alice.follow_published_identity("bob", &new, 4_000))
            .unwrap()
            .expect("an identity change");
        assert_eq!(change.peer_id, "bob");
        assert_eq!(change.previous_key, old.identity.dh);
        assert_eq!(change.new_key, new.identity.dh);
        assert_eq!(remote_key(&mut alice, "bob"), Some(new.identity.dh));

        // No session with carol: nothing to follow, nothing started.
        let change = block_on(alice.follow_published_identity("carol", &new, 4_000)).unwrap();
        assert!(change.is_none());
        assert!(!block_on(alice.has_session("carol")).unwrap());
    }
}
