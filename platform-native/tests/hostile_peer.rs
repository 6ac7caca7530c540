//! A peer flooding costly forgeries (issue #17 item 10), end to end over the test server:
//! once its failure budget is spent its messages are neither decrypted nor stored (so a
//! later catch-up retries them), while other peers' messages keep arriving.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use quickchat::{ClientConfig, Event};
use quickchat_core::envelope::Envelope;
use quickchat_core::keys::PublicKey;
use quickchat_core::protocol::ws::{ClientFrame, MessageType};
use quickchat_core::ratchet::Header;
use quickchat_core::session::CoolingConfig;
use support::*;

/// A forgery that makes the receiver do a DH step and ~2,000 chain steps before its MAC
/// fails: a new ratchet key, `previousChainLength` 999 and `messageNumber` 999.
fn max_skip_forgery() -> String {
    Envelope {
        header: Header {
            ratchet_key: PublicKey::from_bytes([0x2a; 32]),
            previous_chain_length: 999,
            message_number: 999,
        },
        ciphertext: vec![0x0c; 64],
        x3dh: None,
    }
    .to_json()
}

async fn next_failure(events: &mut quickchat::EventStream) -> (String, String) {
    wait_for(events, |e| match e {
        Event::DecryptionFailed {
            message_id, reason, ..
        } => Some((message_id, reason)),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_flooding_forgeries_cools_and_other_peers_still_get_through() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    // Room for two maximal forgeries (~2,600 units each), and a refill far slower than the
    // test: once cooled, Mallory stays cooled throughout.
    let config = ClientConfig {
        cooling: CoolingConfig {
            capacity: 5_000,
            refill_per_second: 1,
            failure_floor: 20,
        },
        ..ClientConfig::default()
    };
    let bob = client_with(&server, &dir, "bob", config).await;
    bob.register(&unique("bob"), "secret123", None)
        .await
        .expect("register");
    bob.connect_and_wait(WAIT).await.expect("connects");
    let mallory = registered(&server, &dir, "mallory").await;
    let carol = registered(&server, &dir, "carol").await;
    let mut bob_events = bob.events();
    let mut mallory_events = mallory.events();

    // A session both ways, so Bob holds a ratchet key pair and a forgery makes him step.
    mallory.send_text(&id(&bob), "hello").await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.body, "hello");
    bob.send_text(&id(&mallory), "hi").await.unwrap();
    assert_eq!(next_message(&mut mallory_events).await.body, "hi");

    let mallory_name = mallory.current_user().unwrap().username;
    let forgery = max_skip_forgery();
    for i in 0..6 {
        let frame = ClientFrame::Message {
            to: id(&bob),
            content: forgery.clone(),
            message_type: MessageType::Text,
            encrypted: true,
            message_id: Some(format!("forged-{i}")),
            image_data: None,
        };
        send_raw_frame(&server, &id(&mallory), &mallory_name, &frame.to_json()).await;
    }
    for i in 0..6 {
        let (message_id, reason) = next_failure(&mut bob_events).await;
        assert_eq!(message_id, format!("forged-{i}"));
        let kept = bob.message(&message_id).await.unwrap();
        if i < 2 {
            // Decrypted, failed, stored with its reason.
            assert!(reason.contains("authentication failed"), "{reason}");
            assert!(kept.unwrap().decrypt_error.is_some());
        } else {
            // Not even tried: the budget is spent. Not stored, so catch-up retries it.
            assert!(reason.contains("not decrypted yet"), "{reason}");
            assert!(kept.is_none(), "forged-{i} was stored");
        }
    }

    // Carol is not Mallory: her first message opens at once.
    carol.send_text(&id(&bob), "still here").await.unwrap();
    let from_carol = next_message(&mut bob_events).await;
    assert_eq!(from_carol.body, "still here");
    assert_eq!(from_carol.sender_id, id(&carol));

    // Mallory's genuine message waits too, unstored; catch-up while she cools leaves it so.
    let genuine = mallory.send_text(&id(&bob), "genuine").await.unwrap();
    let (message_id, reason) = next_failure(&mut bob_events).await;
    assert_eq!(message_id, genuine.id);
    assert!(reason.contains("not decrypted yet"), "{reason}");
    assert!(bob.message(&genuine.id).await.unwrap().is_none());
    bob.catch_up_with(&id(&mallory)).await.unwrap();
    assert!(bob.message(&genuine.id).await.unwrap().is_none());
    assert!(bob.message("forged-5").await.unwrap().is_none());
}
