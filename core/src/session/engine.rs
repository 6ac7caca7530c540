//! The session engine: starts sessions, encrypts and decrypts through a store.

use std::collections::{HashMap, HashSet};

use super::recent::Recent;
use super::reservation::{self, Reservation, Reservations};

use rand_core::CryptoRng;

use super::cooling::Cooling;
use super::record::{PeerSessions, Session, SessionOrigin};
use super::trust::{self, IdentityChange, Observation};
use crate::envelope::{Envelope, EnvelopeError};
use crate::keys::IdentityKeyPair;
use crate::ratchet::{RatchetError, RatchetState, Work};
use crate::store::{KnownIdentity, Store, StoreError, StoreOp, WriteBatch};
use crate::x3dh::{self, OneTimePrekeyUse, PrekeyBundle, X3dhError};

/// Settings of a [`SessionEngine`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionConfig {
    /// Whether sessions this device starts mix in the bundle's one-time prekey.
    pub one_time_prekey_use: OneTimePrekeyUse,
    /// Whether a change of a peer's identity key holds sending even when the user had not
    /// verified the old key (a change to a verified key always does).
    pub hold_unverified_changes: bool,
    /// How far, at most, a session's stored sending chain is kept ahead of the last message
    /// sent (0, the default: exactly at it). At R > 0, a write of a session stores its
    /// sending chain as many numbers on as the chain has messages, up to R, and the next
    /// messages on that chain need no write until they reach the stored number: on a long
    /// chain most messages cost no commit at all. A chain a received message started is
    /// stored one number on before it has sent, so the answer needs no commit either. After
    /// a crash the chain resumes at the stored number and the receiver passes over at most
    /// that many numbers (none for a chain of one message, one for a chain that had sent
    /// nothing); within one engine nothing is passed over. The stored `updated_at` may lag
    /// the real one. A message covered by a relaxed commit
    /// ([`Prepared::relaxed`]) is durable once the store has settled that commit. The engine
    /// keeps about a hundred bytes per peer it has sent to (the real chain position, its
    /// key zeroized on drop) for as long as it is open.
    pub send_ahead: u32,
}

/// Why a session operation failed. Nothing was written in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store holds no identity yet.
    #[error("the store holds no identity: create or import an account first")]
    NoIdentity,
    /// No session with the peer.
    #[error("no session with {peer_id}: start one from the peer's prekey bundle")]
    NoSession {
        /// The peer.
        peer_id: String,
    },
    /// The peer's bundle cannot be used.
    #[error("cannot start a session with {peer_id}: {source}")]
    X3dh {
        /// The peer.
        peer_id: String,
        /// Why.
        source: X3dhError,
    },
    /// The message is not a valid encrypted message.
    #[error("message from {peer_id} is malformed: {source}")]
    Envelope {
        /// The peer.
        peer_id: String,
        /// Why.
        source: EnvelopeError,
    },
    /// The message cannot be decrypted.
    #[error("cannot decrypt message from {peer_id}: {source}")]
    Decrypt {
        /// The peer.
        peer_id: String,
        /// Why.
        source: RatchetError,
    },
    /// The message cannot be encrypted.
    #[error("cannot encrypt to {peer_id}: {source}")]
    Encrypt {
        /// The peer.
        peer_id: String,
        /// Why.
        source: RatchetError,
    },
    /// A first message names a signed prekey this device does not hold.
    #[error(
        "first message from {peer_id} names signed prekey {id}, which this device does not hold"
    )]
    UnknownSignedPrekey {
        /// The peer.
        peer_id: String,
        /// The prekey id.
        id: u32,
    },
    /// A first message names a one-time prekey this device does not hold (used up, or left
    /// on the backend from before a reset of this account).
    #[error(
        "first message from {peer_id} names one-time prekey {id}, which this device does not hold (used up, or from before a key reset)"
    )]
    UnknownOneTimePrekey {
        /// The peer.
        peer_id: String,
        /// The prekey id.
        id: u32,
    },
    /// The peer's verified identity key changed and the change was not accepted yet.
    #[error(
        "the identity key of {peer_id} changed after it was verified: accept or verify the new key before sending"
    )]
    UnacceptedIdentityChange {
        /// The peer.
        peer_id: String,
    },
    /// The decrypted bytes are not UTF-8 text.
    #[error("message from {peer_id} decrypted to bytes that are not UTF-8 text")]
    NotText {
        /// The peer.
        peer_id: String,
    },
    /// Nothing is known of the peer's identity.
    #[error("no identity is known for {peer_id}")]
    UnknownPeer {
        /// The peer.
        peer_id: String,
    },
    /// The message was not looked at: too many of the peer's messages failed to decrypt
    /// lately, and its budget for failed work is spent (see [`Cooling`]).
    #[error(
        "message from {peer_id} not decrypted yet: too many of its messages failed to decrypt; retry in {retry_after_ms} ms"
    )]
    Cooling {
        /// The peer.
        peer_id: String,
        /// When its budget allows a decryption again.
        retry_after_ms: u64,
    },
}

/// An encrypted message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The wire string (content of a `message` frame with `encrypted: true`).
    pub wire: String,
    /// Whether it carries the session's `x3dh` block.
    pub first_message: bool,
}

/// The current session with a peer, as a send sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The peer's identity key the session was agreed with.
    pub remote_identity_key: crate::keys::PublicKey,
    /// Whether the peer has sent anything on it (a session this device started and the
    /// peer never answered may be talking to keys the peer no longer has).
    pub answered: bool,
    /// When it was last used, ms.
    pub updated_at: i64,
}

/// A decrypted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The text.
    pub plaintext: String,
    /// Set when the peer's identity key differs from the one known before.
    pub identity_change: Option<IdentityChange>,
    /// Whether the message started a new session.
    pub new_session: bool,
}

/// The result of an operation and the writes that make it durable. Nothing is written
/// until [`Prepared::commit`]; dropping it discards the operation and leaves every session
/// as it was. It borrows the engine mutably, so no other operation can interleave.
#[must_use = "nothing is saved until commit() is called"]
pub struct Prepared<'e, S, T> {
    engine: &'e mut SessionEngine<S>,
    batch: WriteBatch,
    /// The states the batch writes, moved into the cache once the store took them.
    overlay: Overlay,
    value: T,
}

impl<S: Store, T> Prepared<'_, S, T> {
    /// The result.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Adds a write to the same atomic commit (e.g. the message record).
    pub fn add(&mut self, op: StoreOp) -> &mut Self {
        self.batch.push(op);
        self
    }

    /// Lets the commit return before the batch is on disk ([`BatchDurability::Relaxed`]):
    /// for writes whose loss the protocol survives, such as the next state of a session
    /// after a message it received (lost, that message would open once more).
    ///
    /// [`BatchDurability::Relaxed`]: crate::store::BatchDurability::Relaxed
    pub fn relaxed(mut self) -> Self {
        self.batch = self.batch.relaxed();
        self
    }

    /// Writes everything in one atomic commit and returns the result.
    pub async fn commit(self) -> Result<T, SessionError> {
        self.engine.commit_with(self.batch, self.overlay).await?;
        Ok(self.value)
    }
}

/// Drives the sessions of one account over a store.
pub struct SessionEngine<S> {
    store: S,
    user_id: String,
    identity: IdentityKeyPair,
    config: SessionConfig,
    cache: Cache,
}

/// Write-through copies of what the engine reads on every message. Every write of
/// sessions and known identities goes through the engine's commits, which update the cache
/// only once the store has accepted them, so it never disagrees with the store.
#[derive(Default)]
struct Cache {
    sessions: Recent<Option<PeerSessions>>,
    known: Recent<Option<KnownIdentity>>,
    /// Where the sessions' sending chains are stored ahead of where they are (kept for
    /// every peer, not only the cached ones: see [`reservation`]).
    reservations: Reservations,
}

impl Cache {
    /// What a batch will change here, taken before the batch goes to the store. A state
    /// the overlay holds (the final state of its peer in this batch) is moved from there
    /// after the commit rather than copied now: a message then costs one copy of its
    /// session, not three.
    fn updates(batch: &WriteBatch, overlay: &Overlay) -> Vec<CacheUpdate> {
        batch
            .ops()
            .iter()
            .filter_map(|op| match op {
                StoreOp::PutSessions(s) if overlay.sessions.contains_key(&s.peer_id) => {
                    Some(CacheUpdate::SessionsFromOverlay(s.peer_id.clone()))
                }
                StoreOp::PutSessions(s) => Some(CacheUpdate::Sessions(
                    s.peer_id.clone(),
                    Some(Box::new(s.clone())),
                )),
                StoreOp::DeleteSessions(peer) => Some(CacheUpdate::Sessions(peer.clone(), None)),
                StoreOp::PutKnownIdentity(k) if overlay.known.contains_key(&k.peer_id) => {
                    Some(CacheUpdate::KnownFromOverlay(k.peer_id.clone()))
                }
                StoreOp::PutKnownIdentity(k) => {
                    Some(CacheUpdate::Known(k.peer_id.clone(), Some(k.clone())))
                }
                StoreOp::ClearKeys => Some(CacheUpdate::Clear),
                _ => None,
            })
            .collect()
    }

    fn apply(&mut self, updates: Vec<CacheUpdate>, mut overlay: Overlay) {
        self.reservations
            .extend(std::mem::take(&mut overlay.reserved));
        for update in updates {
            match update {
                CacheUpdate::Sessions(peer, value) => {
                    if value.is_none() {
                        self.reservations.forget(&peer);
                    }
                    self.sessions.insert(peer, value.map(|v| *v));
                }
                // A second write of the same peer finds the overlay's state gone: the cache
                // then forgets the peer (the next read goes to the store), which is right
                // whatever was written in between.
                CacheUpdate::SessionsFromOverlay(peer) => match overlay.sessions.remove(&peer) {
                    Some(sessions) => {
                        self.sessions.insert(peer, Some(sessions));
                    }
                    None => {
                        self.sessions.remove(&peer);
                    }
                },
                CacheUpdate::Known(peer, value) => {
                    self.known.insert(peer, value);
                }
                CacheUpdate::KnownFromOverlay(peer) => match overlay.known.remove(&peer) {
                    Some(known) => {
                        self.known.insert(peer, Some(known));
                    }
                    None => {
                        self.known.remove(&peer);
                    }
                },
                CacheUpdate::Clear => {
                    self.sessions.clear();
                    self.known.clear();
                    self.reservations.clear();
                }
            }
        }
    }
}

enum CacheUpdate {
    Sessions(String, Option<Box<PeerSessions>>),
    SessionsFromOverlay(String),
    Known(String, Option<KnownIdentity>),
    KnownFromOverlay(String),
    Clear,
}

impl<S> std::fmt::Debug for SessionEngine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionEngine")
            .field("user_id", &self.user_id)
            .field("identity", &self.identity)
            .field("config", &self.config)
            .finish()
    }
}

impl<S: Store> SessionEngine<S> {
    /// Opens the engine on a store that holds an identity.
    pub async fn open(store: S, config: SessionConfig) -> Result<Self, SessionError> {
        let record = store.identity().await?.ok_or(SessionError::NoIdentity)?;
        Ok(Self {
            store,
            user_id: record.user_id,
            identity: record.identity,
            config,
            cache: Cache::default(),
        })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The account's user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The account's identity.
    pub fn identity(&self) -> &IdentityKeyPair {
        &self.identity
    }

    /// Gives the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Whether a session with the peer exists.
    pub async fn has_session(&mut self, peer_id: &str) -> Result<bool, SessionError> {
        if let Some(cached) = self.cache.sessions.get(peer_id) {
            return Ok(cached.is_some());
        }
        let loaded = self.load_sessions(peer_id).await?;
        let found = loaded.is_some();
        self.cache.sessions.insert(peer_id.to_string(), loaded);
        Ok(found)
    }

    /// What a send needs to know of the current session with a peer, if there is one.
    pub async fn session_summary(
        &mut self,
        peer_id: &str,
    ) -> Result<Option<SessionSummary>, SessionError> {
        // Read from the cached sessions in place: this runs before every send batch, and a
        // copy would clone the whole ratchet state (skipped keys included) each time.
        if !self.cache.sessions.contains_key(peer_id) {
            let loaded = self.load_sessions(peer_id).await?;
            self.cache.sessions.insert(peer_id.to_string(), loaded);
        }
        Ok(self
            .cache
            .sessions
            .get(peer_id)
            .and_then(Option::as_ref)
            .map(|sessions| SessionSummary {
                remote_identity_key: sessions.current.remote_identity_key,
                answered: sessions.current.ratchet.remote_ratchet_key().is_some(),
                updated_at: sessions.current.updated_at,
            }))
    }

    /// A peer's sessions (from the cache once read).
    async fn peer_sessions(&mut self, peer_id: &str) -> Result<Option<PeerSessions>, SessionError> {
        if let Some(cached) = self.cache.sessions.get(peer_id) {
            return Ok(cached.clone());
        }
        let loaded = self.load_sessions(peer_id).await?;
        self.cache
            .sessions
            .insert(peer_id.to_string(), loaded.clone());
        Ok(loaded)
    }

    /// What is known of a peer's identity (from the cache once read).
    pub async fn known_identity(
        &mut self,
        peer_id: &str,
    ) -> Result<Option<KnownIdentity>, SessionError> {
        if let Some(cached) = self.cache.known.get(peer_id) {
            return Ok(cached.clone());
        }
        let loaded = self.store.known_identity(peer_id).await?;
        self.cache.known.insert(peer_id.to_string(), loaded.clone());
        Ok(loaded)
    }

    /// A peer's sessions to work on: the cached copy is taken out of the cache (no copy;
    /// whatever happens next, a missing entry only means the next read goes to the store,
    /// which holds the same committed state), else they are read from the store.
    async fn take_peer_sessions(
        &mut self,
        peer_id: &str,
    ) -> Result<Option<PeerSessions>, SessionError> {
        match self.cache.sessions.remove(peer_id) {
            Some(cached) => Ok(cached),
            None => self.load_sessions(peer_id).await,
        }
    }

    /// A peer's sessions as the store holds them, with the sending chain put back where it
    /// really is if the store holds it ahead.
    async fn load_sessions(&self, peer_id: &str) -> Result<Option<PeerSessions>, SessionError> {
        let mut loaded = self.store.peer_sessions(peer_id).await?;
        if let Some(sessions) = &mut loaded {
            self.cache.reservations.restore(sessions);
        }
        Ok(loaded)
    }

    /// Whether sending to the peer waits for an identity change to be accepted.
    async fn has_unaccepted_change(
        &mut self,
        overlay: &Overlay,
        peer_id: &str,
    ) -> Result<bool, SessionError> {
        if let Some(known) = overlay.known.get(peer_id) {
            return Ok(known.unaccepted_change_from.is_some());
        }
        if let Some(cached) = self.cache.known.get(peer_id) {
            return Ok(cached
                .as_ref()
                .is_some_and(|k| k.unaccepted_change_from.is_some()));
        }
        Ok(self
            .known_identity(peer_id)
            .await?
            .is_some_and(|k| k.unaccepted_change_from.is_some()))
    }

    /// Commits a batch and, once the store took it, updates the cache.
    async fn commit_batch(&mut self, batch: WriteBatch) -> Result<(), SessionError> {
        self.commit_with(batch, Overlay::default()).await
    }

    /// Commits a batch whose final states the overlay holds and, once the store took it,
    /// moves them into the cache.
    async fn commit_with(
        &mut self,
        batch: WriteBatch,
        overlay: Overlay,
    ) -> Result<(), SessionError> {
        let mut updates = Cache::updates(&batch, &overlay);
        // States the store already covers are not written, but the cache takes them all
        // the same: it holds where the sessions really are.
        updates.extend(
            overlay
                .unwritten
                .iter()
                .map(|peer| CacheUpdate::SessionsFromOverlay(peer.clone())),
        );
        // Nothing to write (every message of the operation was covered): no commit.
        if !batch.is_empty() {
            self.store.commit(batch).await?;
        }
        self.cache.apply(updates, overlay);
        Ok(())
    }

    /// Starts a session from the peer's bundle (X3DH as initiator: one 32-byte draw for the
    /// ephemeral key, one for the ratchet key) and saves it. The first message sent on it
    /// carries the `x3dh` block. Returns the identity change, if the bundle's identity key
    /// differs from the one known; after a change to a verified key the session is made but
    /// [`SessionEngine::encrypt`] refuses until the change is accepted.
    pub async fn start_session<R: CryptoRng + ?Sized>(
        &mut self,
        peer_id: &str,
        bundle: &PrekeyBundle,
        now: i64,
        rng: &mut R,
    ) -> Result<Option<IdentityChange>, SessionError> {
        let initiated =
            x3dh::initiate(&self.identity, bundle, self.config.one_time_prekey_use, rng).map_err(
                |source| SessionError::X3dh {
                    peer_id: peer_id.to_string(),
                    source,
                },
            )?;
        let ratchet = RatchetState::initiator(initiated.shared_secret.as_bytes(), rng);
        let session = Session {
            ratchet,
            remote_identity_key: bundle.identity.dh,
            pending_x3dh: Some(crate::envelope::X3dhHeader {
                sender_identity_key: self.identity.public().dh,
                sender_ephemeral_key: initiated.ephemeral_public,
                used_signed_prekey_id: initiated.used_signed_prekey_id,
                used_one_time_prekey_id: initiated.used_one_time_prekey_id,
            }),
            origin: SessionOrigin::Initiated {
                remote_signed_prekey_id: initiated.used_signed_prekey_id,
            },
            created_at: now,
            updated_at: now,
        };
        let known = self.known_identity(peer_id).await?;
        let observation = trust::observe(
            known.as_ref(),
            peer_id,
            bundle.identity.dh,
            Some(bundle.identity.signing),
            now,
            self.config.hold_unverified_changes,
        );
        let sessions = match self.peer_sessions(peer_id).await? {
            Some(mut existing) => {
                existing.replace_current(session);
                existing
            }
            None => PeerSessions {
                peer_id: peer_id.to_string(),
                current: session,
                previous: Vec::new(),
            },
        };
        let mut batch = WriteBatch::new();
        batch.push(StoreOp::PutSessions(sessions));
        if let Some(record) = observation.record() {
            batch.push(StoreOp::PutKnownIdentity(record.clone()));
        }
        self.commit_batch(batch).await?;
        Ok(observation.change().cloned())
    }

    /// Encrypts `plaintext` for the peer on the current session (one 24-byte nonce draw,
    /// plus one 32-byte draw when a new sending chain starts).
    pub async fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        peer_id: &str,
        plaintext: &str,
        now: i64,
        rng: &mut R,
    ) -> Result<Prepared<'_, S, Outgoing>, SessionError> {
        let mut overlay = Overlay::default();
        let value = self
            .encrypt_one(&mut overlay, peer_id, plaintext, now, rng)
            .await?;
        Ok(self.prepared(overlay, value))
    }

    /// Encrypts several messages in order, each on the state the previous ones left, and
    /// prepares one commit for all of them (one disk sync). A message that cannot be
    /// encrypted gets its error and changes nothing.
    pub async fn encrypt_batch<R: CryptoRng + ?Sized>(
        &mut self,
        messages: &[(String, String)],
        now: i64,
        rng: &mut R,
    ) -> Result<Prepared<'_, S, Vec<Result<Outgoing, SessionError>>>, SessionError> {
        let mut overlay = Overlay::default();
        let mut results = Vec::with_capacity(messages.len());
        for (peer_id, plaintext) in messages {
            match self
                .encrypt_one(&mut overlay, peer_id, plaintext, now, rng)
                .await
            {
                Err(SessionError::Store(e)) => return Err(SessionError::Store(e)),
                result => results.push(result),
            }
        }
        Ok(self.prepared(overlay, results))
    }

    async fn encrypt_one<R: CryptoRng + ?Sized>(
        &mut self,
        overlay: &mut Overlay,
        peer_id: &str,
        plaintext: &str,
        now: i64,
        rng: &mut R,
    ) -> Result<Outgoing, SessionError> {
        if self.has_unaccepted_change(overlay, peer_id).await? {
            return Err(SessionError::UnacceptedIdentityChange {
                peer_id: peer_id.to_string(),
            });
        }
        let existing = match overlay.sessions.get(peer_id) {
            Some(sessions) => Some(sessions.clone()),
            None => self.take_peer_sessions(peer_id).await?,
        };
        let mut sessions = existing.ok_or_else(|| SessionError::NoSession {
            peer_id: peer_id.to_string(),
        })?;
        let session = &mut sessions.current;
        let encrypted = session
            .ratchet
            .encrypt(plaintext.as_bytes(), rng)
            .map_err(|source| SessionError::Encrypt {
                peer_id: peer_id.to_string(),
                source,
            })?;
        let x3dh = session.pending_x3dh.take();
        session.updated_at = now;
        let planned = reservation::plan(
            session,
            overlay.reservation(peer_id, &self.cache.reservations),
            x3dh.is_none(),
            self.config.send_ahead,
            now,
        );
        let envelope = Envelope {
            header: encrypted.header,
            ciphertext: encrypted.ciphertext,
            x3dh,
        };
        let value = Outgoing {
            wire: envelope.to_json(),
            first_message: x3dh.is_some(),
        };
        let covered = planned.as_ref().is_some_and(|p| p.covered);
        if let Some(planned) = planned {
            overlay
                .reserved
                .insert(peer_id.to_string(), planned.reservation);
        }
        overlay.put_sessions(peer_id, sessions, covered);
        Ok(value)
    }

    /// Decrypts a message from the peer: a first message (`x3dh`) that no held session
    /// began starts a new session; anything else is opened by the current session or, failing
    /// that, a previous one. A DH ratchet step takes one 32-byte draw.
    pub async fn decrypt<R: CryptoRng + ?Sized>(
        &mut self,
        peer_id: &str,
        wire: &str,
        now: i64,
        rng: &mut R,
    ) -> Result<Prepared<'_, S, Incoming>, SessionError> {
        let envelope = parse_envelope(peer_id, wire)?;
        self.decrypt_envelope(peer_id, envelope, now, rng).await
    }

    /// As [`SessionEngine::decrypt`], for a message already parsed.
    pub async fn decrypt_envelope<R: CryptoRng + ?Sized>(
        &mut self,
        peer_id: &str,
        envelope: Envelope,
        now: i64,
        rng: &mut R,
    ) -> Result<Prepared<'_, S, Incoming>, SessionError> {
        let mut overlay = Overlay::default();
        let value = self
            .decrypt_one(
                &mut overlay,
                peer_id,
                envelope,
                now,
                rng,
                &mut Work::default(),
            )
            .await?;
        Ok(self.prepared(overlay, value))
    }

    /// Decrypts several messages in order, each from the state the previous ones left,
    /// and prepares one commit for all of them: under load this saves a disk sync per
    /// message. A message that fails gets its error in the result and changes nothing; the
    /// others are unaffected.
    pub async fn decrypt_batch<R: CryptoRng + ?Sized>(
        &mut self,
        messages: &[(String, String)],
        now: i64,
        rng: &mut R,
    ) -> Result<Prepared<'_, S, Vec<Result<Incoming, SessionError>>>, SessionError> {
        self.decrypt_batch_gated(messages, now, rng, None).await
    }

    /// As [`SessionEngine::decrypt_batch`], with each peer's failed decryptions charged to
    /// its budget in `cooling` (`now` is its clock, in milliseconds): a message from a peer
    /// whose budget is spent is not parsed nor decrypted, and gets
    /// [`SessionError::Cooling`]. Other peers are unaffected.
    pub async fn decrypt_batch_gated<R: CryptoRng + ?Sized>(
        &mut self,
        messages: &[(String, String)],
        now: i64,
        rng: &mut R,
        mut cooling: Option<&mut Cooling>,
    ) -> Result<Prepared<'_, S, Vec<Result<Incoming, SessionError>>>, SessionError> {
        let mut overlay = Overlay::default();
        let mut results = Vec::with_capacity(messages.len());
        for (peer_id, wire) in messages {
            if let Some(cooling) = cooling.as_deref_mut()
                && let Err(retry_after_ms) = cooling.admit(peer_id, now)
            {
                results.push(Err(SessionError::Cooling {
                    peer_id: peer_id.clone(),
                    retry_after_ms,
                }));
                continue;
            }
            let mut work = Work::default();
            let result = match parse_envelope(peer_id, wire) {
                Ok(envelope) => {
                    self.decrypt_one(&mut overlay, peer_id, envelope, now, rng, &mut work)
                        .await
                }
                Err(e) => Err(e),
            };
            // A store failure is not the message's fault: nothing of the batch is saved.
            if let Err(SessionError::Store(e)) = result {
                return Err(SessionError::Store(e));
            }
            if let Some(cooling) = cooling.as_deref_mut() {
                cooling.settle(peer_id, now, result.is_ok(), work);
            }
            results.push(result);
        }
        Ok(self.prepared(overlay, results))
    }

    /// The writes of an operation, all derived from its overlay, ready to commit.
    fn prepared<T>(&mut self, overlay: Overlay, value: T) -> Prepared<'_, S, T> {
        Prepared {
            batch: overlay.writes(&self.cache.reservations),
            engine: self,
            overlay,
            value,
        }
    }

    /// Decrypts one message against the overlay (the uncommitted results of earlier
    /// messages of the same batch) and records its effects there; adds to `work` what the
    /// attempt derived.
    async fn decrypt_one<R: CryptoRng + ?Sized>(
        &mut self,
        overlay: &mut Overlay,
        peer_id: &str,
        envelope: Envelope,
        now: i64,
        rng: &mut R,
        work: &mut Work,
    ) -> Result<Incoming, SessionError> {
        let existing = match overlay.sessions.get(peer_id) {
            Some(sessions) => Some(sessions.clone()),
            None => self.take_peer_sessions(peer_id).await?,
        };
        let begun_here = match (&envelope.x3dh, &existing) {
            (Some(x3dh), Some(sessions)) => std::iter::once(&sessions.current)
                .chain(&sessions.previous)
                .any(|s| s.started_by(x3dh, &envelope.header)),
            _ => false,
        };
        let (incoming, sessions) = match (envelope.x3dh, existing) {
            (Some(x3dh), existing) if !begun_here => {
                self.accept_first_message(
                    overlay, peer_id, &envelope, x3dh, existing, now, rng, work,
                )
                .await?
            }
            (_, Some(sessions)) => decrypt_in(peer_id, &envelope, sessions, now, rng, work)?,
            (_, None) => {
                return Err(SessionError::NoSession {
                    peer_id: peer_id.to_string(),
                });
            }
        };
        let fresh = reservation::for_fresh_chain(
            &sessions.current,
            overlay.reservation(peer_id, &self.cache.reservations),
            self.config.send_ahead,
            now,
        );
        if let Some(fresh) = fresh {
            overlay.reserved.insert(peer_id.to_string(), fresh);
        }
        overlay.put_sessions(peer_id, sessions, false);
        Ok(incoming)
    }

    #[allow(clippy::too_many_arguments)]
    async fn accept_first_message<R: CryptoRng + ?Sized>(
        &mut self,
        overlay: &mut Overlay,
        peer_id: &str,
        envelope: &Envelope,
        x3dh: crate::envelope::X3dhHeader,
        existing: Option<PeerSessions>,
        now: i64,
        rng: &mut R,
        work: &mut Work,
    ) -> Result<(Incoming, PeerSessions), SessionError> {
        let decrypt_error = |source| SessionError::Decrypt {
            peer_id: peer_id.to_string(),
            source,
        };
        // The responder derives nothing from this key before it first sends: refuse it
        // now rather than keep a session that could never answer.
        if envelope.header.ratchet_key.is_low_order() {
            return Err(decrypt_error(RatchetError::LowOrderKey));
        }
        let signed_prekey = self
            .store
            .signed_prekey(x3dh.used_signed_prekey_id)
            .await?
            .ok_or_else(|| SessionError::UnknownSignedPrekey {
                peer_id: peer_id.to_string(),
                id: x3dh.used_signed_prekey_id,
            })?;
        // A first message that names a one-time prekey mixed it in: without its private key
        // the secret cannot be computed (it was used up, or it is one the backend still held
        // from before a reset of this account), so say so instead of failing authentication.
        let one_time_prekey = match x3dh.used_one_time_prekey_id {
            Some(id) => {
                let held = if overlay.used_one_time_prekeys.contains(&id) {
                    None
                } else {
                    self.store.one_time_prekey(id).await?
                };
                Some(held.ok_or_else(|| SessionError::UnknownOneTimePrekey {
                    peer_id: peer_id.to_string(),
                    id,
                })?)
            }
            None => None,
        };
        work.dh = work
            .dh
            .saturating_add(if one_time_prekey.is_some() { 4 } else { 3 });
        let shared_secret = x3dh::respond(
            &self.identity,
            signed_prekey.prekey.pair().secret(),
            one_time_prekey.as_ref().map(|p| p.prekey.pair().secret()),
            &x3dh.sender_identity_key,
            &x3dh.sender_ephemeral_key,
        )
        .map_err(|source| SessionError::X3dh {
            peer_id: peer_id.to_string(),
            source,
        })?;
        let mut ratchet =
            RatchetState::responder(shared_secret.as_bytes(), envelope.header.ratchet_key);
        let plaintext = ratchet
            .decrypt_metered(&envelope.header, &envelope.ciphertext, rng, work)
            .map_err(decrypt_error)?;
        let plaintext = String::from_utf8(plaintext).map_err(|_| SessionError::NotText {
            peer_id: peer_id.to_string(),
        })?;
        let session = Session {
            ratchet,
            remote_identity_key: x3dh.sender_identity_key,
            pending_x3dh: None,
            origin: SessionOrigin::Responded {
                sender_ephemeral_key: Some(x3dh.sender_ephemeral_key),
                initiator_ratchet_key: Some(envelope.header.ratchet_key),
            },
            created_at: now,
            updated_at: now,
        };
        let sessions = match existing {
            Some(mut sessions) => {
                sessions.replace_current(session);
                sessions
            }
            None => PeerSessions {
                peer_id: peer_id.to_string(),
                current: session,
                previous: Vec::new(),
            },
        };
        let known = match overlay.known.get(peer_id) {
            Some(known) => Some(known.clone()),
            None => self.known_identity(peer_id).await?,
        };
        let observation = trust::observe(
            known.as_ref(),
            peer_id,
            x3dh.sender_identity_key,
            known.as_ref().and_then(|k| k.signing_key),
            now,
            self.config.hold_unverified_changes,
        );
        if let Some(prekey) = &one_time_prekey {
            overlay.used_one_time_prekeys.insert(prekey.prekey.id());
        }
        if let Some(record) = observation.record() {
            overlay.known.insert(peer_id.to_string(), record.clone());
        }
        let identity_change = match observation {
            Observation::Changed(_, change) => Some(change),
            _ => None,
        };
        Ok((
            Incoming {
                plaintext,
                identity_change,
                new_session: true,
            },
            sessions,
        ))
    }

    /// Accepts a peer's changed identity key, allowing sending again.
    pub async fn accept_identity(&mut self, peer_id: &str) -> Result<(), SessionError> {
        let mut known = self.known_or_err(peer_id).await?;
        known.unaccepted_change_from = None;
        let mut batch = WriteBatch::new();
        batch.push(StoreOp::PutKnownIdentity(known));
        self.commit_batch(batch).await
    }

    /// Records that the user verified (or stopped trusting) the peer's current key.
    /// Verifying also accepts a pending change.
    pub async fn set_verified(
        &mut self,
        peer_id: &str,
        verified: bool,
    ) -> Result<(), SessionError> {
        let mut known = self.known_or_err(peer_id).await?;
        known.verified = verified;
        if verified {
            known.unaccepted_change_from = None;
        }
        let mut batch = WriteBatch::new();
        batch.push(StoreOp::PutKnownIdentity(known));
        self.commit_batch(batch).await
    }

    async fn known_or_err(
        &self,
        peer_id: &str,
    ) -> Result<crate::store::KnownIdentity, SessionError> {
        self.store
            .known_identity(peer_id)
            .await?
            .ok_or_else(|| SessionError::UnknownPeer {
                peer_id: peer_id.to_string(),
            })
    }
}

/// The uncommitted results of the earlier messages of a batch.
#[derive(Default)]
struct Overlay {
    sessions: HashMap<String, PeerSessions>,
    /// Peers whose new state the store already covers (see [`SessionConfig::send_ahead`]):
    /// only their sending chains moved, within what is stored.
    unwritten: HashSet<String>,
    /// The peers' reservations after this operation, recorded once it is committed.
    reserved: HashMap<String, Reservation>,
    known: HashMap<String, KnownIdentity>,
    used_one_time_prekeys: HashSet<u32>,
}

impl Overlay {
    /// What the overlay's changes write: the one-time prekeys used up, and per peer the
    /// final state of its sessions and known identity (a batch of many messages with one
    /// peer serializes, seals and stores that peer's sessions once, not per message).
    fn writes(&self, committed: &Reservations) -> WriteBatch {
        let mut batch = WriteBatch::new();
        for id in &self.used_one_time_prekeys {
            batch.push(StoreOp::DeleteOneTimePrekey(*id));
        }
        for known in self.known.values() {
            batch.push(StoreOp::PutKnownIdentity(known.clone()));
        }
        for (peer_id, sessions) in &self.sessions {
            if self.unwritten.contains(peer_id) {
                continue;
            }
            let reservation = self.reservation(peer_id, committed);
            batch.push(StoreOp::PutSessions(reservation::stored_form(
                sessions,
                reservation,
            )));
        }
        batch
    }

    /// A peer's reservation as this operation leaves it: its own, else the committed one.
    fn reservation<'a>(
        &'a self,
        peer_id: &str,
        committed: &'a Reservations,
    ) -> Option<&'a Reservation> {
        self.reserved
            .get(peer_id)
            .or_else(|| committed.get(peer_id))
    }

    /// Sets a peer's state in this operation; `covered`: the store already holds what it
    /// needs of it (which stays so only while every change of the peer in this operation
    /// is covered).
    fn put_sessions(&mut self, peer_id: &str, sessions: PeerSessions, covered: bool) {
        let clean_so_far = !self.sessions.contains_key(peer_id) || self.unwritten.contains(peer_id);
        self.sessions.insert(peer_id.to_string(), sessions);
        if covered && clean_so_far {
            self.unwritten.insert(peer_id.to_string());
        } else {
            self.unwritten.remove(peer_id);
        }
    }
}

/// Opens a message with the peer's current session or, failing that, a previous one
/// (which then becomes current: the peer still uses it).
fn decrypt_in<R: CryptoRng + ?Sized>(
    peer_id: &str,
    envelope: &Envelope,
    mut sessions: PeerSessions,
    now: i64,
    rng: &mut R,
    work: &mut Work,
) -> Result<(Incoming, PeerSessions), SessionError> {
    let decrypt_error = |source| SessionError::Decrypt {
        peer_id: peer_id.to_string(),
        source,
    };
    let plaintext = match sessions.current.ratchet.decrypt_metered(
        &envelope.header,
        &envelope.ciphertext,
        rng,
        work,
    ) {
        Ok(plaintext) => {
            sessions.current.updated_at = now;
            plaintext
        }
        // A duplicate of the current chain belongs to no other session.
        Err(e @ RatchetError::DuplicateMessage { .. }) => return Err(decrypt_error(e)),
        Err(first_error) => {
            let mut opened = None;
            for (index, session) in sessions.previous.iter_mut().enumerate() {
                if let Ok(plaintext) = session.ratchet.decrypt_metered(
                    &envelope.header,
                    &envelope.ciphertext,
                    rng,
                    work,
                ) {
                    session.updated_at = now;
                    opened = Some((index, plaintext));
                    break;
                }
            }
            let (index, plaintext) = opened.ok_or_else(|| decrypt_error(first_error))?;
            sessions.promote(index);
            plaintext
        }
    };
    let plaintext = String::from_utf8(plaintext).map_err(|_| SessionError::NotText {
        peer_id: peer_id.to_string(),
    })?;
    Ok((
        Incoming {
            plaintext,
            identity_change: None,
            new_session: false,
        },
        sessions,
    ))
}

/// A peer's wire string as an [`Envelope`], or the error that names the peer.
fn parse_envelope(peer_id: &str, wire: &str) -> Result<Envelope, SessionError> {
    Envelope::parse(wire).map_err(|source| SessionError::Envelope {
        peer_id: peer_id.to_string(),
        source,
    })
}
