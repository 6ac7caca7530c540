//! Criterion benchmarks of the redb store, each with a baseline measured in the same run so
//! the ratios hold on a noisy machine. `benches/report.py` prints the table with the ratios.
//!
//! - open: a store of 10,000 messages and 1,000 peers' sessions, with the production KDF
//!   (Argon2id 19 MiB, 2 passes); baseline: the Argon2id derivation alone.
//! - commit: a received message and the session it advanced, in one commit, immediate and
//!   deferred durability; baseline: a raw redb commit of the same byte sizes into two
//!   tables, without serialization or sealing, at the same durability.
//! - reads the client makes often, through tokio's blocking pool and inline; baseline: an
//!   empty `spawn_blocking` round trip.
//! - record serialization: JSON (what the store uses) against CBOR.
// Bench code: a failed unwrap aborts the measurement, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use quickchat::store::{Durability, KdfStrength, RedbStore, StoreOptions};
use quickchat_core::keys::{IdentityKeyPair, OneTimePrekey, SignedPrekey};
use quickchat_core::rand_core::SeedableRng;
use quickchat_core::ratchet::RatchetState;
use quickchat_core::session::{PeerSessions, Session, SessionOrigin};
use quickchat_core::store::sealing::{KdfParams, SealingKey};
use quickchat_core::store::{
    ContentKind, Conversation, Direction, IdentityRecord, KnownIdentity, MessageQuery,
    MessageRecord, MessageStatus, OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreOp,
    WriteBatch,
};
use rand_chacha::ChaCha20Rng;
use redb::TableDefinition;

const PASSPHRASE: &str = "a long and reasonably good passphrase";
const MESSAGES: usize = 10_000;
const PEERS: usize = 1_000;
const CONVERSATIONS: usize = 100;
const NOW: i64 = 1_800_000_000_000;

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(42)
}

/// A peer's sessions as the engine leaves them after some traffic: a current session with
/// a few skipped keys and one previous session.
fn sessions(peer: &str, rng: &mut ChaCha20Rng) -> PeerSessions {
    let session = |rng: &mut ChaCha20Rng| {
        let secret = [3u8; 32];
        let mut alice = RatchetState::initiator(&secret, rng);
        let key = *alice.ratchet_public_key().expect("ratchet key");
        let mut bob = RatchetState::responder(&secret, key);
        let mut last = None;
        for i in 0..4u8 {
            last = Some(alice.encrypt(&[i; 64], rng).expect("encrypt"));
        }
        let last = last.expect("sent");
        bob.decrypt(&last.header, &last.ciphertext, rng)
            .expect("decrypt");
        bob.encrypt(b"reply", rng).expect("encrypt");
        Session {
            ratchet: bob,
            remote_identity_key: IdentityKeyPair::generate(rng).public().dh,
            pending_x3dh: None,
            origin: SessionOrigin::Responded {
                sender_ephemeral_key: Some(IdentityKeyPair::generate(rng).public().dh),
                initiator_ratchet_key: None,
            },
            created_at: NOW,
            updated_at: NOW,
        }
    };
    PeerSessions {
        peer_id: peer.to_string(),
        current: session(rng),
        previous: vec![session(rng)],
    }
}

fn message(i: usize, status: MessageStatus) -> MessageRecord {
    let peer = format!("peer-{:04}", i % CONVERSATIONS);
    MessageRecord {
        id: format!("msg-{i:08}-0123456789abcdef"),
        conversation: Conversation::Direct(peer.clone()),
        sender_id: peer,
        direction: Direction::Incoming,
        body: format!(
            "message number {i}: a chat line of ordinary length, about a hundred bytes long."
        ),
        kind: ContentKind::Text,
        image_data: None,
        timestamp: NOW + i as i64 * 1000,
        status,
        encrypted: true,
        read_at: None,
        wire: None,
        decrypt_error: None,
    }
}

/// Fills a store with 10,000 messages in 100 conversations (a few pending), 1,000 peers'
/// sessions and known identities, an identity and 100 one-time prekeys.
fn populate(store: &RedbStore, rng: &mut ChaCha20Rng) {
    let me = IdentityKeyPair::generate(rng);
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutIdentity(IdentityRecord {
        user_id: "me".into(),
        identity: me.clone(),
        created_at: NOW,
    }));
    batch.push(StoreOp::PutSignedPrekey(SignedPrekeyRecord {
        prekey: SignedPrekey::generate(&me, 1, NOW, rng),
        uploaded: true,
        retired_at: None,
    }));
    for id in 2..102 {
        batch.push(StoreOp::PutOneTimePrekey(OneTimePrekeyRecord {
            prekey: OneTimePrekey::generate(id, rng),
            uploaded: true,
        }));
    }
    for p in 0..PEERS {
        let peer = format!("peer-{p:04}");
        let identity = IdentityKeyPair::generate(rng);
        batch.push(StoreOp::PutSessions(sessions(&peer, rng)));
        batch.push(StoreOp::PutKnownIdentity(KnownIdentity {
            peer_id: peer,
            identity_key: identity.public().dh,
            signing_key: Some(identity.public().signing),
            first_seen: NOW,
            verified: false,
            unaccepted_change_from: None,
        }));
    }
    block_on(store.commit(batch)).expect("commit");
    for chunk in (0..MESSAGES).collect::<Vec<_>>().chunks(1000) {
        let mut batch = WriteBatch::new();
        for &i in chunk {
            let status = if i % 997 == 0 {
                MessageStatus::Pending
            } else {
                MessageStatus::Read
            };
            batch.push(StoreOp::PutMessage(message(i, status)));
        }
        block_on(store.commit(batch)).expect("commit");
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

fn populated_store(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("big.qcstore");
    let store = RedbStore::open_blocking(
        &path,
        PASSPHRASE,
        StoreOptions::new().durability(Durability::Deferred),
    )
    .expect("create");
    populate(&store, &mut rng());
    store.close().expect("close");
    path
}

/// Times `open` alone (the store is closed outside the timed part: the next open needs
/// the file free).
fn time_opens(iters: u64, path: &Path, options: &StoreOptions) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let started = Instant::now();
        let store = RedbStore::open_blocking(path, PASSPHRASE, options.clone()).expect("open");
        total += started.elapsed();
        store.close().expect("close");
    }
    total
}

fn open_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("dir");
    let path = populated_store(dir.path());
    println!(
        "store file: {:.1} MB",
        std::fs::metadata(&path).expect("meta").len() as f64 / 1e6
    );
    let params = KdfParams::generate(&mut rng());
    let mut g = c.benchmark_group("open");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.bench_function("baseline/argon2id_derive", |b| {
        b.iter(|| black_box(SealingKey::derive(PASSPHRASE, &params).expect("derive")))
    });
    g.bench_function("open/10k_messages_1k_sessions", |b| {
        b.iter_custom(|iters| time_opens(iters, &path, &StoreOptions::new()))
    });
    g.bench_function("open/10k_messages_1k_sessions_without_verification", |b| {
        b.iter_custom(|iters| time_opens(iters, &path, &StoreOptions::new().verify_on_open(false)))
    });
    g.bench_function("open/10k_messages_1k_sessions_then_first_reads", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let store =
                    RedbStore::open_blocking(&path, PASSPHRASE, StoreOptions::new()).expect("open");
                block_on(async {
                    black_box(store.identity().await.expect("identity"));
                    black_box(store.peer_sessions("peer-0042").await.expect("sessions"));
                    black_box(
                        store
                            .messages(&MessageQuery {
                                conversation: Some(Conversation::Direct("peer-0042".into())),
                                limit: Some(50),
                                ..Default::default()
                            })
                            .await
                            .expect("messages"),
                    );
                });
                total += started.elapsed();
                store.close().expect("close");
            }
            total
        })
    });
    g.finish();
}

const RAW_A: TableDefinition<&str, &[u8]> = TableDefinition::new("a");
const RAW_B: TableDefinition<&str, &[u8]> = TableDefinition::new("b");

fn commit_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("dir");
    let mut rng = rng();
    let session = sessions("peer-0001", &mut rng);
    // The sizes a sealed commit writes, for the raw baseline.
    let session_len = serde_json::to_vec(&session).expect("json").len() + 28;
    let message_len = serde_json::to_vec(&message(0, MessageStatus::Read))
        .expect("json")
        .len()
        + 28;
    let mut g = c.benchmark_group("commit");
    g.sample_size(30).measurement_time(Duration::from_secs(6));
    for durability in [Durability::Immediate, Durability::Deferred] {
        let label = match durability {
            Durability::Immediate => "immediate",
            _ => "deferred",
        };
        let path = dir.path().join(format!("commit-{label}.qcstore"));
        let store = RedbStore::open_blocking(
            &path,
            PASSPHRASE,
            StoreOptions::new()
                .kdf(KdfStrength::InsecureForTests)
                .durability(durability),
        )
        .expect("open");
        let mut n = 0usize;
        g.bench_function(format!("commit/message_and_session_{label}"), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    let mut batch = WriteBatch::new();
                    batch.push(StoreOp::PutMessage(message(n, MessageStatus::Read)));
                    batch.push(StoreOp::PutSessions(session.clone()));
                    batch
                },
                |batch| block_on(store.commit(batch)).expect("commit"),
                BatchSize::SmallInput,
            )
        });
        if durability == Durability::Immediate {
            // Fifty received messages and their session in one commit: one fsync for all.
            let mut n = 1_000_000usize;
            g.bench_function("commit/50_messages_and_session_immediate", |b| {
                b.iter_batched(
                    || {
                        let mut batch = WriteBatch::new();
                        for _ in 0..50 {
                            n += 1;
                            batch.push(StoreOp::PutMessage(message(n, MessageStatus::Read)));
                        }
                        batch.push(StoreOp::PutSessions(session.clone()));
                        batch
                    },
                    |batch| block_on(store.commit(batch)).expect("commit"),
                    BatchSize::SmallInput,
                )
            });
            // Eight tasks committing at once (per commit): group commit shares the fsyncs.
            let shared = Arc::new(store);
            let rt = runtime();
            let mut n = 2_000_000usize;
            g.bench_function("commit/8_concurrent_message_and_session_immediate", |b| {
                b.iter_custom(|iters| {
                    let started = Instant::now();
                    rt.block_on(async {
                        let per_task = iters.div_ceil(8) as usize;
                        let mut tasks = Vec::new();
                        for t in 0..8 {
                            let store = Arc::clone(&shared);
                            let session = session.clone();
                            let base = n + t * per_task;
                            tasks.push(tokio::spawn(async move {
                                for i in 0..per_task {
                                    let mut batch = WriteBatch::new();
                                    batch.push(StoreOp::PutMessage(message(
                                        base + i,
                                        MessageStatus::Read,
                                    )));
                                    batch.push(StoreOp::PutSessions(PeerSessions {
                                        peer_id: format!("peer-{t}"),
                                        ..session.clone()
                                    }));
                                    store.commit(batch).await.expect("commit");
                                }
                            }));
                        }
                        for task in tasks {
                            task.await.expect("task");
                        }
                        n += 8 * per_task;
                    });
                    started
                        .elapsed()
                        .mul_f64(iters as f64 / (iters.div_ceil(8) * 8) as f64)
                })
            });
        } else {
            drop(store);
        }

        let raw_path = dir.path().join(format!("raw-{label}.redb"));
        let db = redb::Database::create(&raw_path).expect("raw");
        let session_bytes = vec![7u8; session_len];
        let message_bytes = vec![9u8; message_len];
        let mut n = 0usize;
        g.bench_function(
            format!("baseline/raw_redb_commit_same_bytes_{label}"),
            |b| {
                b.iter(|| {
                    n += 1;
                    let mut txn = db.begin_write().expect("write");
                    txn.set_durability(match durability {
                        Durability::Immediate => redb::Durability::Immediate,
                        _ => redb::Durability::None,
                    })
                    .expect("durability");
                    {
                        let mut a = txn.open_table(RAW_A).expect("a");
                        a.insert(
                            format!("msg-{n:08}-0123456789abcdef").as_str(),
                            message_bytes.as_slice(),
                        )
                        .expect("insert");
                        let mut b = txn.open_table(RAW_B).expect("b");
                        b.insert("peer-0001", session_bytes.as_slice())
                            .expect("insert");
                    }
                    txn.commit().expect("commit");
                })
            },
        );
    }
    g.finish();
}

fn read_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("dir");
    let path = populated_store(dir.path());
    let store = RedbStore::open_blocking(&path, PASSPHRASE, StoreOptions::new()).expect("open");
    let rt = runtime();
    let mut g = c.benchmark_group("read");
    g.sample_size(30).measurement_time(Duration::from_secs(4));
    g.bench_function("baseline/tokio_spawn_blocking_noop", |b| {
        b.iter(|| rt.block_on(async { tokio::task::spawn_blocking(|| 1).await.expect("join") }))
    });
    g.bench_function("read/peer_sessions_tokio", |b| {
        b.iter(|| rt.block_on(store.peer_sessions("peer-0500")).expect("read"))
    });
    g.bench_function("read/peer_sessions_inline", |b| {
        b.iter(|| block_on(store.peer_sessions("peer-0500")).expect("read"))
    });
    g.bench_function("read/known_identity_inline", |b| {
        b.iter(|| block_on(store.known_identity("peer-0500")).expect("read"))
    });
    g.bench_function("read/message_by_id_inline", |b| {
        b.iter(|| block_on(store.message("msg-00005000-0123456789abcdef")).expect("read"))
    });
    let last_50 = MessageQuery {
        conversation: Some(Conversation::Direct("peer-0042".into())),
        before: Some(NOW + 5_000_000),
        limit: Some(50),
        ..Default::default()
    };
    g.bench_function("read/last_50_of_a_conversation_before_t", |b| {
        b.iter(|| block_on(store.messages(&last_50)).expect("read"))
    });
    let outbox = MessageQuery {
        status: Some(MessageStatus::Pending),
        ..Default::default()
    };
    g.bench_function("read/outbox_of_10k", |b| {
        b.iter(|| block_on(store.messages(&outbox)).expect("read"))
    });
    let search_conversation = MessageQuery {
        conversation: Some(Conversation::Direct("peer-0042".into())),
        text: Some("NUMBER 4".into()),
        ..Default::default()
    };
    g.bench_function("read/text_search_one_conversation_100", |b| {
        b.iter(|| block_on(store.messages(&search_conversation)).expect("read"))
    });
    let search_all = MessageQuery {
        text: Some("no such text".into()),
        ..Default::default()
    };
    g.sample_size(10);
    g.bench_function("read/text_search_all_10k", |b| {
        b.iter(|| block_on(store.messages(&search_all)).expect("read"))
    });
    g.finish();
}

fn codec_benches(c: &mut Criterion) {
    let mut rng = rng();
    let session = sessions("peer-0001", &mut rng);
    let record = message(1, MessageStatus::Read);
    let mut g = c.benchmark_group("codec");
    g.sample_size(50).measurement_time(Duration::from_secs(3));
    g.bench_function("codec/json_sessions_roundtrip", |b| {
        b.iter(|| {
            let bytes = serde_json::to_vec(&session).expect("json");
            black_box(serde_json::from_slice::<PeerSessions>(&bytes).expect("json"))
        })
    });
    g.bench_function("codec/cbor_sessions_roundtrip", |b| {
        b.iter(|| {
            let mut bytes = Vec::new();
            ciborium::into_writer(&session, &mut bytes).expect("cbor");
            black_box(ciborium::from_reader::<PeerSessions, _>(bytes.as_slice()).expect("cbor"))
        })
    });
    g.bench_function("codec/json_message_roundtrip", |b| {
        b.iter(|| {
            let bytes = serde_json::to_vec(&record).expect("json");
            black_box(serde_json::from_slice::<MessageRecord>(&bytes).expect("json"))
        })
    });
    g.bench_function("codec/cbor_message_roundtrip", |b| {
        b.iter(|| {
            let mut bytes = Vec::new();
            ciborium::into_writer(&record, &mut bytes).expect("cbor");
            black_box(ciborium::from_reader::<MessageRecord, _>(bytes.as_slice()).expect("cbor"))
        })
    });
    g.finish();
    let mut cbor = Vec::new();
    ciborium::into_writer(&session, &mut cbor).expect("cbor");
    println!(
        "sizes: sessions JSON {} B, CBOR {} B; message JSON {} B, CBOR {} B",
        serde_json::to_vec(&session).expect("json").len(),
        cbor.len(),
        serde_json::to_vec(&record).expect("json").len(),
        {
            let mut m = Vec::new();
            ciborium::into_writer(&record, &mut m).expect("cbor");
            m.len()
        }
    );
}

/// Sealed and raw commits alternated one for one, so both see the same disk conditions
/// (the flush latency of this machine's shared disk varies several-fold from minute to
/// minute), and a bare 4 KiB write + fdatasync for the device's own cost.
fn paired_commits(_: &mut Criterion) {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().expect("dir");
    let mut rng = rng();
    let session = sessions("peer-0001", &mut rng);
    let session_len = serde_json::to_vec(&session).expect("json").len() + 28;
    let message_len = serde_json::to_vec(&message(0, MessageStatus::Read))
        .expect("json")
        .len()
        + 28;
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let flush_file = std::fs::File::create(dir.path().join("flush.bin")).expect("file");
    for durability in [Durability::Immediate, Durability::Deferred] {
        let label = match durability {
            Durability::Immediate => "immediate",
            _ => "deferred",
        };
        let store = RedbStore::open_blocking(
            dir.path().join(format!("paired-{label}.qcstore")),
            PASSPHRASE,
            StoreOptions::new()
                .kdf(KdfStrength::InsecureForTests)
                .durability(durability),
        )
        .expect("open");
        let db =
            redb::Database::create(dir.path().join(format!("paired-{label}.redb"))).expect("raw");
        let (session_bytes, message_bytes) = (vec![7u8; session_len], vec![9u8; message_len]);
        let rounds = if durability == Durability::Immediate {
            300
        } else {
            3000
        };
        let (mut sealed, mut raw, mut flush) = (Vec::new(), Vec::new(), Vec::new());
        for n in 0..rounds {
            let mut batch = WriteBatch::new();
            batch.push(StoreOp::PutMessage(message(n, MessageStatus::Read)));
            batch.push(StoreOp::PutSessions(session.clone()));
            let started = Instant::now();
            block_on(store.commit(batch)).expect("commit");
            sealed.push(started.elapsed());

            let started = Instant::now();
            let mut txn = db.begin_write().expect("write");
            txn.set_durability(match durability {
                Durability::Immediate => redb::Durability::Immediate,
                _ => redb::Durability::None,
            })
            .expect("durability");
            {
                let mut a = txn.open_table(RAW_A).expect("a");
                a.insert(
                    format!("msg-{n:08}-0123456789abcdef").as_str(),
                    message_bytes.as_slice(),
                )
                .expect("insert");
                let mut b = txn.open_table(RAW_B).expect("b");
                b.insert("peer-0001", session_bytes.as_slice())
                    .expect("insert");
            }
            txn.commit().expect("commit");
            raw.push(started.elapsed());

            if durability == Durability::Immediate {
                let started = Instant::now();
                flush_file
                    .write_at(&[n as u8; 4096], (n as u64 % 16) * 4096)
                    .expect("write");
                flush_file.sync_data().expect("fdatasync");
                flush.push(started.elapsed());
            }
        }
        let (s, r) = (median(&mut sealed), median(&mut raw));
        println!(
            "paired/{label}: sealed message+session commit median {:.1} µs ({:.0} commits/s), \
             raw redb commit of the same bytes {:.1} µs ({:.0} commits/s), ratio {:.2}",
            s.as_secs_f64() * 1e6,
            1.0 / s.as_secs_f64(),
            r.as_secs_f64() * 1e6,
            1.0 / r.as_secs_f64(),
            s.as_secs_f64() / r.as_secs_f64()
        );
        if !flush.is_empty() {
            println!(
                "paired/{label}: bare 4 KiB write + fdatasync median {:.1} µs",
                median(&mut flush).as_secs_f64() * 1e6
            );
        }
    }
}

criterion_group!(
    benches,
    paired_commits,
    open_benches,
    commit_benches,
    read_benches,
    codec_benches
);
criterion_main!(benches);
