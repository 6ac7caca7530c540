//! The behaviour suite against both stores, and what only a real file can show.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quickchat_core::store::sealing::KdfParams;
use quickchat_core::store::{MessageQuery, MessageStatus, Store, StoreError, StoreOp, WriteBatch};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::store::layout::{
    BY_CONVERSATION, FORMAT, KNOWN_IDENTITIES, MESSAGES, META, META_FORMAT, OUTBOX, SESSIONS,
};
use crate::store::{Durability, KdfStrength, RedbStore, StoreOptions};
use quickchat_core::testing::store_suite::fixtures::*;
use quickchat_core::testing::store_suite::{Model, check_contents, check_store};

const PASSPHRASE: &str = "correct horse battery staple";

fn options() -> StoreOptions {
    StoreOptions::new().kdf(KdfStrength::InsecureForTests)
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

async fn open(path: &Path) -> RedbStore {
    RedbStore::open_with(path, PASSPHRASE, options())
        .await
        .expect("open")
}

fn corrupt_what(result: Result<RedbStore, StoreError>) -> String {
    match result {
        Err(StoreError::Corrupt { what, detail }) => format!("{what}: {detail}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let path = e.expect("entry").path();
            let bytes = std::fs::read(&path).expect("read file");
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

/// Commits a batch of ops.
async fn commit(store: &impl Store, ops: Vec<StoreOp>) -> Result<(), StoreError> {
    let mut batch = WriteBatch::new();
    for op in ops {
        batch.push(op);
    }
    store.commit(batch).await
}

/// A store with a little of everything, closed; returns its path.
async fn small_store(dir: &Path) -> PathBuf {
    let path = dir.join("small.qcstore");
    let store = open(&path).await;
    let mut rng = rng(3);
    let me = identity(&mut rng);
    commit(
        &store,
        vec![
            StoreOp::PutIdentity(me.clone()),
            StoreOp::PutAccountMeta(account_meta(3)),
            StoreOp::PutSignedPrekey(signed_prekey(&me, 1, true, &mut rng)),
            StoreOp::PutOneTimePrekey(one_time_prekey(2, false, &mut rng)),
            StoreOp::PutSessions(peer_sessions("alice", 1, &mut rng)),
            StoreOp::PutKnownIdentity(known_identity("alice", true, &mut rng)),
            StoreOp::PutMessage(message(
                "m1",
                direct("alice"),
                NOW,
                MessageStatus::Sent,
                "SECRET-BODY-one",
            )),
            StoreOp::PutMessage(message(
                "m2",
                direct("alice"),
                NOW + 1,
                MessageStatus::Pending,
                "SECRET-BODY-two",
            )),
        ],
    )
    .await
    .expect("commit");
    store.close().expect("close");
    path
}

// ---------------------------------------------------------------------------------------
// The shared behaviour

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_store_passes_the_behaviour_suite_and_keeps_everything_after_reopening() {
    let dir = temp_dir();
    let path = dir.path().join("chat.qcstore");
    let store = open(&path).await;
    let model = check_store(&store).await;
    store.close().expect("close");

    let reopened = open(&path).await;
    check_contents(&reopened, &model).await;
    drop(reopened);
    // Dropping closes too.
    check_contents(&open(&path).await, &model).await;
}

#[test]
fn redb_store_works_outside_a_tokio_runtime() {
    let dir = temp_dir();
    let path = dir.path().join("plain.qcstore");
    let model: Model = futures_executor::block_on(async {
        let store = RedbStore::open_with(&path, PASSPHRASE, options())
            .await
            .expect("open");
        check_store(&store).await
    });
    let store = RedbStore::open_blocking(&path, PASSPHRASE, options()).expect("reopen");
    futures_executor::block_on(check_contents(&store, &model));
}

#[tokio::test(flavor = "current_thread")]
async fn redb_store_works_on_a_current_thread_runtime() {
    let dir = temp_dir();
    let path = dir.path().join("current.qcstore");
    let store = open(&path).await;
    let model = check_store(&store).await;
    assert!(!model.messages.is_empty());
}

// ---------------------------------------------------------------------------------------
// Creating and opening

#[cfg(unix)]
#[tokio::test]
async fn a_new_store_is_private_and_the_directory_is_left_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir();
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o7777;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = dir.path().join("new.qcstore");
    let store = open(&path).await;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(dir.path()), 0o755);
    // Nothing else is left in the directory (the temporary name used while creating).
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("new.qcstore")]);
    drop(store);
    assert_eq!(mode(&path), 0o600);

    // A missing directory is not created.
    let nested = dir.path().join("missing").join("store.qcstore");
    let result = RedbStore::open_with(&nested, PASSPHRASE, options()).await;
    assert!(
        matches!(result, Err(StoreError::Backend { .. })),
        "{result:?}"
    );
    assert!(!dir.path().join("missing").exists());
}

#[tokio::test]
async fn a_new_store_uses_the_recommended_argon2id_costs_by_default() {
    let dir = temp_dir();
    let path = dir.path().join("default.qcstore");
    RedbStore::open(&path, PASSPHRASE)
        .await
        .expect("create")
        .close()
        .expect("close");
    let db = redb::Database::open(&path).expect("raw open");
    let txn = db.begin_read().expect("read");
    let meta = txn.open_table(META).expect("meta");
    let kdf: KdfParams =
        serde_json::from_slice(meta.get("kdf").expect("get").expect("kdf").value()).expect("json");
    assert_eq!(
        (kdf.memory_kib, kdf.iterations, kdf.parallelism),
        (19 * 1024, 2, 1)
    );
    assert_eq!(kdf.salt.len(), 16);
}

#[tokio::test]
async fn a_wrong_passphrase_is_refused_and_changes_nothing() {
    let dir = temp_dir();
    let path = small_store(dir.path()).await;
    let before = snapshot(dir.path());
    let result = RedbStore::open_with(&path, "Correct horse battery staple", options()).await;
    assert!(
        matches!(result, Err(StoreError::WrongPassphrase)),
        "{result:?}"
    );
    assert_eq!(snapshot(dir.path()), before);
    // The right one still opens it, and the KDF options do not matter for an existing store.
    let store = RedbStore::open_with(&path, PASSPHRASE, StoreOptions::new())
        .await
        .expect("open");
    assert!(store.identity().await.expect("identity").is_some());
}

#[tokio::test]
async fn files_that_are_not_quickchat_stores_are_refused_untouched() {
    let dir = temp_dir();
    let real = small_store(dir.path()).await;
    let real_bytes = std::fs::read(&real).expect("read");

    // A foreign redb database.
    let foreign = dir.path().join("foreign.redb");
    {
        let db = redb::Database::create(&foreign).expect("create");
        let txn = db.begin_write().expect("write");
        {
            let mut t = txn
                .open_table(TableDefinition::<&str, u64>::new("things"))
                .expect("table");
            t.insert("a", 1).expect("insert");
        }
        txn.commit().expect("commit");
    }
    // A redb database whose header names a future format.
    let future = dir.path().join("future.qcstore");
    std::fs::copy(&real, &future).expect("copy");
    edit_raw(&future, |txn| {
        txn.open_table(META)
            .expect("meta")
            .insert("format", b"quickchat-store/99".as_slice())
            .expect("insert");
    });
    // Absurd KDF costs in the clear header must not be attempted.
    let greedy = dir.path().join("greedy.qcstore");
    std::fs::copy(&real, &greedy).expect("copy");
    edit_raw(&greedy, |txn| {
        let params = KdfParams {
            salt: vec![1; 16],
            memory_kib: u32::MAX,
            iterations: 2,
            parallelism: 1,
        };
        let json = serde_json::to_vec(&params).expect("json");
        txn.open_table(META)
            .expect("meta")
            .insert("kdf", json.as_slice())
            .expect("insert");
    });
    let cases: Vec<(&str, PathBuf, Option<Vec<u8>>)> = vec![
        (
            "text",
            dir.path().join("notes.txt"),
            Some(b"hello, not a database\n".to_vec()),
        ),
        ("empty", dir.path().join("empty"), Some(Vec::new())),
        (
            "random",
            dir.path().join("random.bin"),
            Some((0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect()),
        ),
        (
            "truncated to 1 KiB",
            dir.path().join("trunc-1k.qcstore"),
            Some(real_bytes[..1024].to_vec()),
        ),
        (
            "truncated to half",
            dir.path().join("trunc-half.qcstore"),
            Some(real_bytes[..real_bytes.len() / 2].to_vec()),
        ),
        ("foreign redb", foreign, None),
        ("future format", future, None),
        ("absurd kdf costs", greedy, None),
    ];
    for (name, path, contents) in cases {
        if let Some(bytes) = contents {
            std::fs::write(&path, bytes).expect("write");
        }
        let before = std::fs::read(&path).expect("read");
        let result = RedbStore::open_with(&path, PASSPHRASE, options()).await;
        match &result {
            Err(StoreError::Corrupt { what, detail }) => {
                assert!(!what.is_empty() && !detail.is_empty(), "{name}");
            }
            other => panic!("{name}: expected Corrupt, got {other:?}"),
        }
        assert_eq!(
            std::fs::read(&path).expect("read"),
            before,
            "{name} was changed"
        );
    }
    // A directory where the file should be.
    let result = corrupt_what(RedbStore::open_with(dir.path(), PASSPHRASE, options()).await);
    assert!(result.contains("not a regular file"), "{result}");
    // The real one is still fine.
    open(&real).await;
}

/// What a sweep of one-byte damage over a store file found.
#[derive(Debug, Default)]
struct Sweep {
    tried: usize,
    refused_at_open: usize,
    refused_later: usize,
    /// A record read as absent, or a query came back short, with no error.
    silently_missing: usize,
}

/// Flips one byte at a time across the whole file. Every open and read must fail with a
/// clear error or return exactly what was written, never other data.
async fn damage_sweep(dir: &Path, verify_on_open: bool) -> Sweep {
    let real = small_store(dir).await;
    let (identity, sessions, messages) = {
        let store = open(&real).await;
        (
            store.identity().await.expect("identity"),
            store.peer_sessions("alice").await.expect("sessions"),
            store
                .messages(&MessageQuery::default())
                .await
                .expect("messages"),
        )
    };
    let bytes = std::fs::read(&real).expect("read");
    let path = dir.join("damaged.qcstore");
    let mut sweep = Sweep::default();
    for offset in (0..bytes.len()).step_by(bytes.len() / 211 + 1) {
        sweep.tried += 1;
        let mut damaged = bytes.clone();
        damaged[offset] ^= 0x5A;
        std::fs::write(&path, &damaged).expect("write");
        let opened =
            RedbStore::open_with(&path, PASSPHRASE, options().verify_on_open(verify_on_open)).await;
        let store = match opened {
            Ok(store) => store,
            Err(StoreError::Corrupt { .. } | StoreError::Backend { .. }) => {
                assert_eq!(
                    std::fs::read(&path).expect("read"),
                    damaged,
                    "offset {offset}"
                );
                sweep.refused_at_open += 1;
                continue;
            }
            Err(other) => panic!("offset {offset}: {other:?}"),
        };
        let (mut refused, mut missing) = (false, false);
        match store.identity().await {
            Ok(Some(i)) => assert_eq!(Some(i), identity, "offset {offset}"),
            Ok(None) => missing = true,
            Err(_) => refused = true,
        }
        match store.peer_sessions("alice").await {
            Ok(Some(s)) => assert_eq!(Some(s), sessions, "offset {offset}"),
            Ok(None) => missing = true,
            Err(_) => refused = true,
        }
        match store.messages(&MessageQuery::default()).await {
            Ok(found) => {
                for m in &found {
                    assert!(messages.contains(m), "offset {offset}: {m:?}");
                }
                missing |= found.len() != messages.len();
            }
            Err(_) => refused = true,
        }
        sweep.refused_later += usize::from(refused);
        sweep.silently_missing += usize::from(missing && !refused);
    }
    sweep
}

#[tokio::test]
async fn a_damaged_byte_anywhere_is_refused_at_open_and_never_read_as_good_data() {
    let dir = temp_dir();
    let sweep = damage_sweep(dir.path(), true).await;
    // With verification on open, damage to anything in use is found before the store opens
    // (most of a small store's file is unused space, where damage is harmless).
    assert!(sweep.refused_at_open > 0, "{sweep:?}");
    assert_eq!(sweep.silently_missing, 0, "{sweep:?}");
    assert_eq!(sweep.refused_later, 0, "{sweep:?}");
}

#[tokio::test]
async fn without_verification_damage_is_still_never_read_as_good_data() {
    let dir = temp_dir();
    let sweep = damage_sweep(dir.path(), false).await;
    assert!(sweep.refused_at_open + sweep.refused_later > 0, "{sweep:?}");
}

// ---------------------------------------------------------------------------------------
// Encryption at rest

#[tokio::test]
async fn secrets_and_contents_are_not_in_the_file_in_the_clear() {
    let dir = temp_dir();
    let path = small_store(dir.path()).await;
    let store = open(&path).await;
    let identity = store.identity().await.expect("read").expect("identity");
    let sessions = store
        .peer_sessions("alice")
        .await
        .expect("read")
        .expect("sessions");
    drop(store);
    let bytes = std::fs::read(&path).expect("read");
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    let seed_b64 = serde_json::to_value(&identity).expect("json")["identity"].to_string();
    let session_json = serde_json::to_string(&sessions.current.ratchet).expect("json");
    for (name, needle) in [
        ("message body", b"SECRET-BODY".as_slice()),
        ("login token", b"header.payload.signature".as_slice()),
        ("user id", b"me-id".as_slice()),
        ("identity key pair", seed_b64.trim_matches('"').as_bytes()),
        ("ratchet state", &session_json.as_bytes()[..40]),
        ("JSON field names", b"rootKey".as_slice()),
        ("JSON field names", b"secretKey".as_slice()),
    ] {
        assert!(!contains(needle), "{name} found in the clear");
    }
    // What is meant to be visible: the format marker and index keys.
    assert!(contains(b"quickchat-store/2"));
    assert!(contains(b"alice"));
}

/// Changes a closed store's file below the store, in one redb write transaction.
fn edit_raw(path: &Path, edit: impl FnOnce(&redb::WriteTransaction)) {
    let db = redb::Database::open(path).expect("raw open");
    let txn = db.begin_write().expect("write");
    edit(&txn);
    txn.commit().expect("commit");
}

/// The key of the first entry of a table keyed by bytes.
fn first_key<V: redb::Value + 'static>(table: &impl ReadableTable<&'static [u8], V>) -> Vec<u8> {
    table
        .iter()
        .expect("iter")
        .next()
        .expect("an entry")
        .expect("entry")
        .0
        .value()
        .to_vec()
}

/// Replaces message `id`'s clear locator with garbage, keeping its sealed record: any write
/// that replaces the message then fails (in the middle of its batch).
fn damage_locator(path: &Path, id: &str) {
    edit_raw(path, |txn| {
        let mut messages = txn.open_table(MESSAGES).expect("table");
        let sealed = messages
            .get(id)
            .expect("get")
            .expect("message")
            .value()
            .1
            .to_vec();
        messages
            .insert(id, (b"x".as_slice(), sealed.as_slice()))
            .expect("insert");
    });
}

/// Copies the raw value of `key` in `from` to `to_key` in `to`.
fn copy_raw(
    path: &Path,
    from: TableDefinition<&str, &[u8]>,
    key: &str,
    to: TableDefinition<&str, &[u8]>,
    to_key: &str,
) {
    edit_raw(path, |txn| {
        let source = txn.open_table(from).expect("table");
        let value = source
            .get(key)
            .expect("get")
            .expect("value")
            .value()
            .to_vec();
        drop(source);
        txn.open_table(to)
            .expect("table")
            .insert(to_key, value.as_slice())
            .expect("insert");
    });
}

#[tokio::test]
async fn a_record_moved_to_another_key_or_table_does_not_open() {
    let dir = temp_dir();
    let path = small_store(dir.path()).await;
    copy_raw(&path, SESSIONS, "alice", SESSIONS, "mallory");
    copy_raw(&path, SESSIONS, "alice", KNOWN_IDENTITIES, "alice");
    edit_raw(&path, |txn| {
        let mut messages = txn.open_table(MESSAGES).expect("table");
        let (loc, sealed) = {
            let v = messages.get("m1").expect("get").expect("m1");
            (v.value().0.to_vec(), v.value().1.to_vec())
        };
        messages
            .insert("m9", (loc.as_slice(), sealed.as_slice()))
            .expect("insert");
    });
    let store = open(&path).await;
    assert!(store.peer_sessions("alice").await.expect("alice").is_some());
    for result in [
        store.peer_sessions("mallory").await.map(|_| ()),
        store.known_identity("alice").await.map(|_| ()),
        store.message("m9").await.map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(StoreError::Corrupt { .. })),
            "{result:?}"
        );
    }
    assert!(store.message("m1").await.expect("m1").is_some());
}

#[tokio::test]
async fn a_tampered_index_is_reported_not_believed() {
    let dir = temp_dir();
    let path = small_store(dir.path()).await;
    // Point an index entry of m1 at another time: the entry no longer matches m1.
    edit_raw(&path, |txn| {
        let mut index = txn.open_table(BY_CONVERSATION).expect("table");
        let key = first_key(&index);
        index.remove(key.as_slice()).expect("remove");
        let mut moved = key.clone();
        let ts_at = moved.len() - "m1".len() - 1;
        moved[ts_at] ^= 1;
        index.insert(moved.as_slice(), ()).expect("insert");
    });
    let store = open(&path).await;
    let result = store
        .messages(&MessageQuery {
            conversation: Some(direct("alice")),
            ..Default::default()
        })
        .await;
    assert!(
        matches!(result, Err(StoreError::Corrupt { .. })),
        "{result:?}"
    );
    // Direct reads do not depend on the index.
    assert!(store.message("m1").await.expect("m1").is_some());
}

/// The one outbox entry's raw value, or `None` when the outbox is empty.
fn raw_outbox_value(path: &Path) -> Option<Vec<u8>> {
    let db = redb::Database::open(path).expect("raw open");
    let txn = db.begin_read().expect("read");
    let outbox = txn.open_table(OUTBOX).expect("table");
    let mut entries = outbox.iter().expect("iter");
    let value = entries.next().map(|e| e.expect("entry").1.value().to_vec());
    assert!(entries.next().is_none(), "one outbox entry at most");
    value
}

#[tokio::test]
async fn a_pending_wire_lives_in_its_outbox_entry_bound_to_the_sealed_record() {
    let dir = temp_dir();
    let path = dir.path().join("outbox.redb");
    let pending = message("p1", direct("bob"), 10, MessageStatus::Pending, "hello");
    let wire = pending.wire.clone().expect("a pending fixture has a wire");
    let store = open(&path).await;
    commit(&store, vec![StoreOp::PutMessage(pending.clone())])
        .await
        .expect("commit");
    assert_eq!(
        store.message("p1").await.expect("read"),
        Some(pending.clone())
    );
    let outbox_query = MessageQuery {
        status: Some(MessageStatus::Pending),
        ..Default::default()
    };
    assert_eq!(
        store.messages(&outbox_query).await.expect("outbox"),
        vec![pending.clone()]
    );
    store.close().expect("close");

    // The wire is in the outbox entry (the end-to-end ciphertext, already meant for the
    // backend), the record sealed without it.
    let value = raw_outbox_value(&path).expect("an outbox entry");
    assert!(value.ends_with(wire.as_bytes()));

    // A changed wire is refused, not sent.
    let mut tampered = value.clone();
    *tampered.last_mut().expect("bytes") ^= 0x01;
    let write_outbox = |value: &[u8]| {
        edit_raw(&path, |txn| {
            let mut outbox = txn.open_table(OUTBOX).expect("table");
            let key = first_key(&outbox);
            outbox.insert(key.as_slice(), value).expect("insert");
        });
    };
    write_outbox(&tampered);
    let store = open(&path).await;
    for result in [
        store.message("p1").await.map(|_| ()),
        store.messages(&outbox_query).await.map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(StoreError::Corrupt { .. })),
            "{result:?}"
        );
    }
    store.close().expect("close");
    write_outbox(&value);

    // Confirmed by the backend: out of the outbox, and the wire with it.
    let store = open(&path).await;
    let mut sent = pending.clone();
    sent.status = MessageStatus::Sent;
    sent.wire = None;
    commit(&store, vec![StoreOp::PutMessage(sent.clone())])
        .await
        .expect("commit");
    assert_eq!(store.message("p1").await.expect("read"), Some(sent));
    store.close().expect("close");
    assert_eq!(raw_outbox_value(&path), None);

    // A failed message keeps its wire inside its sealed record.
    let store = open(&path).await;
    let mut failed = pending;
    failed.status = MessageStatus::Failed;
    commit(&store, vec![StoreOp::PutMessage(failed.clone())])
        .await
        .expect("commit");
    assert_eq!(store.message("p1").await.expect("read"), Some(failed));
}

/// A store written by the previous release (format 1: a pending message's wire inside its
/// sealed record, sessions as JSON), made by `RedbStore` at commit 081682b.
const FORMAT_1_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/store-format-1.redb"
);

#[tokio::test]
async fn a_format_1_store_is_read_as_it_is_and_marked_format_2() {
    let dir = temp_dir();
    let path = dir.path().join("format-1.redb");
    std::fs::copy(FORMAT_1_FIXTURE, &path).expect("copy the fixture");
    let passphrase = "format-1 fixture";
    let old_wire = r#"{"header":{"ratchetKey":"v1"},"ciphertext":"AAAA","authTag":""}"#;
    let store = RedbStore::open_with(&path, passphrase, options())
        .await
        .expect("a format-1 store opens");
    let outbox_query = MessageQuery {
        status: Some(MessageStatus::Pending),
        ..Default::default()
    };
    let outbox = store.messages(&outbox_query).await.expect("outbox");
    let summary: Vec<(&str, Option<&str>)> = outbox
        .iter()
        .map(|m| (m.id.as_str(), m.wire.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("m-pending-encrypted", Some(old_wire)),
            ("m-pending-plain", None)
        ]
    );
    // Sessions written as JSON are read, and written again in the binary form.
    let sessions = store
        .peer_sessions("bob-id")
        .await
        .expect("format-1 sessions read")
        .expect("kept");
    assert_eq!(sessions.current.created_at, 10);
    assert_eq!(
        sessions.current.origin,
        quickchat_core::session::SessionOrigin::Initiated {
            remote_signed_prekey_id: 4
        }
    );
    commit(&store, vec![StoreOp::PutSessions(sessions.clone())])
        .await
        .expect("commit");
    assert_eq!(
        store.peer_sessions("bob-id").await.expect("read"),
        Some(sessions)
    );
    let failed = store
        .message("m-failed")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(failed.wire.as_deref(), Some(r#"{"failed":true}"#));
    assert_eq!(
        store
            .messages(&MessageQuery::default())
            .await
            .expect("history")
            .len(),
        4
    );
    // Old and new entries side by side: the old pending message confirmed, a new one
    // queued the new way.
    let mut confirmed = outbox[0].clone();
    confirmed.status = MessageStatus::Sent;
    confirmed.wire = None;
    let new = message(
        "m-new",
        direct("bob-id"),
        5_000,
        MessageStatus::Pending,
        "new",
    );
    commit(
        &store,
        vec![
            StoreOp::PutMessage(confirmed),
            StoreOp::PutMessage(new.clone()),
        ],
    )
    .await
    .expect("commit");
    store.close().expect("close");
    {
        let db = redb::Database::open(&path).expect("raw open");
        let txn = db.begin_read().expect("read");
        let meta = txn.open_table(META).expect("meta");
        let format = meta.get(META_FORMAT).expect("get").expect("format");
        assert_eq!(format.value(), FORMAT);
    }
    let store = RedbStore::open_with(&path, passphrase, options())
        .await
        .expect("reopen");
    let ids: Vec<String> = store
        .messages(&outbox_query)
        .await
        .expect("outbox")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, vec!["m-pending-plain", "m-new"]);
    assert_eq!(store.message("m-new").await.expect("read"), Some(new));
}

// ---------------------------------------------------------------------------------------
// Atomicity and durability

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_fails_halfway_writes_nothing() {
    let dir = temp_dir();
    let path = dir.path().join("atomic.qcstore");
    let store = open(&path).await;
    let mut first = rng(5);
    commit(
        &store,
        vec![
            StoreOp::PutSessions(peer_sessions("alice", 0, &mut first)),
            StoreOp::PutMessage(message(
                "m1",
                direct("alice"),
                NOW,
                MessageStatus::Sent,
                "one",
            )),
        ],
    )
    .await
    .expect("commit");
    let before_sessions = store.peer_sessions("alice").await.expect("read");
    let before_messages = store
        .messages(&MessageQuery::default())
        .await
        .expect("read");

    let batch = || {
        let mut rng = rng(6);
        vec![
            StoreOp::PutSessions(peer_sessions("alice", 1, &mut rng)),
            StoreOp::PutMessage(message(
                "m1",
                group("g"),
                NOW + 9,
                MessageStatus::Pending,
                "moved",
            )),
            StoreOp::PutMessage(message(
                "m2",
                direct("bob"),
                NOW + 1,
                MessageStatus::Pending,
                "two",
            )),
            StoreOp::PutKnownIdentity(known_identity("bob", false, &mut rng)),
            StoreOp::ClearKeys,
        ]
    };
    for fail_at in 1..5 {
        *store.inner().fail_after_ops.lock().expect("lock") = Some(fail_at);
        let result = commit(&store, batch()).await;
        assert!(
            matches!(result, Err(StoreError::Backend { .. })),
            "{result:?}"
        );
        assert_eq!(
            store.peer_sessions("alice").await.expect("read"),
            before_sessions
        );
        assert_eq!(
            store
                .messages(&MessageQuery::default())
                .await
                .expect("read"),
            before_messages
        );
        assert_eq!(store.message("m2").await.expect("read"), None);
        assert_eq!(store.known_identity("bob").await.expect("read"), None);
        assert!(
            store
                .messages(&MessageQuery {
                    status: Some(MessageStatus::Pending),
                    ..Default::default()
                })
                .await
                .expect("read")
                .is_empty()
        );
    }
    *store.inner().fail_after_ops.lock().expect("lock") = None;

    // A real failure in the middle: message m1's clear locator is damaged on disk, so
    // replacing it fails after earlier ops of the batch were applied in the transaction.
    store.close().expect("close");
    damage_locator(&path, "m1");
    let store = open(&path).await;
    let result = commit(&store, batch()).await;
    assert!(
        matches!(result, Err(StoreError::Corrupt { .. })),
        "{result:?}"
    );
    assert_eq!(
        store.peer_sessions("alice").await.expect("read"),
        before_sessions
    );
    assert_eq!(store.message("m2").await.expect("read"), None);
    assert_eq!(store.known_identity("bob").await.expect("read"), None);
    store.close().expect("close");
    // And nothing of it reached the disk.
    let store = open(&path).await;
    assert_eq!(
        store.peer_sessions("alice").await.expect("read"),
        before_sessions
    );
    assert_eq!(store.message("m2").await.expect("read"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_are_each_all_or_nothing() {
    let dir = temp_dir();
    let path = small_store(dir.path()).await;
    // Damage m1's clear locator so that any batch replacing m1 fails in the middle.
    damage_locator(&path, "m1");
    let store = std::sync::Arc::new(open(&path).await);
    let mut tasks = Vec::new();
    for t in 0..24u64 {
        let store = std::sync::Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut rng = rng(100 + t);
            let peer = format!("peer-{t}");
            let mut ops = vec![
                StoreOp::PutSessions(peer_sessions(&peer, 0, &mut rng)),
                StoreOp::PutMessage(message(
                    &format!("c{t}"),
                    direct(&peer),
                    NOW + t as i64,
                    MessageStatus::Sent,
                    "concurrent",
                )),
            ];
            let poisoned = t % 6 == 5;
            if poisoned {
                ops.push(StoreOp::PutMessage(message(
                    "m1",
                    direct(&peer),
                    NOW,
                    MessageStatus::Sent,
                    "replace the damaged one",
                )));
            }
            (t, poisoned, commit(&*store, ops).await)
        }));
    }
    for task in tasks {
        let (t, poisoned, result) = task.await.expect("task");
        let peer = format!("peer-{t}");
        let sessions = store.peer_sessions(&peer).await.expect("read");
        let message = store.message(&format!("c{t}")).await.expect("read");
        if poisoned {
            assert!(
                matches!(result, Err(StoreError::Corrupt { .. })),
                "{t}: {result:?}"
            );
            assert!(
                sessions.is_none() && message.is_none(),
                "{t}: partly written"
            );
        } else {
            result.expect("commit");
            assert!(sessions.is_some() && message.is_some(), "{t}: not written");
        }
    }
}

#[tokio::test]
async fn deferred_commits_are_kept_by_flush_and_by_a_clean_close() {
    let dir = temp_dir();
    let path = dir.path().join("deferred.qcstore");
    let deferred = options().durability(Durability::Deferred);
    let store = RedbStore::open_with(&path, PASSPHRASE, deferred.clone())
        .await
        .expect("open");
    commit(
        &store,
        vec![StoreOp::PutMessage(message(
            "a",
            direct("x"),
            1,
            MessageStatus::Sent,
            "a",
        ))],
    )
    .await
    .expect("commit");
    store.flush().await.expect("flush");
    commit(
        &store,
        vec![StoreOp::PutMessage(message(
            "b",
            direct("x"),
            2,
            MessageStatus::Sent,
            "b",
        ))],
    )
    .await
    .expect("commit");
    store.close().expect("close");
    let store = open(&path).await;
    let ids: Vec<String> = store
        .messages(&MessageQuery::default())
        .await
        .expect("read")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["a", "b"]);
}

// ---------------------------------------------------------------------------------------
// One process at a time, and crashes

const PROBE_VAR: &str = "QC_STORE_PROBE";

/// Not a test by itself: the child process the tests below start (`mode:path` in
/// `QC_STORE_PROBE`). It prints one `PROBE:` line.
#[test]
#[ignore = "run by other tests in a child process"]
fn child_process_probe() {
    let Ok(spec) = std::env::var(PROBE_VAR) else {
        return;
    };
    let (mode, path) = spec.split_once(':').expect("mode:path");
    match mode {
        "open" => match RedbStore::open_blocking(path, PASSPHRASE, options()) {
            Ok(_) => println!("PROBE: opened"),
            Err(e) => println!("PROBE: {e}"),
        },
        "commit-and-crash" => {
            let store = RedbStore::open_blocking(path, PASSPHRASE, options()).expect("open");
            futures_executor::block_on(commit(
                &store,
                vec![StoreOp::PutMessage(message(
                    "from-child",
                    direct("alice"),
                    NOW,
                    MessageStatus::Sent,
                    "written before the crash",
                ))],
            ))
            .expect("commit");
            println!("PROBE: committed");
            // No destructor runs: the file is left as a crash leaves it.
            std::process::exit(0);
        }
        other => panic!("unknown probe mode {other}"),
    }
}

/// Runs the probe in a child process and returns its `PROBE:` line. The child must finish
/// within a minute (a hang is a failure, not a wait).
fn run_probe(mode: &str, path: &Path) -> String {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "store::tests::redb_file::child_process_probe",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE_VAR, format!("{mode}:{}", path.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the child process hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    stdout
        .lines()
        .find_map(|l| {
            l.split_once("PROBE: ")
                .map(|(_, rest)| rest.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no probe line in {stdout:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_open_elsewhere_gives_a_clear_error_at_once() {
    let dir = temp_dir();
    let path = small_store(dir.path()).await;
    let store = open(&path).await;

    // The same process.
    let again = RedbStore::open_with(&path, PASSPHRASE, options()).await;
    match &again {
        Err(e @ StoreError::InUse { .. }) => {
            assert!(e.to_string().contains("already open"), "{e}")
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    // Another process.
    let line = tokio::task::spawn_blocking({
        let path = path.clone();
        move || run_probe("open", &path)
    })
    .await
    .expect("probe");
    assert!(line.contains("already open"), "{line}");

    // Once closed, both can open it.
    store.close().expect("close");
    assert_eq!(run_probe("open", &path), "opened");
    open(&path).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_survives_a_crash_right_after_it() {
    let dir = temp_dir();
    let path = small_store(dir.path()).await;
    let line = tokio::task::spawn_blocking({
        let path = path.clone();
        move || run_probe("commit-and-crash", &path)
    })
    .await
    .expect("probe");
    assert_eq!(line, "committed");

    // The file was not closed cleanly; a wrong passphrase is still refused...
    let wrong = RedbStore::open_with(&path, "wrong", options()).await;
    assert!(
        matches!(wrong, Err(StoreError::WrongPassphrase)),
        "{wrong:?}"
    );
    // ...and the right one recovers it with the commit in place.
    let store = open(&path).await;
    let message = store
        .message("from-child")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(message.body, "written before the crash");
    assert!(store.message("m1").await.expect("read").is_some());
}

// ---------------------------------------------------------------------------------------
// Debug

#[tokio::test]
async fn debug_output_shows_no_secrets() {
    let dir = temp_dir();
    let path = small_store(dir.path()).await;
    let store = open(&path).await;
    let shown = format!("{store:?} {store:#?}");
    assert!(shown.contains("RedbStore"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(!shown.contains(PASSPHRASE), "{shown}");
    assert!(!shown.contains("horse"), "{shown}");
    assert!(!shown.contains("SECRET"), "{shown}");
    // Errors carry no secrets either.
    let wrong = RedbStore::open_with(&path, "hunter2-passphrase", options()).await;
    assert!(!format!("{wrong:?}").contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relaxed_batches_are_visible_at_once_and_kept_by_the_next_durable_commit() {
    let dir = temp_dir();
    let path = dir.path().join("relaxed.redb");
    let store = open(&path).await;
    let first = message(
        "relaxed-1",
        direct("peer"),
        1,
        MessageStatus::Sent,
        "relaxed",
    );
    let second = message(
        "durable-2",
        direct("peer"),
        2,
        MessageStatus::Sent,
        "durable",
    );
    let mut relaxed = WriteBatch::new().relaxed();
    relaxed.push(StoreOp::PutMessage(first.clone()));
    store.commit(relaxed).await.expect("relaxed commit");
    assert_eq!(
        store.message("relaxed-1").await.expect("read"),
        Some(first.clone())
    );
    commit(&store, vec![StoreOp::PutMessage(second.clone())])
        .await
        .expect("durable commit");
    drop(store);
    let reopened = open(&path).await;
    assert_eq!(
        reopened.message("relaxed-1").await.expect("read"),
        Some(first)
    );
    assert_eq!(
        reopened.message("durable-2").await.expect("read"),
        Some(second)
    );
}
