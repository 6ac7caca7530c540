//! Fuzzes envelope parsing and decryption: any input must give a clean error or a
//! plaintext, never a panic, and a failed decryption must leave the session untouched.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use quickchat_core::envelope::Envelope;
use quickchat_core::keys::{IdentityKeyPair, SignedPrekey};
use quickchat_core::ratchet::RatchetState;
use quickchat_core::x3dh::{self, OneTimePrekeyUse, PrekeyBundle};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// A receiving session in the middle of a conversation.
fn session() -> &'static RatchetState {
    static SESSION: OnceLock<RatchetState> = OnceLock::new();
    SESSION.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let alice = IdentityKeyPair::generate(&mut rng);
        let bob = IdentityKeyPair::generate(&mut rng);
        let spk = SignedPrekey::generate(&bob, 1, 0, &mut rng);
        let bundle = PrekeyBundle {
            identity: *bob.public(),
            signed_prekey: Some(spk.public()),
            one_time_prekey: None,
        };
        let init = x3dh::initiate(&alice, &bundle, OneTimePrekeyUse::Never, &mut rng)
            .expect("valid bundle");
        let mut sender = RatchetState::initiator(init.shared_secret.as_bytes(), &mut rng);
        let first = sender.encrypt(b"hello", &mut rng).expect("encrypt");
        let secret = x3dh::respond(
            &bob,
            spk.pair().secret(),
            None,
            &alice.public().dh,
            &init.ephemeral_public,
        )
        .expect("x3dh respond");
        let mut receiver = RatchetState::responder(secret.as_bytes(), first.header.ratchet_key);
        receiver
            .decrypt(&first.header, &first.ciphertext, &mut rng)
            .expect("decrypt");
        receiver
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(envelope) = Envelope::parse(text) else {
        return;
    };
    // What parses must serialize and parse back to the same message.
    assert_eq!(Envelope::parse(&envelope.to_json()).as_ref(), Ok(&envelope));
    let mut state = session().clone();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    if state
        .decrypt(&envelope.header, &envelope.ciphertext, &mut rng)
        .is_err()
    {
        assert!(
            state == *session(),
            "a failed decryption changed the session"
        );
    }
});
