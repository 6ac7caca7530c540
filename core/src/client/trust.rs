//! Fingerprints and verification, kept both locally (what blocks sending after a change)
//! and on the backend (`/api/verify-key`, JWT).

use rand_core::CryptoRng;

use super::account::with_jwt;
use super::{Client, ClientError, Event};
use crate::keys::Fingerprint;
use crate::platform::MaybeSend;
use crate::protocol::rest::VerifyKeyRequest;
use crate::store::Store;
use crate::transport::{Clock, Transport};

/// What is known of a peer's key and its verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerVerification {
    /// The fingerprint of the peer's current identity key.
    pub current_fingerprint: Fingerprint,
    /// The fingerprint the backend says this user verified, if any.
    pub verified_fingerprint: Option<String>,
    /// When, ms.
    pub verified_at: Option<i64>,
    /// How (`qr_code`, `manual`, …).
    pub method: Option<String>,
    /// Whether the verified fingerprint is the current one: verified and still valid.
    pub verified: bool,
    /// Whether the key changed after verification and the change was not accepted yet
    /// (sending is blocked until then).
    pub change_pending: bool,
}

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// This device's fingerprint.
    pub async fn fingerprint(&self) -> Result<Fingerprint, ClientError> {
        let identity = self
            .store
            .identity()
            .await?
            .ok_or(ClientError::NotLoggedIn)?;
        Ok(identity.identity.fingerprint())
    }

    /// A peer's fingerprint. When the peer is new, this starts the session with it (its
    /// bundle is fetched once, and that fetch uses up one of its one-time prekeys, which
    /// the session then uses).
    pub async fn peer_fingerprint(&self, peer_id: &str) -> Result<Fingerprint, ClientError> {
        if let Some(known) = self.store.known_identity(peer_id).await? {
            return Ok(Fingerprint::of(&known.identity_key));
        }
        let now = self.now();
        let bundle = self
            .fetch_bundle(peer_id)
            .await
            .map_err(|e| match e {
                e if e.is_status(404) => ClientError::PeerHasNoKeys {
                    peer_id: peer_id.to_string(),
                },
                e => e,
            })?
            .to_bundle()?;
        // A fresh bundle: no re-check for a reset is due for a while.
        self.bundle_seen(peer_id);
        let change = self
            .crypto
            .lock()
            .await
            .device
            .session_from_bundle(peer_id, &bundle, now)
            .await?;
        if let Some(change) = change {
            self.events.emit(Event::IdentityChanged { change });
        }
        Ok(Fingerprint::of(&bundle.identity.dh))
    }

    /// Records, locally and on the backend, that the user compared and confirmed the peer's
    /// current fingerprint (`method`: e.g. `qr_code` or `manual`). Also accepts a pending
    /// identity change.
    pub async fn verify_peer(
        &self,
        peer_id: &str,
        method: Option<&str>,
    ) -> Result<Fingerprint, ClientError> {
        let fingerprint = self.peer_fingerprint(peer_id).await?;
        let request = VerifyKeyRequest {
            verified_user_id: peer_id.to_string(),
            verified_fingerprint: fingerprint.as_str().to_string(),
            verification_method: method.map(str::to_string),
        };
        with_jwt!(self, |jwt| self.api.verify_key(&jwt, &request))?;
        let mut crypto = self.crypto.lock().await;
        let (engine, _) = crypto.device.parts()?;
        engine.set_verified(peer_id, true).await?;
        Ok(fingerprint)
    }

    /// Withdraws a verification, locally and on the backend.
    pub async fn unverify_peer(&self, peer_id: &str) -> Result<(), ClientError> {
        with_jwt!(self, |jwt| self.api.unverify_key(&jwt, peer_id))?;
        let mut crypto = self.crypto.lock().await;
        if let Ok((engine, _)) = crypto.device.parts()
            && self.store.known_identity(peer_id).await?.is_some()
        {
            engine.set_verified(peer_id, false).await?;
        }
        Ok(())
    }

    /// The peer's current fingerprint and what the backend recorded of its verification.
    pub async fn verification(&self, peer_id: &str) -> Result<PeerVerification, ClientError> {
        let current_fingerprint = self.peer_fingerprint(peer_id).await?;
        let status = with_jwt!(self, |jwt| self.api.verification(&jwt, peer_id))?;
        let known = self.store.known_identity(peer_id).await?;
        let verified = status.verified
            && status
                .fingerprint
                .as_deref()
                .is_some_and(|f| Fingerprint::parse(f).ok().as_ref() == Some(&current_fingerprint));
        Ok(PeerVerification {
            current_fingerprint,
            verified_fingerprint: status.fingerprint,
            verified_at: status.verified_at,
            method: status.method,
            verified,
            change_pending: known.is_some_and(|k| k.unaccepted_change_from.is_some()),
        })
    }

    /// Accepts a peer's changed identity key without verifying it, allowing sending again.
    pub async fn accept_identity(&self, peer_id: &str) -> Result<(), ClientError> {
        let mut crypto = self.crypto.lock().await;
        let (engine, _) = crypto.device.parts()?;
        engine.accept_identity(peer_id).await?;
        Ok(())
    }
}
