//! Trust: fingerprints, verification, accepting a changed identity.

use quickchat_core::client::{ClientError, PeerVerification};
use quickchat_core::keys::Fingerprint;

use super::Client;

impl Client {
    /// This device's fingerprint.
    pub async fn fingerprint(&self) -> Result<Fingerprint, ClientError> {
        self.core().fingerprint().await
    }

    /// A peer's fingerprint. When the peer is new, this starts the session with it (its
    /// bundle is fetched once, and that fetch uses up one of its one-time prekeys, which
    /// the session then uses).
    pub async fn peer_fingerprint(&self, peer_id: &str) -> Result<Fingerprint, ClientError> {
        self.core().peer_fingerprint(peer_id).await
    }

    /// Records, locally and on the backend, that the user compared and confirmed the peer's
    /// current fingerprint (`method`: e.g. `qr_code` or `manual`). Also accepts a pending
    /// identity change.
    pub async fn verify_peer(
        &self,
        peer_id: &str,
        method: Option<&str>,
    ) -> Result<Fingerprint, ClientError> {
        self.core().verify_peer(peer_id, method).await
    }

    /// Withdraws a verification, locally and on the backend.
    pub async fn unverify_peer(&self, peer_id: &str) -> Result<(), ClientError> {
        self.core().unverify_peer(peer_id).await
    }

    /// The peer's current fingerprint and what the backend recorded of its verification.
    pub async fn verification(&self, peer_id: &str) -> Result<PeerVerification, ClientError> {
        self.core().verification(peer_id).await
    }

    /// Accepts a peer's changed identity key without verifying it, allowing sending again.
    pub async fn accept_identity(&self, peer_id: &str) -> Result<(), ClientError> {
        self.core().accept_identity(peer_id).await
    }
}
