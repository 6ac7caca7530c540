//! The core's side of `scripts/bench-libsodium.py`: times the crypto rows that script
//! compares with libsodium, one batch at a time, when the script asks.
//!
//! On start it prints one line of JSON, the fixture: the keys and messages of every row
//! (throwaway keys made for this run) with the core's results, from which the script checks
//! that its libsodium implementation computes the same thing. Then, for each line
//! `<row> <iterations>` read from standard input, it runs that row so many times and prints
//! the elapsed nanoseconds. An empty line or end of input ends it.
//!
//! Rows (the same work as the criterion rows of `benches/crypto.rs`):
//! - `x25519`: one X25519 with a held private key;
//! - `x3dh_initiator`: the bundle's signature check, the ephemeral key, three DHs, HKDF and
//!   the initiator's first ratchet key pair;
//! - `x3dh_responder`: four DHs (with a one-time prekey), HKDF and the responder's ratchet;
//! - `dh_step_decrypt`: a message on the peer's new ratchet key, from wire JSON to plaintext
//!   (two DHs, a key pair, two root KDFs);
//! - `encrypt_100B`, `decrypt_100B`: one message of 100 bytes in the current chain, to and
//!   from wire JSON.
//!
//! Run: `cargo run --release -p quickchat-core --example crypto_rows`.
// Bench code: a failed unwrap aborts the measurement, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::io::{BufRead, Write};
use std::time::Instant;

use quickchat_core::encoding::b64_encode;
use quickchat_core::envelope::Envelope;
use quickchat_core::keys::{IdentityKeyPair, KeyPair, OneTimePrekey, SignedPrekey};
use quickchat_core::ratchet::RatchetState;
use quickchat_core::x3dh::{self, OneTimePrekeyUse, PrekeyBundle};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::json;

type Rng = ChaCha20Rng;

fn wire(state: &mut RatchetState, plaintext: &[u8], rng: &mut Rng) -> String {
    let sealed = state.encrypt(plaintext, rng).expect("encrypt");
    Envelope {
        header: sealed.header,
        ciphertext: sealed.ciphertext,
        x3dh: None,
    }
    .to_json()
}

fn open(state: &mut RatchetState, wire: &str, rng: &mut Rng) -> Vec<u8> {
    let envelope = Envelope::parse(wire).expect("parse");
    state
        .decrypt(&envelope.header, &envelope.ciphertext, rng)
        .expect("decrypt")
}

/// Everything the rows work on.
struct Setup {
    x25519: KeyPair,
    x25519_peer: KeyPair,
    alice: IdentityKeyPair,
    bob: IdentityKeyPair,
    bob_signed: SignedPrekey,
    bob_one_time: OneTimePrekey,
    bundle: PrekeyBundle,
    ephemeral: quickchat_core::keys::PublicKey,
    responder_ratchet_key: quickchat_core::keys::PublicKey,
    /// Alice before the message on Bob's new ratchet key, and that message.
    step_state: RatchetState,
    step_wire: String,
    /// Bob in Alice's current chain, and the next message of it.
    chain_state: RatchetState,
    chain_wire: String,
    /// Alice with a sending chain.
    sender: RatchetState,
}

fn setup(rng: &mut Rng) -> (Setup, serde_json::Value) {
    let x25519 = KeyPair::generate(rng);
    let x25519_peer = KeyPair::generate(rng);
    let alice = IdentityKeyPair::generate(rng);
    let bob = IdentityKeyPair::generate(rng);
    let bob_signed = SignedPrekey::generate(&bob, 1, 0, rng);
    let bob_one_time = OneTimePrekey::generate(2, rng);
    let bundle = PrekeyBundle {
        identity: *bob.public(),
        signed_prekey: Some(bob_signed.public()),
        one_time_prekey: Some(bob_one_time.public()),
    };
    let init = x3dh::initiate(&alice, &bundle, OneTimePrekeyUse::Never, rng).expect("x3dh");
    let ephemeral = init.ephemeral_public;
    let responder_secret = x3dh::respond(
        &bob,
        bob_signed.pair().secret(),
        Some(bob_one_time.pair().secret()),
        &alice.public().dh,
        &ephemeral,
    )
    .expect("respond");
    let responder_ratchet_key = *KeyPair::generate(rng).public();

    // A session: Alice's first message, Bob's reply, Alice's next; then Bob answers on a
    // new ratchet key (the DH step row) and Alice sends in her chain (the per-message rows).
    let mut alice_state = RatchetState::initiator(init.shared_secret.as_bytes(), rng);
    let first = alice_state.encrypt(b"hello", rng).expect("encrypt");
    let bob_secret = x3dh::respond(
        &bob,
        bob_signed.pair().secret(),
        None,
        &alice.public().dh,
        &ephemeral,
    )
    .expect("respond");
    let mut bob_state = RatchetState::responder(bob_secret.as_bytes(), first.header.ratchet_key);
    bob_state
        .decrypt(&first.header, &first.ciphertext, rng)
        .expect("decrypt");
    let reply = wire(&mut bob_state, b"hi", rng);
    open(&mut alice_state, &reply, rng);
    let ping = wire(&mut alice_state, b"ping", rng);
    open(&mut bob_state, &ping, rng);
    let step_state = alice_state.clone();
    let step_plaintext = vec![b'a'; 100];
    let step_wire = wire(&mut bob_state, &step_plaintext, rng);
    let mut sender = alice_state.clone();
    let chain_state = bob_state.clone();
    let chain_plaintext = vec![b'b'; 100];
    let chain_wire = wire(&mut sender, &chain_plaintext, rng);

    let b64 = |bytes: &[u8]| b64_encode(bytes);
    let signed = bundle.signed_prekey.expect("signed prekey");
    let fixture = json!({
        "x25519": {
            "secret": b64(x25519.secret().as_bytes()),
            "peer": b64(x25519_peer.public().as_bytes()),
            "shared": b64(x25519.secret().diffie_hellman(x25519_peer.public()).expect("dh").as_bytes()),
        },
        "x3dh": {
            "alice_seed": b64(alice.seed()),
            "alice_identity": b64(alice.public().dh.as_bytes()),
            "bob_seed": b64(bob.seed()),
            "bob_identity": b64(bob.public().dh.as_bytes()),
            "bob_signing": b64(bob.public().signing.as_bytes()),
            "signed_prekey": b64(signed.public.as_bytes()),
            "signed_prekey_secret": b64(bob_signed.pair().secret().as_bytes()),
            "signature": b64(&signed.signature),
            "one_time_prekey_secret": b64(bob_one_time.pair().secret().as_bytes()),
            "ephemeral": b64(ephemeral.as_bytes()),
            "responder_secret": b64(responder_secret.as_bytes()),
        },
        "dh_step": {
            "state": *step_state.to_reference_json(),
            "wire": step_wire,
            "plaintext": b64(&step_plaintext),
        },
        "chain": {
            "receiver_state": *chain_state.to_reference_json(),
            "sender_state": *sender.to_reference_json(),
            "wire": chain_wire,
            "plaintext": b64(&chain_plaintext),
        },
    });
    let setup = Setup {
        x25519,
        x25519_peer,
        alice,
        bob,
        bob_signed,
        bob_one_time,
        bundle,
        ephemeral,
        responder_ratchet_key,
        step_state,
        step_wire,
        chain_state,
        chain_wire,
        sender,
    };
    (setup, fixture)
}

/// Runs `row` `iterations` times; the states each decryption starts from are cloned before
/// the clock starts.
fn run(s: &mut Setup, row: &str, iterations: usize, rng: &mut Rng) -> Option<u128> {
    let start;
    match row {
        "x25519" => {
            start = Instant::now();
            for _ in 0..iterations {
                black_box(
                    s.x25519
                        .secret()
                        .diffie_hellman(black_box(s.x25519_peer.public()))
                        .expect("dh"),
                );
            }
        }
        "x3dh_initiator" => {
            start = Instant::now();
            for _ in 0..iterations {
                let init =
                    x3dh::initiate(&s.alice, black_box(&s.bundle), OneTimePrekeyUse::Never, rng)
                        .expect("x3dh");
                black_box(RatchetState::initiator(init.shared_secret.as_bytes(), rng));
            }
        }
        "x3dh_responder" => {
            start = Instant::now();
            for _ in 0..iterations {
                let secret = x3dh::respond(
                    &s.bob,
                    s.bob_signed.pair().secret(),
                    Some(s.bob_one_time.pair().secret()),
                    &s.alice.public().dh,
                    black_box(&s.ephemeral),
                )
                .expect("respond");
                black_box(RatchetState::responder(
                    secret.as_bytes(),
                    s.responder_ratchet_key,
                ));
            }
        }
        "dh_step_decrypt" | "decrypt_100B" => {
            let (state, message) = if row == "dh_step_decrypt" {
                (&s.step_state, &s.step_wire)
            } else {
                (&s.chain_state, &s.chain_wire)
            };
            let mut states: Vec<RatchetState> = (0..iterations).map(|_| state.clone()).collect();
            start = Instant::now();
            for state in &mut states {
                black_box(open(state, black_box(message), rng));
            }
        }
        "encrypt_100B" => {
            let plaintext = [b'b'; 100];
            start = Instant::now();
            for _ in 0..iterations {
                black_box(wire(&mut s.sender, black_box(&plaintext), rng));
            }
        }
        _ => return None,
    }
    Some(start.elapsed().as_nanos())
}

fn main() {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("system randomness");
    let mut rng = Rng::from_seed(seed);
    let (mut setup, fixture) = setup(&mut rng);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "{fixture}").expect("stdout");
    out.flush().expect("stdout");
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let mut words = line.split_whitespace();
        let (Some(row), Some(count)) = (words.next(), words.next()) else {
            break;
        };
        let iterations: usize = count.parse().expect("iteration count");
        match run(&mut setup, row, iterations, &mut rng) {
            Some(nanos) => writeln!(out, "{nanos}").expect("stdout"),
            None => writeln!(out, "unknown row {row}").expect("stdout"),
        }
        out.flush().expect("stdout");
    }
}
