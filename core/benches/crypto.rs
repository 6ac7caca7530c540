//! Criterion benchmarks of core's crypto paths. `scripts/bench-report.py` prints them as a
//! table with each one's ratio to the in-run baseline (one raw X25519 scalar multiplication,
//! measured in the same run) and to the targets of the issue.
// Bench code: a failed unwrap aborts the measurement, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures_executor::block_on;
use quickchat_core::account::create_account;
use quickchat_core::envelope::Envelope;
use quickchat_core::keys::{IdentityKeyPair, KeyPair, OneTimePrekey, SignedPrekey};
use quickchat_core::ratchet::RatchetState;
use quickchat_core::session::{SessionConfig, SessionEngine};
use quickchat_core::store::{MemoryStore, Store};
use quickchat_core::x3dh::{self, OneTimePrekeyUse, PrekeyBundle};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

struct Peers {
    alice_identity: IdentityKeyPair,
    bob_identity: IdentityKeyPair,
    bob_signed: SignedPrekey,
    bob_one_time: OneTimePrekey,
    bundle: PrekeyBundle,
}

fn peers(rng: &mut ChaCha20Rng) -> Peers {
    let alice_identity = IdentityKeyPair::generate(rng);
    let bob_identity = IdentityKeyPair::generate(rng);
    let bob_signed = SignedPrekey::generate(&bob_identity, 1, 0, rng);
    let bob_one_time = OneTimePrekey::generate(2, rng);
    let bundle = PrekeyBundle {
        identity: *bob_identity.public(),
        signed_prekey: Some(bob_signed.public()),
        one_time_prekey: Some(bob_one_time.public()),
    };
    Peers {
        alice_identity,
        bob_identity,
        bob_signed,
        bob_one_time,
        bundle,
    }
}

/// Alice's and Bob's ratchets after X3DH and a first message each way.
fn established(rng: &mut ChaCha20Rng) -> (RatchetState, RatchetState) {
    let p = peers(rng);
    let init =
        x3dh::initiate(&p.alice_identity, &p.bundle, OneTimePrekeyUse::Never, rng).expect("x3dh");
    let mut alice = RatchetState::initiator(init.shared_secret.as_bytes(), rng);
    let first = alice.encrypt(b"hello", rng).expect("encrypt");
    let secret = x3dh::respond(
        &p.bob_identity,
        p.bob_signed.pair().secret(),
        None,
        &p.alice_identity.public().dh,
        &init.ephemeral_public,
    )
    .expect("x3dh respond");
    let mut bob = RatchetState::responder(secret.as_bytes(), first.header.ratchet_key);
    bob.decrypt(&first.header, &first.ciphertext, rng)
        .expect("decrypt");
    let reply = bob.encrypt(b"hi", rng).expect("encrypt");
    alice
        .decrypt(&reply.header, &reply.ciphertext, rng)
        .expect("decrypt");
    (alice, bob)
}

fn wire(state: &mut RatchetState, plaintext: &[u8], rng: &mut ChaCha20Rng) -> String {
    let sealed = state.encrypt(plaintext, rng).expect("encrypt");
    Envelope {
        header: sealed.header,
        ciphertext: sealed.ciphertext,
        x3dh: None,
    }
    .to_json()
}

fn open(state: &mut RatchetState, wire: &str, rng: &mut ChaCha20Rng) -> Vec<u8> {
    let envelope = Envelope::parse(wire).expect("parse");
    state
        .decrypt(&envelope.header, &envelope.ciphertext, rng)
        .expect("decrypt")
}

fn benches(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(42);

    c.bench_function("baseline/x25519_scalar_mult", |b| {
        let a = KeyPair::generate(&mut rng);
        let peer = *KeyPair::generate(&mut rng).public();
        b.iter(|| black_box(a.secret().diffie_hellman(black_box(&peer)).expect("dh")))
    });

    c.bench_function("keys/identity_from_seed", |b| {
        b.iter(|| black_box(IdentityKeyPair::from_seed(black_box([7u8; 32]))))
    });
    c.bench_function("keys/x25519_key_pair", |b| {
        b.iter(|| black_box(KeyPair::generate(&mut rng)))
    });
    let identity = IdentityKeyPair::generate(&mut rng);
    c.bench_function("keys/signed_prekey", |b| {
        b.iter(|| black_box(SignedPrekey::generate(&identity, 1, 0, &mut rng)))
    });

    let p = peers(&mut rng);
    c.bench_function("x3dh/initiator", |b| {
        // The whole initiator side: bundle signature check, ephemeral key, three DHs, HKDF
        // and the first ratchet key pair.
        b.iter(|| {
            let init = x3dh::initiate(
                &p.alice_identity,
                black_box(&p.bundle),
                OneTimePrekeyUse::Never,
                &mut rng,
            )
            .expect("x3dh");
            black_box(RatchetState::initiator(
                init.shared_secret.as_bytes(),
                &mut rng,
            ))
        })
    });
    let init = x3dh::initiate(
        &p.alice_identity,
        &p.bundle,
        OneTimePrekeyUse::Never,
        &mut rng,
    )
    .expect("x3dh");
    let ratchet_key = *KeyPair::generate(&mut rng).public();
    c.bench_function("x3dh/responder", |b| {
        b.iter(|| {
            let secret = x3dh::respond(
                &p.bob_identity,
                p.bob_signed.pair().secret(),
                Some(p.bob_one_time.pair().secret()),
                &p.alice_identity.public().dh,
                black_box(&init.ephemeral_public),
            )
            .expect("x3dh respond");
            black_box(RatchetState::responder(secret.as_bytes(), ratchet_key))
        })
    });

    for (name, size) in [("100B", 100usize), ("10KB", 10 * 1024)] {
        let plaintext = vec![b'a'; size];
        let (mut alice, _) = established(&mut rng);
        c.bench_function(&format!("ratchet/encrypt_{name}_same_chain"), |b| {
            b.iter(|| black_box(wire(&mut alice, black_box(&plaintext), &mut rng)))
        });
        // Bob receives the next message of a fresh pair's current chain.
        let (mut alice, mut bob_in_chain) = established(&mut rng);
        let warm = wire(&mut alice, &plaintext, &mut rng);
        open(&mut bob_in_chain, &warm, &mut rng);
        let message = wire(&mut alice, &plaintext, &mut rng);
        c.bench_function(&format!("ratchet/decrypt_{name}_same_chain"), |b| {
            b.iter_batched(
                || bob_in_chain.clone(),
                |mut state| black_box(open(&mut state, black_box(&message), &mut rng)),
                BatchSize::SmallInput,
            )
        });
    }

    // A DH ratchet step: Alice receives a message on Bob's new ratchet key (two DHs, one key
    // pair, two root KDFs) and decrypts it.
    let (mut alice, mut bob) = established(&mut rng);
    let to_bob = wire(&mut alice, b"ping", &mut rng);
    open(&mut bob, &to_bob, &mut rng);
    let new_chain = wire(&mut bob, &[b'a'; 100], &mut rng);
    c.bench_function("ratchet/dh_step_decrypt_100B", |b| {
        b.iter_batched(
            || alice.clone(),
            |mut state| black_box(open(&mut state, black_box(&new_chain), &mut rng)),
            BatchSize::SmallInput,
        )
    });

    let envelope = Envelope::parse(&new_chain).expect("parse");
    c.bench_function("envelope/serialize_100B", |b| {
        b.iter(|| black_box(black_box(&envelope).to_json()))
    });
    c.bench_function("envelope/parse_100B", |b| {
        b.iter(|| black_box(Envelope::parse(black_box(&new_chain))))
    });
}

type Engine = SessionEngine<MemoryStore>;

/// Two session engines on in-memory stores with a session each way.
fn engines(rng: &mut ChaCha20Rng) -> (Engine, Engine) {
    let mut open = |user: &str| {
        let store = MemoryStore::new();
        block_on(create_account(&store, user, 0, &mut *rng)).expect("account");
        block_on(SessionEngine::open(store, SessionConfig::default())).expect("engine")
    };
    let mut alice = open("alice");
    let mut bob = open("bob");
    let signed = block_on(bob.store().signed_prekey(1))
        .expect("store")
        .expect("signed prekey");
    let bundle = PrekeyBundle {
        identity: *bob.identity().public(),
        signed_prekey: Some(signed.prekey.public()),
        one_time_prekey: None,
    };
    block_on(alice.start_session("bob", &bundle, 0, rng)).expect("session");
    let first = session_send(&mut alice, "bob", "hello", rng);
    session_receive(&mut bob, "alice", &first, rng);
    (alice, bob)
}

fn session_send(engine: &mut Engine, peer: &str, text: &str, rng: &mut ChaCha20Rng) -> String {
    block_on(async { engine.encrypt(peer, text, 0, rng).await?.commit().await })
        .expect("encrypt")
        .wire
}

fn session_receive(engine: &mut Engine, peer: &str, wire: &str, rng: &mut ChaCha20Rng) -> String {
    block_on(async { engine.decrypt(peer, wire, 0, rng).await?.commit().await })
        .expect("decrypt")
        .plaintext
}

/// The session engine's per-message cost over the ratchet's: finding the session, the
/// identity check, and the atomic commit to the (in-memory) store.
fn session_benches(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let text = "a".repeat(100);
    let (mut alice, mut bob) = engines(&mut rng);
    c.bench_function("session/encrypt_commit_100B", |b| {
        b.iter(|| black_box(session_send(&mut alice, "bob", black_box(&text), &mut rng)))
    });
    c.bench_function("session/decrypt_commit_100B", |b| {
        b.iter_custom(|iters| {
            let wires: Vec<String> = (0..iters)
                .map(|_| session_send(&mut alice, "bob", &text, &mut rng))
                .collect();
            let start = std::time::Instant::now();
            for wire in &wires {
                black_box(session_receive(
                    &mut bob,
                    "alice",
                    black_box(wire),
                    &mut rng,
                ));
            }
            start.elapsed()
        })
    });
}

criterion_group!(crypto, benches, session_benches);
criterion_main!(crypto);
