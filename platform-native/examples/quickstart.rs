//! The whole stack in a few seconds: a test server in this process, two users with real
//! encrypted store files, end-to-end-encrypted messages both ways, fingerprints and a
//! verification, and a group message — printed as a transcript.
//!
//! Run it:
//!
//! ```sh
//! cargo run -p quickchat --example quickstart
//! ```
//!
//! Nothing outside a temporary directory is touched; the exit status is non-zero if any
//! step fails.

use std::error::Error;
use std::time::Duration;

use futures::StreamExt;
use quickchat::{Client, Conversation, Event, EventStream, MessageRecord};
use quickchat_testserver::{Config, TestServer};

/// How long any one step may take.
const STEP: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    // A protocol-faithful backend on an ephemeral port with a temporary database (bcrypt
    // cost lowered: registration is otherwise slow on purpose).
    let mut server = TestServer::start(Config::default().with_bcrypt_cost(4)).await?;
    println!("== server listening on {}", server.base_url());

    let dir = tempfile::tempdir()?;
    let alice = open(&server, &dir, "alice").await?;
    let bob = open(&server, &dir, "bob").await?;
    let alice_me = alice.register("alice", "alice-password", None).await?;
    let bob_me = bob.register("bob", "bob-password", None).await?;
    println!(
        "== registered alice ({}) and bob ({}); stores: {}",
        alice_me.user_id,
        bob_me.user_id,
        dir.path().display()
    );

    alice.connect_and_wait(STEP).await?;
    bob.connect_and_wait(STEP).await?;
    println!("== both connected");
    let mut alice_events = alice.events();
    let mut bob_events = bob.events();

    // 1:1, end to end encrypted, both ways.
    println!();
    println!("-- direct messages (end-to-end encrypted)");
    let sent = alice.send_text(&bob_me.user_id, "Hello Bob 👋").await?;
    print_wire("alice", "bob", &sent);
    let got = next_message(&mut bob_events).await?;
    println!(
        "bob received: {:?} (encrypted: {})",
        got.body, got.encrypted
    );

    let sent = bob
        .send_text(&alice_me.user_id, "Hi Alice, loud and clear")
        .await?;
    print_wire("bob", "alice", &sent);
    let got = next_message(&mut alice_events).await?;
    println!(
        "alice received: {:?} (encrypted: {})",
        got.body, got.encrypted
    );

    // Fingerprints: each side compares the other's out of band, then records it.
    println!();
    println!("-- fingerprints");
    println!(
        "alice's own:          {}",
        alice.fingerprint().await?.grouped()
    );
    println!(
        "bob's own:            {}",
        bob.fingerprint().await?.grouped()
    );
    println!(
        "bob's, as alice sees: {}",
        alice.peer_fingerprint(&bob_me.user_id).await?.grouped()
    );
    alice.verify_peer(&bob_me.user_id, Some("qr_code")).await?;
    let verification = alice.verification(&bob_me.user_id).await?;
    println!(
        "alice verified bob: verified={} method={} change_pending={}",
        verification.verified,
        verification.method.as_deref().unwrap_or("-"),
        verification.change_pending
    );
    if !verification.verified {
        return Err("verification did not stick".into());
    }

    // A group with both; group messages travel in plaintext on this platform, as in the
    // web client.
    println!();
    println!("-- group");
    let group = alice
        .create_group(
            "quickstart",
            Some("made by the quickstart example"),
            std::slice::from_ref(&bob_me.user_id),
            None,
        )
        .await?;
    println!("alice created group {:?} with bob", group.name);
    alice
        .send_group_text(&group.id, "Welcome to the group, Bob")
        .await?;
    let got = next_group_message(&mut bob_events).await?;
    println!("bob received in {:?}: {:?}", group.name, got.body);

    // What bob's store now holds, decrypted.
    println!();
    println!("-- bob's conversations");
    for conversation in bob.conversations().await? {
        let with = match &conversation.id {
            Conversation::Direct(peer) if *peer == alice_me.user_id => "with alice".to_string(),
            Conversation::Direct(peer) => format!("with {peer}"),
            Conversation::Group(id) if *id == group.id => format!("in group {:?}", group.name),
            Conversation::Group(id) => format!("in group {id}"),
        };
        println!(
            "{with}: last message {:?}, {} unread",
            conversation.last_message.body, conversation.unread
        );
    }

    alice.close().await;
    bob.close().await;
    server.stop().await;
    println!();
    println!("== done: every message arrived, one peer verified");
    Ok(())
}

/// A client on a fresh encrypted redb file in `dir`.
async fn open(
    server: &TestServer,
    dir: &tempfile::TempDir,
    name: &str,
) -> Result<Client, Box<dyn Error>> {
    Ok(Client::builder()
        .server(server.base_url())
        .store_path(dir.path().join(format!("{name}.redb")))
        .passphrase(format!("{name}'s store passphrase"))
        .build()
        .await?)
}

fn print_wire(from: &str, to: &str, sent: &MessageRecord) {
    let wire = sent.wire.as_deref().unwrap_or("");
    let shown: String = wire.chars().take(72).collect();
    println!("{from} -> {to}: {:?}", sent.body);
    println!("    on the wire: {shown}…");
}

async fn next_message(events: &mut EventStream) -> Result<MessageRecord, Box<dyn Error>> {
    wait_for(events, |event| match event {
        Event::Message { message, .. } => Some(message),
        _ => None,
    })
    .await
}

async fn next_group_message(events: &mut EventStream) -> Result<MessageRecord, Box<dyn Error>> {
    wait_for(events, |event| match event {
        Event::GroupMessage { message, .. }
            if message.direction == quickchat::Direction::Incoming =>
        {
            Some(message)
        }
        _ => None,
    })
    .await
}

async fn wait_for<T>(
    events: &mut EventStream,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> Result<T, Box<dyn Error>> {
    let found = tokio::time::timeout(STEP, async {
        while let Some(event) = events.next().await {
            if let Some(found) = pick(event) {
                return Some(found);
            }
        }
        None
    })
    .await
    .map_err(|_| "timed out waiting for an event")?;
    found.ok_or_else(|| "the event stream ended".into())
}
