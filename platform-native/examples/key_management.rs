//! Keys and trust, end to end, against a test server in this process:
//!
//! 1. fingerprints — your own and a peer's, in the grouped form people compare;
//! 2. verification — recording that you compared them, and reading it back;
//! 3. an identity change — the peer resets its keys (`reset_e2ee`), its next message
//!    brings an [`Event::IdentityChanged`], sending to it is refused because it was
//!    verified, until the change is accepted ([`accept_identity`]) or verified again;
//! 4. prekey upkeep — other users' bundle fetches use up one-time prekeys on the server;
//!    [`maintain_prekeys`] tops them up (the connection loop also does it by itself).
//!
//! Run it:
//!
//! ```sh
//! cargo run -p quickchat --example key_management
//! ```
//!
//! [`accept_identity`]: quickchat::CoreClient::accept_identity
//! [`maintain_prekeys`]: quickchat::CoreClient::maintain_prekeys

use std::error::Error;
use std::time::Duration;

use futures::StreamExt;
use quickchat::quickchat_core::store::Store;
use quickchat::{Client, Event, EventStream};
use quickchat_testserver::{Config, TestServer};

const STEP: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("key_management failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut server = TestServer::start(Config::default().with_bcrypt_cost(4)).await?;
    let dir = tempfile::tempdir()?;
    let alice = open(&server, &dir, "alice").await?;
    let bob = open(&server, &dir, "bob").await?;
    let alice_id = alice
        .register("alice", "alice-password", None)
        .await?
        .user_id;
    let bob_id = bob.register("bob", "bob-password", None).await?.user_id;
    alice.connect_and_wait(STEP).await?;
    bob.connect_and_wait(STEP).await?;
    let mut alice_events = alice.events();
    let mut bob_events = bob.events();

    println!("== 1. fingerprints");
    println!(
        "alice's own:            {}",
        alice.fingerprint().await?.grouped()
    );
    println!(
        "bob's own:              {}",
        bob.fingerprint().await?.grouped()
    );
    println!(
        "bob's, as alice sees it: {}",
        alice.peer_fingerprint(&bob_id).await?.grouped()
    );

    println!();
    println!("== 2. verification");
    let before = alice.verification(&bob_id).await?;
    println!("before: verified={}", before.verified);
    alice.verify_peer(&bob_id, Some("manual")).await?;
    let after = alice.verification(&bob_id).await?;
    println!(
        "after alice verifies bob: verified={} method={} at={}",
        after.verified,
        after.method.as_deref().unwrap_or("-"),
        after.verified_at.unwrap_or_default()
    );
    alice.send_text(&bob_id, "Hi Bob, I verified you").await?;
    next_message(&mut bob_events).await?;
    bob.send_text(&alice_id, "Thanks Alice").await?;
    next_message(&mut alice_events).await?;
    println!("messages flow both ways");

    println!();
    println!("== 3. an identity change");
    bob.reset_e2ee().await?;
    println!(
        "bob reset his keys; his new fingerprint: {}",
        bob.fingerprint().await?.grouped()
    );
    bob.send_text(&alice_id, "New keys here").await?;
    let change = wait_for(&mut alice_events, |event| match event {
        Event::IdentityChanged { change } => Some(change),
        _ => None,
    })
    .await?;
    println!(
        "alice got IdentityChanged: {} -> {} (was verified: {})",
        change.previous_fingerprint().grouped(),
        change.new_fingerprint().grouped(),
        change.was_verified
    );
    let message = next_message(&mut alice_events).await?;
    println!("bob's message still arrives: {:?}", message.body);
    match alice.send_text(&bob_id, "Is that really you?").await {
        Ok(_) => return Err("sending should be blocked after a verified key changed".into()),
        Err(e) => println!("alice's send is refused: {e}"),
    }
    let pending = alice.verification(&bob_id).await?;
    println!(
        "verification now: verified={} change_pending={}",
        pending.verified, pending.change_pending
    );
    // Having checked the new fingerprint with Bob (in person, by phone, …), Alice either
    // verifies it again or accepts it without verifying; here she accepts it.
    alice.accept_identity(&bob_id).await?;
    alice.send_text(&bob_id, "Got your new key").await?;
    let got = next_message(&mut bob_events).await?;
    println!(
        "after accept_identity alice can send again; bob got {:?}",
        got.body
    );
    let accepted = alice.verification(&bob_id).await?;
    println!(
        "verification now: verified={} change_pending={} (verify again to mark it verified)",
        accepted.verified, accepted.change_pending
    );

    println!();
    println!("== 4. prekey upkeep");
    let on_server = |count: u32| format!("{count} one-time prekeys on the server");
    println!(
        "alice starts with {}",
        on_server(prekey_count(&alice).await?)
    );
    // Every bundle fetch hands out (and uses up) one of Alice's one-time prekeys, as the
    // backend does. Bob fetches her bundle 90 times.
    let bob_token = token(&bob).await?;
    for _ in 0..90 {
        bob.api().fetch_bundle(&bob_token, &alice_id).await?;
    }
    println!(
        "after 90 bundle fetches: {}",
        on_server(prekey_count(&alice).await?)
    );
    alice.maintain_prekeys().await?;
    println!(
        "after maintain_prekeys: {}",
        on_server(prekey_count(&alice).await?)
    );

    alice.close().await;
    bob.close().await;
    server.stop().await;
    println!();
    println!("== done");
    Ok(())
}

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

/// The JWT of the saved login: the client keeps it in its store; here it is used for a
/// REST call the client does not wrap (`GET /api/users/prekeys/status`, and fetching a
/// bundle without starting a session). Never print it.
async fn token(client: &Client) -> Result<String, Box<dyn Error>> {
    client
        .store()
        .account_meta()
        .await?
        .and_then(|meta| meta.login)
        .map(|login| login.token)
        .ok_or_else(|| "not logged in".into())
}

/// How many unused one-time prekeys the server holds for this client's account.
async fn prekey_count(client: &Client) -> Result<u32, Box<dyn Error>> {
    let status = client.api().prekey_status(&token(client).await?).await?;
    Ok(status.one_time_prekey_count)
}

async fn next_message(
    events: &mut EventStream,
) -> Result<quickchat::MessageRecord, Box<dyn Error>> {
    wait_for(events, |event| match event {
        Event::Message { message, .. } => Some(message),
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
