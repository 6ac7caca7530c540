//! Moving an account with the real `quickchat` binary: `export` from one store, `import`
//! into another, and the conversation goes on from the new store with no new session (no
//! `x3dh` block on the wire) and no identity change for the peer; the old store refuses to
//! send; a wrong passphrase, a damaged file and a store that holds an account are refused.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FILE_PASSPHRASE: &str = "file-passphrase-for-the-move-3k8";

/// Every message between two users as the backend keeps them (the history endpoint needs
/// no token: PROTOCOL §7).
async fn backend_history(base: &str, peer: &str, me: &str) -> Vec<Value> {
    let authority = base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(authority).await.unwrap();
    let request = format!(
        "GET /api/messages/{peer}?user={me} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    socket.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let body = &response[response.find("\r\n\r\n").unwrap() + 4..];
    // Chunked or not, the JSON array is between the first '[' and the last ']'.
    let json = &body[body.find('[').unwrap()..=body.rfind(']').unwrap()];
    serde_json::from_str(json).unwrap()
}

/// The fingerprint `user` sees for `peer` (printed as text, not JSON).
async fn fingerprint(user: &User, peer: &str) -> String {
    let run = user.run(&["fingerprint", peer]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    run.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_moves_to_another_store_and_its_conversation_goes_on() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    let bob = User::new(&server, &dir, "bob");
    let alice_id = alice.register().await;
    let bob_id = bob.register().await;

    // A session both ways before the move.
    alice.run(&["send", "bob", "before the move"]).await.ok();
    assert_eq!(
        bob.listen_one("message").await["message"]["body"],
        "before the move"
    );
    bob.run(&["send", "alice", "reply before"]).await.ok();
    assert_eq!(
        alice.listen_one("message").await["message"]["body"],
        "reply before"
    );
    let bob_sees = fingerprint(&bob, "alice").await;

    // Export: the file is written, no secret is printed, the old store is marked moved.
    let file = dir.path().join("alice.qcaccount");
    let file_arg = file.to_str().unwrap();
    let mut export = alice.command(&["export", "--out", file_arg]);
    export.env("QUICKCHAT_FILE_PASSPHRASE", FILE_PASSPHRASE);
    let exported = run(export).await.ok();
    assert!(!exported.stdout.contains(FILE_PASSPHRASE));
    alice.assert_no_secrets(&exported.stdout);
    assert!(exported.json()["bytes"].as_u64().unwrap() > 100);
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"QCACCT\0\n"));
    for secret in ["before the move", &alice.password, FILE_PASSPHRASE] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret:?} in the clear"
        );
    }
    // Exporting again over the file is refused (it would destroy the only copy).
    let mut again = alice.command(&["export", "--out", file_arg]);
    again.env("QUICKCHAT_FILE_PASSPHRASE", FILE_PASSPHRASE);
    run(again).await.failed();

    let refused = alice
        .run(&["send", "bob", "from the old store"])
        .await
        .failed();
    assert!(refused.stderr.contains("exported"), "{refused:?}");

    // Import into a new store: wrong passphrase first (nothing changes), then the right one.
    let mut moved = User::new(&server, &dir, "alice");
    moved.store = dir.path().join("alice-moved.redb");
    let mut wrong = moved.command(&["import", file_arg]);
    wrong.env("QUICKCHAT_FILE_PASSPHRASE", "not the passphrase");
    let wrong = run(wrong).await.failed();
    assert!(wrong.stderr.contains("wrong passphrase"), "{wrong:?}");
    let damaged_path = dir.path().join("damaged.qcaccount");
    std::fs::write(&damaged_path, &bytes[..bytes.len() - 30]).unwrap();
    let mut damaged = moved.command(&["import", damaged_path.to_str().unwrap()]);
    damaged.env("QUICKCHAT_FILE_PASSPHRASE", FILE_PASSPHRASE);
    let damaged = run(damaged).await.failed();
    assert!(damaged.stderr.contains("damaged"), "{damaged:?}");
    let mut import = moved.command(&["import", file_arg]);
    import.env("QUICKCHAT_FILE_PASSPHRASE", FILE_PASSPHRASE);
    let imported = run(import).await.ok().json();
    assert_eq!(imported["userId"], alice_id.as_str());
    assert_eq!(imported["sessions"], 1);
    assert_eq!(imported["loggedIn"], true);
    // A store with an account takes no other without --replace.
    let mut into_bob = bob.command(&["import", file_arg]);
    into_bob.env("QUICKCHAT_FILE_PASSPHRASE", FILE_PASSPHRASE);
    let into_bob = run(into_bob).await.failed();
    assert!(into_bob.stderr.contains("already holds"), "{into_bob:?}");

    // The conversation goes on from the new store, both ways, on the same sessions.
    moved.run(&["send", "bob", "after the move"]).await.ok();
    let heard = bob.listen_one("message").await;
    assert_eq!(heard["message"]["body"], "after the move");
    bob.run(&["send", "alice", "welcome back"]).await.ok();
    assert_eq!(
        moved.listen_one("message").await["message"]["body"],
        "welcome back"
    );
    // Bob sees the same identity, and the backend saw no new session: one first message
    // (x3dh block) in the whole conversation, the very first one.
    assert_eq!(fingerprint(&bob, "alice").await, bob_sees);
    let history = backend_history(&server.base_url(), &bob_id, &alice_id).await;
    let texts: Vec<&str> = history
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    let first_messages = texts.iter().filter(|c| c.contains("\"x3dh\"")).count();
    assert_eq!(first_messages, 1, "{texts:?}");
    assert!(texts[0].contains("\"x3dh\""));

    // Reactivating the old store is explicit and makes it usable again.
    let reactivated = alice.run(&["reactivate"]).await.ok().json();
    assert_eq!(reactivated["reactivated"], true);
}
