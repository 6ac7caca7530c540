//! Exactly once on the wire: the backend relays a duplicate `messageId` (PROTOCOL §7, quirk
//! 5) and the web app breaks its chain on one, so no message may be written twice — not
//! under concurrent sends, not across reconnects, not around catch-up. The test server
//! counts every `message` frame per (sender, messageId).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use quickchat::{ClientConfig, Event, Pacing};
use quickchat_core::store::{MessageQuery, MessageStatus, Store};
use quickchat_testserver::{Config, TestServer};
use support::*;

const SENDERS: usize = 4;
/// Reconnects forced per run.
const DROPS: usize = 12;

/// A tiny deterministic generator for the disruptor's pauses.
struct Lcg(u64);

impl Lcg {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % max
    }
}

async fn pending_count(client: &quickchat::Client) -> usize {
    client
        .store()
        .messages(&MessageQuery {
            status: Some(MessageStatus::Pending),
            ..MessageQuery::default()
        })
        .await
        .unwrap()
        .len()
}

/// `per_sender`: each sender stops after this many, or when the disruptor is done.
async fn sends_survive_reconnects(pacing: Pacing, seed: u64, per_sender: usize) {
    // Slow history reads widen the catch-up window every reconnect goes through.
    let server = TestServer::start(
        Config::default()
            .with_bcrypt_cost(4)
            .with_history_delay(Duration::from_millis(40)),
    )
    .await
    .unwrap();
    // Echoes that come back late (a loaded backend) leave messages pending across the end
    // of catch-up and across drops, where a second writer could pick them up.
    server.set_echo_delay(Duration::from_millis(25));
    let dir = tempfile::tempdir().unwrap();
    let config = ClientConfig {
        pacing,
        ..fast_config()
    };
    let alice = client_with(&server, &dir, "alice", config.clone()).await;
    alice
        .register(&unique("alice"), "secret123", None)
        .await
        .unwrap();
    let alice = Arc::new(alice);
    alice.connect_and_wait(WAIT).await.unwrap();
    let bob = registered(&server, &dir, "bob").await;
    let mut bob_events = bob.events();
    let bob_id = id(&bob);
    let alice_id = id(&alice);
    let server = Arc::new(server);

    // The disruptor drops Alice's socket from the server's side at random moments after each
    // (re)connect (the first right away), while the senders keep going until it is done.
    let done = Arc::new(AtomicBool::new(false));
    let disruptor = {
        let server = Arc::clone(&server);
        let done = Arc::clone(&done);
        let mut events = alice.events();
        let alice_id = alice_id.clone();
        tokio::spawn(async move {
            let mut rng = Lcg(seed);
            let mut drops = 0;
            while drops < DROPS {
                if drops > 0 {
                    let connected = tokio::time::timeout(WAIT, async {
                        while let Some(event) = events.next().await {
                            if matches!(event, Event::Connected) {
                                return;
                            }
                        }
                    })
                    .await;
                    assert!(connected.is_ok(), "no reconnect after drop {drops}");
                }
                tokio::time::sleep(Duration::from_millis(rng.next_ms(150))).await;
                server.disconnect_user(&alice_id).await;
                drops += 1;
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let alice = Arc::clone(&alice);
        let bob_id = bob_id.clone();
        let done = Arc::clone(&done);
        senders.push(tokio::spawn(async move {
            let mut sent = 0;
            while !done.load(Ordering::SeqCst) && sent < per_sender {
                alice
                    .send_text(&bob_id, &format!("sender {s} message {sent}"))
                    .await
                    .unwrap();
                sent += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            sent
        }));
    }
    let mut total = 0;
    for sender in senders {
        total += sender.await.unwrap();
    }
    disruptor.await.unwrap();
    let drops = DROPS;

    // Everything arrives, once.
    let mut texts = HashSet::new();
    tokio::time::timeout(Duration::from_secs(90), async {
        while texts.len() < total {
            match bob_events.next().await {
                Some(Event::Message { message, .. }) => {
                    assert!(
                        texts.insert(message.body.clone()),
                        "shown twice: {}",
                        message.body
                    );
                }
                Some(Event::DecryptionFailed { reason, .. }) => panic!("failed: {reason}"),
                Some(_) => {}
                None => panic!("event stream ended"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of {total} arrived", texts.len()));
    // Nothing left to send, then time for any late copy to show up.
    tokio::time::timeout(Duration::from_secs(30), async {
        while pending_count(&alice).await > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the outbox drains");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let duplicates = server.duplicate_message_frames();
    assert!(
        duplicates.is_empty(),
        "{} message ids written more than once after {drops} reconnects, e.g. {:?}",
        duplicates.len(),
        &duplicates[..duplicates.len().min(3)]
    );
    let from_alice = server
        .message_frame_counts()
        .into_iter()
        .filter(|((sender, _), _)| *sender == alice_id)
        .count();
    assert_eq!(from_alice, total, "every message written exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_across_reconnects_and_catch_up_go_out_once_unpaced() {
    sends_survive_reconnects(Pacing::off(), 7, 400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_across_reconnects_and_catch_up_go_out_once_paced() {
    // Paced at 10 a second to one peer: fewer messages, most of them still waiting in the
    // outbox while the reconnects go on.
    sends_survive_reconnects(Pacing::default(), 11, 25).await;
}
