//! Keeping the account's published prekeys healthy (PROTOCOL §2): what to upload next,
//! topping one-time prekeys up, rotating the signed prekey, and forgetting old secrets only
//! when they can no longer be needed.

use rand_core::CryptoRng;

use crate::keys::{OneTimePrekey, SignedPrekey};
use crate::protocol::rest::{OneTimePrekeyJson, SignedPrekeyUpload, UploadPrekeysRequest};
use crate::store::{
    AccountMeta, OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreError, StoreOp, WriteBatch,
};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// How prekeys are kept. The defaults are the reference client's numbers, plus how long
/// replaced secrets are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrekeyPolicy {
    /// One-time prekeys to have on the backend after a top-up.
    pub target_one_time: u32,
    /// Top up when the backend reports fewer than this many.
    pub refill_below: u32,
    /// At most this many one-time prekeys per upload (the backend refuses more than 200).
    pub upload_batch: usize,
    /// Make a new signed prekey when the current one is older than this.
    pub signed_prekey_lifetime_ms: i64,
    /// Keep a replaced signed prekey's secret this long, for first messages that were
    /// built on it before the peer saw the new one.
    pub retired_signed_prekey_keep_ms: i64,
    /// Keep at most this many one-time prekey secrets; the oldest go first. Bundle fetches
    /// use prekeys up on the backend without a first message ever arriving, so without a
    /// cap their secrets would pile up forever.
    pub max_local_one_time: usize,
}

impl Default for PrekeyPolicy {
    fn default() -> Self {
        Self {
            target_one_time: 100,
            refill_below: 20,
            upload_batch: 50,
            signed_prekey_lifetime_ms: 7 * DAY_MS,
            retired_signed_prekey_keep_ms: 30 * DAY_MS,
            max_local_one_time: 1000,
        }
    }
}

/// Why prekey care failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrekeyCareError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store holds no identity.
    #[error("the store holds no identity: create or import an account first")]
    NoIdentity,
    /// The store holds no current signed prekey.
    #[error("the store holds no current signed prekey")]
    NoSignedPrekey,
}

/// An upload to make, and what to mark uploaded once the backend accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    /// The request body for `POST /api/users/prekeys`.
    pub request: UploadPrekeysRequest,
    /// The signed prekey it publishes, if any.
    pub signed_prekey_id: Option<u32>,
    /// The one-time prekeys it publishes.
    pub one_time_prekey_ids: Vec<u32>,
}

/// Prekey care over a store.
#[derive(Debug, Clone, Copy)]
pub struct PrekeyCare<'s, S> {
    store: &'s S,
    policy: PrekeyPolicy,
}

impl<'s, S: Store> PrekeyCare<'s, S> {
    /// Prekey care of the account in `store`.
    pub fn new(store: &'s S, policy: PrekeyPolicy) -> Self {
        Self { store, policy }
    }

    async fn meta(&self) -> Result<AccountMeta, PrekeyCareError> {
        self.store
            .account_meta()
            .await?
            .ok_or(PrekeyCareError::NoIdentity)
    }

    /// The next upload: the current signed prekey if the backend does not have it yet, and
    /// up to `upload_batch` one-time prekeys it does not have. `None` when all is published.
    /// Call it again after [`PrekeyCare::mark_uploaded`] until it returns `None`.
    pub async fn next_upload(&self) -> Result<Option<PendingUpload>, PrekeyCareError> {
        let identity = self
            .store
            .identity()
            .await?
            .ok_or(PrekeyCareError::NoIdentity)?;
        let meta = self.meta().await?;
        let current_id = meta
            .current_signed_prekey_id
            .ok_or(PrekeyCareError::NoSignedPrekey)?;
        let signed = self
            .store
            .signed_prekey(current_id)
            .await?
            .ok_or(PrekeyCareError::NoSignedPrekey)?;
        let signed_upload =
            (!signed.uploaded).then(|| SignedPrekeyUpload::from(&signed.prekey.public()));
        let one_time: Vec<OneTimePrekeyRecord> = self
            .store
            .one_time_prekeys()
            .await?
            .into_iter()
            .filter(|p| !p.uploaded)
            .take(self.policy.upload_batch)
            .collect();
        if signed_upload.is_none() && one_time.is_empty() {
            return Ok(None);
        }
        let public = identity.identity.public();
        Ok(Some(PendingUpload {
            request: UploadPrekeysRequest {
                identity_key: public.dh.to_base64(),
                signing_key: public.signing.to_base64(),
                fingerprint: public.fingerprint().as_str().to_string(),
                signed_prekey: signed_upload,
                one_time_prekeys: (!one_time.is_empty()).then(|| {
                    one_time
                        .iter()
                        .map(|p| OneTimePrekeyJson::from(&p.prekey.public()))
                        .collect()
                }),
            },
            signed_prekey_id: (!signed.uploaded).then_some(current_id),
            one_time_prekey_ids: one_time.iter().map(|p| p.prekey.id()).collect(),
        }))
    }

    /// Records that the backend accepted `upload`. It reads the prekeys and writes them
    /// back: the caller keeps other writers of prekeys (a first message using one up, a
    /// rotation) out until it returns, or a prekey used up in between would come back. The
    /// client holds its crypto lock.
    pub async fn mark_uploaded(
        &self,
        upload: &PendingUpload,
        now: i64,
    ) -> Result<(), PrekeyCareError> {
        let mut batch = WriteBatch::new();
        if let Some(id) = upload.signed_prekey_id
            && let Some(mut record) = self.store.signed_prekey(id).await?
        {
            record.uploaded = true;
            batch.push(StoreOp::PutSignedPrekey(record));
        }
        for id in &upload.one_time_prekey_ids {
            if let Some(mut record) = self.store.one_time_prekey(*id).await? {
                record.uploaded = true;
                batch.push(StoreOp::PutOneTimePrekey(record));
            }
        }
        let mut meta = self.meta().await?;
        meta.last_upload_at = Some(now);
        batch.push(StoreOp::PutAccountMeta(meta));
        self.store.commit(batch).await?;
        Ok(())
    }

    /// Makes new one-time prekeys when the backend reports fewer than `refill_below`, so
    /// that with those not yet uploaded it will hold `target_one_time`. Returns how many were
    /// made (upload them with [`PrekeyCare::next_upload`]).
    pub async fn top_up<R: CryptoRng + ?Sized>(
        &self,
        on_server: u32,
        rng: &mut R,
    ) -> Result<u32, PrekeyCareError> {
        if on_server >= self.policy.refill_below {
            return Ok(0);
        }
        let local = self.store.one_time_prekeys().await?;
        let waiting = local.iter().filter(|p| !p.uploaded).count() as u32;
        let wanted = self
            .policy
            .target_one_time
            .saturating_sub(on_server)
            .saturating_sub(waiting);
        if wanted == 0 {
            return Ok(0);
        }
        let mut meta = self.meta().await?;
        let mut batch = WriteBatch::new();
        push_new_one_time(&mut meta, &mut batch, wanted, rng);
        // Forget the oldest uploaded secrets beyond the cap (ids grow with age).
        let total = local.len() + wanted as usize;
        let excess = total.saturating_sub(self.policy.max_local_one_time);
        for old in local.iter().filter(|p| p.uploaded).take(excess) {
            batch.push(StoreOp::DeleteOneTimePrekey(old.prekey.id()));
        }
        batch.push(StoreOp::PutAccountMeta(meta));
        self.store.commit(batch).await?;
        Ok(wanted)
    }

    /// Makes `count` more one-time prekeys (`count` draws), to go out with the next
    /// uploads, whatever the backend holds (the reference client's `queueOneTimePrekeys`).
    pub async fn add_one_time<R: CryptoRng + ?Sized>(
        &self,
        count: u32,
        rng: &mut R,
    ) -> Result<(), PrekeyCareError> {
        let mut meta = self.meta().await?;
        let mut batch = WriteBatch::new();
        push_new_one_time(&mut meta, &mut batch, count, rng);
        batch.push(StoreOp::PutAccountMeta(meta));
        self.store.commit(batch).await?;
        Ok(())
    }

    /// Replaces the signed prekey when it is older than `signed_prekey_lifetime_ms` (one
    /// draw), keeping the old secret `retired_signed_prekey_keep_ms` longer, and forgets
    /// retired secrets past that. Returns whether a new one was made.
    pub async fn rotate_if_due<R: CryptoRng + ?Sized>(
        &self,
        now: i64,
        rng: &mut R,
    ) -> Result<bool, PrekeyCareError> {
        self.rotate(now, false, rng).await
    }

    /// Replaces the signed prekey now, whatever its age (one draw); otherwise as
    /// [`PrekeyCare::rotate_if_due`].
    pub async fn rotate_now<R: CryptoRng + ?Sized>(
        &self,
        now: i64,
        rng: &mut R,
    ) -> Result<(), PrekeyCareError> {
        self.rotate(now, true, rng).await.map(|_| ())
    }

    async fn rotate<R: CryptoRng + ?Sized>(
        &self,
        now: i64,
        force: bool,
        rng: &mut R,
    ) -> Result<bool, PrekeyCareError> {
        let identity = self
            .store
            .identity()
            .await?
            .ok_or(PrekeyCareError::NoIdentity)?;
        let mut meta = self.meta().await?;
        let all = self.store.signed_prekeys().await?;
        let current = meta
            .current_signed_prekey_id
            .and_then(|id| all.iter().find(|s| s.prekey.id() == id));
        let mut batch = WriteBatch::new();
        for expired in all.iter().filter(|s| {
            s.retired_at
                .is_some_and(|at| now - at > self.policy.retired_signed_prekey_keep_ms)
        }) {
            batch.push(StoreOp::DeleteSignedPrekey(expired.prekey.id()));
        }
        let due = force
            || current.is_none_or(|c| {
                now - c.prekey.created_at() > self.policy.signed_prekey_lifetime_ms
            });
        if due {
            if let Some(current) = current {
                let mut retired = current.clone();
                retired.retired_at = Some(now);
                batch.push(StoreOp::PutSignedPrekey(retired));
            }
            let id = meta.next_prekey_id;
            meta.next_prekey_id += 1;
            meta.current_signed_prekey_id = Some(id);
            batch.push(StoreOp::PutSignedPrekey(SignedPrekeyRecord {
                prekey: SignedPrekey::generate(&identity.identity, id, now, rng),
                uploaded: false,
                retired_at: None,
            }));
            batch.push(StoreOp::PutAccountMeta(meta));
        }
        if !batch.is_empty() {
            self.store.commit(batch).await?;
        }
        Ok(due)
    }
}

/// Adds `count` new one-time prekeys, numbered on from `meta`, to `batch`.
fn push_new_one_time<R: CryptoRng + ?Sized>(
    meta: &mut AccountMeta,
    batch: &mut WriteBatch,
    count: u32,
    rng: &mut R,
) {
    for _ in 0..count {
        let id = meta.next_prekey_id;
        meta.next_prekey_id += 1;
        batch.push(StoreOp::PutOneTimePrekey(OneTimePrekeyRecord {
            prekey: OneTimePrekey::generate(id, rng),
            uploaded: false,
        }));
    }
}
