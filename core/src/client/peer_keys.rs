//! A peer's identity key is what the peer **publishes**.
//!
//! The backend lets anyone authenticate a WebSocket as any user and read any history without
//! a token (PROTOCOL §6–§7), so a first message's `senderIdentityKey` proves nothing about
//! who sent it: an attacker can start a session "from alice" on the attacker's own key, or
//! replay alice's first message under the attacker's own id. What only alice can change is
//! her published bundle (its upload needs her JWT). So a first message whose identity key is
//! new or changed for its sender is accepted only if it is the key the sender publishes;
//! anything else is refused and changes nothing.
//!
//! The same check lets this client follow a real reset of a peer (the web app gets a new
//! identity on every reset or re-install and tells nobody, PROTOCOL §8): when a session may
//! be talking to keys the peer no longer has, the peer's bundle is fetched again and a new
//! identity there starts a new session. Each fetch uses up one of the peer's one-time
//! prekeys, so such re-checks are rate-limited per peer
//! ([`ClientConfig::bundle_recheck_interval_ms`](super::ClientConfig)).

use std::collections::HashMap;
use std::sync::Arc;

use rand_core::CryptoRng;

use super::{Client, ClientError, Event};
use crate::envelope::Envelope;
use crate::keys::PublicKey;
use crate::platform::MaybeSend;
use crate::protocol::rest::BundleResponse;
use crate::protocol::ws::MessagePayload;
use crate::session::Device;
use crate::store::Store;
use crate::transport::{Clock, Transport};

/// Why a first message is not decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Vetting {
    /// Refused for good: stored as failed with this reason, nothing else changes.
    Refused(String),
    /// The sender's bundle could not be read: not handled now (nothing is stored, so the
    /// next catch-up tries again).
    Deferred(String),
}

/// What a peer publishes, as far as identity goes.
enum Published {
    Key(PublicKey),
    NoKeys,
}

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Checks every first message among `payloads` whose identity key is new or changed for
    /// its sender against the key the sender publishes (one bundle fetch per such sender).
    /// Returns what must not be decrypted, by message id.
    pub(crate) async fn vet_first_messages(
        &self,
        payloads: &[MessagePayload],
    ) -> HashMap<String, Vetting> {
        let mut verdicts = HashMap::new();
        let mut published: HashMap<String, Result<Published, String>> = HashMap::new();
        for payload in payloads {
            // Cheap test first: only first messages carry `x3dh`.
            if !payload.encrypted
                || super::limits::refusal_of(payload).is_some()
                || !payload.content.contains("\"x3dh\"")
            {
                continue;
            }
            let Ok(envelope) = Envelope::parse(&payload.content) else {
                continue; // the engine reports the parse error
            };
            let Some(x3dh) = envelope.x3dh else { continue };
            let claimed = x3dh.sender_identity_key;
            match self.store.known_identity(&payload.from).await {
                Ok(Some(known)) if known.identity_key == claimed => continue,
                Ok(_) => {}
                Err(e) => {
                    verdicts.insert(payload.id.clone(), Vetting::Deferred(e.to_string()));
                    continue;
                }
            }
            if !published.contains_key(&payload.from) {
                let fetched = self.published_identity(&payload.from).await;
                published.insert(payload.from.clone(), fetched.map_err(|e| e.to_string()));
            }
            let verdict = match published.get(&payload.from) {
                Some(Ok(Published::Key(key))) if *key == claimed => continue,
                Some(Ok(Published::Key(_))) => Vetting::Refused(format!(
                    "identity key mismatch: this first message is built on an identity key that \
                     {} does not publish (forged or replayed by someone else); refused",
                    payload.from
                )),
                Some(Ok(Published::NoKeys)) => Vetting::Refused(format!(
                    "identity key mismatch: {} publishes no keys, so this first message cannot be \
                     theirs; refused",
                    payload.from
                )),
                Some(Err(e)) => Vetting::Deferred(format!(
                    "could not read {}'s published keys to check this first message: {e}",
                    payload.from
                )),
                None => continue,
            };
            verdicts.insert(payload.id.clone(), verdict);
        }
        verdicts
    }

    /// The identity key `peer_id` publishes, fetched now (uses up one of its one-time
    /// prekeys). Counts as a re-check for the rate limit.
    async fn published_identity(&self, peer_id: &str) -> Result<Published, ClientError> {
        let now = self.now();
        self.lock_state()
            .bundle_checks
            .insert(peer_id.to_string(), now);
        match self.fetch_bundle(peer_id).await {
            Ok(bundle) => Ok(Published::Key(published_key(&bundle)?)),
            Err(e) if e.is_status(404) => Ok(Published::NoKeys),
            Err(e) => Err(e),
        }
    }

    /// Whether a re-check of `peer_id`'s bundle is allowed now (and, if so, records it).
    fn take_recheck(&self, peer_id: &str) -> bool {
        let now = self.now();
        let interval = i64::try_from(self.config.bundle_recheck_interval_ms).unwrap_or(i64::MAX);
        let mut state = self.lock_state();
        let due = state
            .bundle_checks
            .get(peer_id)
            .is_none_or(|last| now.saturating_sub(*last) >= interval);
        if due {
            state.bundle_checks.insert(peer_id.to_string(), now);
        }
        due
    }

    /// Notes that a fresh bundle of `peer_id` was just read (a session was started from it).
    pub(crate) fn bundle_seen(&self, peer_id: &str) {
        let now = self.now();
        self.lock_state()
            .bundle_checks
            .insert(peer_id.to_string(), now);
    }

    /// Before sending on an existing session: when the peer never answered it, has not used
    /// it for [`ClientConfig::stale_session_ms`](super::ClientConfig), or came online since
    /// it was last used, its bundle is read again (rate-limited); a new identity there (the
    /// peer reset or re-installed) starts a new session, reported as an identity change.
    pub(crate) async fn recheck_before_send(
        &self,
        device: &mut Device<Arc<S>, R>,
        peer_id: &str,
        now: i64,
    ) -> Result<(), ClientError> {
        let Some(summary) = device.parts()?.0.session_summary(peer_id).await? else {
            return Ok(());
        };
        let stale_after = i64::try_from(self.config.stale_session_ms).unwrap_or(i64::MAX);
        let came_online = self
            .lock_state()
            .came_online_at
            .get(peer_id)
            .is_some_and(|at| *at > summary.updated_at);
        let suspect = !summary.answered
            || now.saturating_sub(summary.updated_at) >= stale_after
            || came_online;
        if !suspect || !self.take_recheck(peer_id) {
            return Ok(());
        }
        let bundle = match self.fetch_bundle(peer_id).await {
            Ok(bundle) => bundle,
            // The session stays; sending goes on as before.
            Err(e) => {
                tracing::debug!(peer = %peer_id, error = %e, "bundle re-check failed");
                return Ok(());
            }
        };
        self.follow_new_identity(device, peer_id, &bundle, now)
            .await
    }

    /// When `bundle` publishes another identity than the one `peer_id`'s current session
    /// was agreed with, starts a new session from it and reports the change.
    async fn follow_new_identity(
        &self,
        device: &mut Device<Arc<S>, R>,
        peer_id: &str,
        bundle: &BundleResponse,
        now: i64,
    ) -> Result<(), ClientError> {
        if let Some(change) = device
            .follow_published_identity(peer_id, &bundle.to_bundle()?, now)
            .await?
        {
            self.events.emit(Event::IdentityChanged { change });
        }
        Ok(())
    }

    /// After a message from `peer_id` failed to decrypt: maybe the peer reset its keys and
    /// the session talks to keys it no longer has. Its bundle is read again (rate-limited);
    /// a new identity there starts a new session, so the next message reaches the peer.
    pub(crate) async fn recheck_after_failure(&self, peer_id: &str) {
        if !self.take_recheck(peer_id) {
            return;
        }
        let bundle = match self.fetch_bundle(peer_id).await {
            Ok(bundle) => bundle,
            Err(e) => {
                tracing::debug!(peer = %peer_id, error = %e, "bundle re-check failed");
                return;
            }
        };
        let now = self.now();
        let mut crypto = self.crypto.lock().await;
        if !crypto.device.is_open() {
            return;
        }
        if let Err(e) = self
            .follow_new_identity(&mut crypto.device, peer_id, &bundle, now)
            .await
        {
            tracing::warn!(peer = %peer_id, error = %e, "could not follow the peer's new keys");
        }
    }
}

/// The X25519 identity key a bundle publishes.
fn published_key(bundle: &BundleResponse) -> Result<PublicKey, ClientError> {
    Ok(bundle.to_bundle()?.identity.dh)
}
