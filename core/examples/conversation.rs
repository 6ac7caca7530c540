//! Two accounts talk end to end through the core engine alone, with in-memory stores and
//! the bundle passed as the backend would serve it (no server; the platform crates add
//! that). Run: `cargo run -p quickchat-core --example conversation`

use quickchat_core::account::create_account;
use quickchat_core::prekey_care::{PrekeyCare, PrekeyPolicy};
use quickchat_core::protocol::rest::{BundleResponse, BundleSignedPrekey};
use quickchat_core::session::{SessionConfig, SessionEngine};
use quickchat_core::store::MemoryStore;

type Rng = quickchat_core::rand_core::UnwrapErr<getrandom::SysRng>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    futures_executor::block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng: Rng = quickchat_core::rand_core::UnwrapErr(getrandom::SysRng);
    let now = 1_800_000_000_000;

    // Each device makes its keys: identity, signed prekey, 100 one-time prekeys.
    let alice_store = MemoryStore::new();
    let bob_store = MemoryStore::new();
    create_account(&alice_store, "alice-id", now, &mut rng).await?;
    create_account(&bob_store, "bob-id", now, &mut rng).await?;

    // Bob publishes his bundle (POST /api/users/prekeys); the backend serves it to Alice
    // (GET /api/users/{bob}/prekeys) with one of his one-time prekeys.
    let upload = PrekeyCare::new(&bob_store, PrekeyPolicy::default())
        .next_upload()
        .await?
        .ok_or("nothing to upload")?;
    let signed = upload
        .request
        .signed_prekey
        .clone()
        .ok_or("no signed prekey")?;
    let served = BundleResponse {
        identity_key: upload.request.identity_key.clone(),
        signing_key: upload.request.signing_key.clone(),
        fingerprint: Some(upload.request.fingerprint.clone()),
        signed_prekey: Some(BundleSignedPrekey {
            key_id: signed.key_id,
            public_key: signed.public_key,
            signature: signed.signature,
            created_at: Some(now),
        }),
        one_time_prekey: upload
            .request
            .one_time_prekeys
            .as_ref()
            .and_then(|keys| keys.first().cloned()),
    };
    println!(
        "bundle served to Alice:\n  {}\n",
        serde_json::to_string(&served)?
    );

    let mut alice = SessionEngine::open(alice_store, SessionConfig::default()).await?;
    let mut bob = SessionEngine::open(bob_store, SessionConfig::default()).await?;
    println!(
        "alice's fingerprint: {}",
        alice.identity().fingerprint().grouped()
    );
    println!(
        "bob's fingerprint:   {}\n",
        bob.identity().fingerprint().grouped()
    );

    alice
        .start_session("bob-id", &served.to_bundle()?, now, &mut rng)
        .await?;
    for (from_alice, text) in [
        (true, "Hello Bob 👋"),
        (true, "are you there?"),
        (false, "Hi Alice! Loud and clear."),
        (true, "great — this is end-to-end encrypted"),
    ] {
        let (sender, receiver, from, to) = if from_alice {
            (&mut alice, &mut bob, "alice-id", "bob-id")
        } else {
            (&mut bob, &mut alice, "bob-id", "alice-id")
        };
        let sent = sender
            .encrypt(to, text, now, &mut rng)
            .await?
            .commit()
            .await?;
        let received = receiver
            .decrypt(from, &sent.wire, now, &mut rng)
            .await?
            .commit()
            .await?;
        println!("{from} -> {to}: {:?}", received.plaintext);
        println!(
            "  on the wire ({} bytes{}): {}…",
            sent.wire.len(),
            if sent.first_message {
                ", with x3dh"
            } else {
                ""
            },
            &sent.wire[..80]
        );
        assert_eq!(received.plaintext, text);
    }
    println!("\nall messages decrypted on the other side");
    Ok(())
}
