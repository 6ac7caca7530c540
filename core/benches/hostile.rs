//! What a hostile peer's messages cost the receiving engine (issue #17 item 10), against
//! the in-run baseline of one raw X25519 scalar multiplication, as `benches/crypto.rs`:
//!
//! - `hostile/parse_error`: a message that is not an envelope;
//! - `hostile/max_skip_forgery`: a forgery on an established session with a new ratchet
//!   key, `previousChainLength` 999 and `messageNumber` 999 (a DH step and ~2,000 chain
//!   steps, then a failed MAC), ungated;
//! - `hostile/max_skip_forgery_5_sessions`: the same when five sessions with the peer are
//!   held (each is tried);
//! - `hostile/valid_message`: a genuine message, for comparison;
//! - `hostile/max_skip_forgery_cooling`: the forgery once the peer is cooling;
//! - `hostile/2000_forgeries_gated`: 2,000 forgeries through a fresh per-peer budget, the
//!   flood of the issue.
//!
//! Every message goes through `decrypt_batch(_gated)` and its (in-memory) commit, as the
//! client does; a failed message changes nothing, so the same engine serves every iteration.
// Bench code: a failed unwrap aborts the measurement, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_executor::block_on;
use quickchat_core::account::create_account;
use quickchat_core::envelope::Envelope;
use quickchat_core::keys::{KeyPair, OneTimePrekeyPublic};
use quickchat_core::ratchet::Work;
use quickchat_core::session::{Cooling, CoolingConfig, SessionConfig, SessionEngine};
use quickchat_core::store::{MemoryStore, Store};
use quickchat_core::x3dh::PrekeyBundle;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

type Engine = SessionEngine<MemoryStore>;

fn engine(user: &str, rng: &mut ChaCha20Rng) -> Engine {
    let store = MemoryStore::new();
    block_on(create_account(&store, user, 0, rng)).expect("account");
    block_on(SessionEngine::open(store, SessionConfig::default())).expect("engine")
}

fn bundle(engine: &Engine, one_time_index: usize) -> PrekeyBundle {
    let store = engine.store();
    let spk = block_on(store.signed_prekey(1))
        .expect("store")
        .expect("spk");
    let otk = &block_on(store.one_time_prekeys()).expect("store")[one_time_index];
    PrekeyBundle {
        identity: *engine.identity().public(),
        signed_prekey: Some(spk.prekey.public()),
        one_time_prekey: Some(OneTimePrekeyPublic {
            id: otk.prekey.id(),
            public: *otk.prekey.pair().public(),
        }),
    }
}

fn send(engine: &mut Engine, peer: &str, rng: &mut ChaCha20Rng) -> String {
    let text = "a".repeat(100);
    block_on(async { engine.encrypt(peer, &text, 0, rng).await?.commit().await })
        .expect("encrypt")
        .wire
}

/// Decrypts one message as the client does and returns whether it opened.
fn receive(
    engine: &mut Engine,
    wire: &str,
    now: i64,
    rng: &mut ChaCha20Rng,
    cooling: Option<&mut Cooling>,
) -> bool {
    let messages = [("alice".to_string(), wire.to_string())];
    block_on(async {
        engine
            .decrypt_batch_gated(&messages, now, rng, cooling)
            .await?
            .commit()
            .await
    })
    .expect("store")[0]
        .is_ok()
}

/// Alice and Bob with `sessions` sessions started by Alice, each used both ways, so that
/// Bob holds a ratchet key pair and a receiving chain in every one.
fn established(sessions: usize, rng: &mut ChaCha20Rng) -> (Engine, Engine) {
    let mut alice = engine("alice", rng);
    let mut bob = engine("bob", rng);
    for index in 0..sessions {
        block_on(alice.start_session("bob", &bundle(&bob, index), 0, rng)).expect("x3dh");
        let first = send(&mut alice, "bob", rng);
        assert!(receive(&mut bob, &first, 0, rng, None));
        let reply = send(&mut bob, "alice", rng);
        let messages = [("bob".to_string(), reply)];
        block_on(async { alice.decrypt_batch(&messages, 0, rng).await?.commit().await })
            .expect("reply");
    }
    (alice, bob)
}

fn max_skip_forgery(valid: &str, rng: &mut ChaCha20Rng) -> String {
    let mut envelope = Envelope::parse(valid).expect("parse");
    envelope.header.ratchet_key = *KeyPair::generate(rng).public();
    envelope.header.previous_chain_length = 999;
    envelope.header.message_number = 999;
    envelope.to_json()
}

fn benches(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(17);

    c.bench_function("baseline/x25519_scalar_mult", |b| {
        let a = KeyPair::generate(&mut rng);
        let peer = *KeyPair::generate(&mut rng).public();
        b.iter(|| black_box(a.secret().diffie_hellman(black_box(&peer)).expect("dh")))
    });

    let (mut alice, mut bob) = established(1, &mut rng);
    c.bench_function("hostile/parse_error", |b| {
        b.iter(|| {
            assert!(!receive(
                &mut bob,
                black_box("{\"header\":{\"ratchetKey\":1}}"),
                0,
                &mut rng,
                None
            ))
        })
    });

    let valid = send(&mut alice, "bob", &mut rng);
    let forged = max_skip_forgery(&valid, &mut rng);
    c.bench_function("hostile/max_skip_forgery", |b| {
        b.iter(|| assert!(!receive(&mut bob, black_box(&forged), 0, &mut rng, None)))
    });

    c.bench_function("hostile/valid_message", |b| {
        b.iter_custom(|iters| {
            let wires: Vec<String> = (0..iters)
                .map(|_| send(&mut alice, "bob", &mut rng))
                .collect();
            let start = std::time::Instant::now();
            for wire in &wires {
                assert!(receive(&mut bob, black_box(wire), 0, &mut rng, None));
            }
            start.elapsed()
        })
    });

    let mut cooling = Cooling::new(CoolingConfig::default());
    cooling.settle(
        "alice",
        0,
        false,
        Work {
            chain_steps: u32::MAX,
            dh: 0,
        },
    );
    c.bench_function("hostile/max_skip_forgery_cooling", |b| {
        b.iter(|| {
            assert!(!receive(
                &mut bob,
                black_box(&forged),
                0,
                &mut rng,
                Some(&mut cooling)
            ))
        })
    });

    let forgeries: Vec<(String, String)> = (0..2000)
        .map(|_| ("alice".to_string(), max_skip_forgery(&valid, &mut rng)))
        .collect();
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    group.bench_function("2000_forgeries_gated", |b| {
        b.iter(|| {
            let mut cooling = Cooling::new(CoolingConfig::default());
            let results = block_on(async {
                bob.decrypt_batch_gated(&forgeries, 0, &mut rng, Some(&mut cooling))
                    .await?
                    .commit()
                    .await
            })
            .expect("store");
            assert!(results.iter().all(Result::is_err));
        })
    });

    let (mut alice5, mut bob5) = established(5, &mut rng);
    let valid5 = send(&mut alice5, "bob", &mut rng);
    let forged5 = max_skip_forgery(&valid5, &mut rng);
    group.bench_function("max_skip_forgery_5_sessions", |b| {
        b.iter(|| assert!(!receive(&mut bob5, black_box(&forged5), 0, &mut rng, None)))
    });
    group.finish();
}

criterion_group!(hostile, benches);
criterion_main!(hostile);
