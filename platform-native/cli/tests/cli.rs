//! The real `quickchat` binary against an in-process test server: accounts, messages both
//! ways (caught up and live), history, fingerprints and verification, an identity change,
//! groups, administration, and the error cases — asserting on stdout, stderr and exit codes.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::*;

/// Whether `text` is a fingerprint in the grouped form: 12 groups of 5 hex digits.
fn is_grouped_fingerprint(text: &str) -> bool {
    let groups: Vec<&str> = text.split(' ').collect();
    groups.len() == 12
        && groups
            .iter()
            .all(|g| g.len() == 5 && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_history_fingerprints_and_trust_through_the_cli() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    let bob = User::new(&server, &dir, "bob");
    let alice_id = alice.register().await;
    let bob_id = bob.register().await;

    // whoami: the user and its fingerprint.
    let me = alice.run(&["whoami"]).await.ok().json();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["userId"], alice_id.as_str());
    let alice_fingerprint = me["fingerprint"].as_str().unwrap().to_string();
    assert!(is_grouped_fingerprint(&alice_fingerprint));

    // users: both, with online marks (alice is connected while asking, bob is not).
    let users = alice.run(&["users"]).await.ok();
    let list = users.json_lines();
    assert_eq!(list.len(), 2);
    let mark = |name: &str| {
        list.iter()
            .find(|u| u["username"] == name)
            .map(|u| u["online"].clone())
            .unwrap()
    };
    assert_eq!(mark("alice"), Value::Bool(true));
    assert_eq!(mark("bob"), Value::Bool(false));
    assert!(users.stderr.contains("2 users, 1 online"), "{users:?}");
    let offline = alice.run(&["users", "--no-presence"]).await.ok();
    assert!(offline.json_lines().iter().all(|u| u["online"].is_null()));

    // send while bob is offline: stored by the server ("sent").
    let sent = alice
        .run(&["send", "bob", "Hello Bob 👋"])
        .await
        .ok()
        .json();
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["encrypted"], true);
    assert_eq!(sent["to"], bob_id.as_str());

    // bob's listen catches it up, decrypted.
    let event = bob.listen_one("message").await;
    assert_eq!(event["type"], "message");
    assert_eq!(event["message"]["body"], "Hello Bob 👋");
    assert_eq!(event["message"]["encrypted"], true);
    assert_eq!(event["message"]["senderId"], alice_id.as_str());
    assert_eq!(event["live"], false);

    // A live message to a listening bob: delivered, and printed as it arrives.
    let mut listener = spawn_piped(&mut bob.command(&[
        "listen",
        "--type",
        "caught_up",
        "--type",
        "message",
        "--count",
        "2",
        "--timeout",
        "60",
    ]));
    let mut lines = line_reader(listener.stdout.take().unwrap());
    let first: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(first["type"], "caught_up");
    let live = alice
        .run(&["send", "bob", "are you there?"])
        .await
        .ok()
        .json();
    assert_eq!(live["status"], "delivered");
    let second: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(second["type"], "message");
    assert_eq!(second["message"]["body"], "are you there?");
    assert_eq!(second["live"], true);
    let ended = tokio::task::spawn_blocking(move || finish(listener))
        .await
        .unwrap();
    assert_eq!(ended.code, Some(0), "{ended:?}");
    assert!(ended.stderr.contains("Listening as bob"), "{ended:?}");

    // bob answers; history on both sides, oldest first, and searchable.
    bob.run(&["send", "alice", "yes, here"]).await.ok();
    let history = alice.run(&["history", "bob"]).await.ok();
    let bodies: Vec<Value> = history
        .json_lines()
        .iter()
        .map(|m| m["body"].clone())
        .collect();
    assert_eq!(bodies, ["Hello Bob 👋", "are you there?", "yes, here"]);
    let found = bob
        .run(&["history", &alice_id, "--search", "THERE"])
        .await
        .ok();
    assert_eq!(found.json()["body"], "are you there?");
    let limited = bob.run(&["history", "alice", "--limit", "1"]).await.ok();
    assert_eq!(limited.json()["body"], "yes, here");
    let second_at = history.json_lines()[1]["timestamp"].as_i64().unwrap();
    let older = alice
        .run(&["history", "bob", "--before", &second_at.to_string()])
        .await
        .ok();
    assert_eq!(older.json()["body"], "Hello Bob 👋");

    // listen without a count runs until Ctrl-C, then ends cleanly.
    let mut listener = spawn_piped(&mut bob.command(&["listen", "--type", "caught_up"]));
    let mut lines = line_reader(listener.stdout.take().unwrap());
    let caught_up: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(caught_up["type"], "caught_up");
    let interrupted = Command::new("kill")
        .args(["-INT", &listener.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let ended = tokio::task::spawn_blocking(move || finish(listener))
        .await
        .unwrap();
    assert_eq!(ended.code, Some(0), "{ended:?}");
    assert!(ended.stderr.contains("Stopped after 1 event."), "{ended:?}");

    // Fingerprints: own and a peer's, in the grouped form, consistent across users.
    let own = alice.run(&["fingerprint"]).await.ok();
    assert_eq!(own.stdout.trim(), alice_fingerprint);
    let bob_own = bob
        .run(&["fingerprint"])
        .await
        .ok()
        .stdout
        .trim()
        .to_string();
    assert!(is_grouped_fingerprint(&bob_own));
    let seen = alice.run(&["fingerprint", "bob"]).await.ok();
    assert_eq!(seen.stdout.trim(), bob_own);
    assert_eq!(
        bob.run(&["fingerprint", "alice"]).await.ok().stdout.trim(),
        alice_fingerprint
    );

    // Verification: a wrong fingerprint is refused; the right one is recorded.
    let wrong = alice
        .run(&["verify", "bob", "--fingerprint", &"0".repeat(60)])
        .await
        .failed();
    assert!(wrong.stderr.contains("does not match"), "{wrong:?}");
    let verified = alice
        .run(&[
            "verify",
            "bob",
            "--method",
            "qr_code",
            "--fingerprint",
            &bob_own.to_lowercase(),
        ])
        .await
        .ok()
        .json();
    assert_eq!(verified["verified"], true);
    assert_eq!(verified["method"], "qr_code");
    assert_eq!(verified["fingerprint"], bob_own.as_str());
    let state = alice.run(&["verification", "bob"]).await.ok().json();
    assert_eq!(state["verified"], true);
    assert_eq!(state["verifiedFingerprint"], bob_own.as_str());
    alice.run(&["unverify", "bob"]).await.ok();
    let state = alice.run(&["verification", "bob"]).await.ok().json();
    assert_eq!(state["verified"], false);
    alice.run(&["verify", "bob"]).await.ok();

    // An identity change after verification blocks sending until accepted.
    let refused = bob.run(&["reset-e2ee"]).await.failed();
    assert!(refused.stderr.contains("--yes"), "{refused:?}");
    let reset = bob.run(&["reset-e2ee", "--yes"]).await.ok().json();
    assert_ne!(reset["fingerprint"], bob_own.as_str());
    bob.run(&["send", "alice", "new keys, same bob"]).await.ok();
    let change = alice.listen_one("identity_changed").await;
    assert_eq!(change["change"]["peerId"], bob_id.as_str());
    assert_eq!(change["change"]["wasVerified"], true);
    let blocked = alice.run(&["send", "bob", "hello?"]).await.failed();
    assert!(
        blocked.stderr.contains("changed after it was verified"),
        "{blocked:?}"
    );
    let pending = alice.run(&["verification", "bob"]).await.ok().json();
    assert_eq!(pending["changePending"], true);
    assert_eq!(pending["verified"], false);
    alice.run(&["accept-identity", "bob"]).await.ok();
    let resumed = alice
        .run(&["send", "bob", "welcome back"])
        .await
        .ok()
        .json();
    assert_eq!(resumed["encrypted"], true);

    // logout forgets the login; the store still opens.
    alice.run(&["logout"]).await.ok();
    let gone = alice.run(&["whoami"]).await.failed();
    assert!(gone.stderr.contains("not logged in"), "{gone:?}");
    let back = alice.run(&["login", "alice"]).await.ok().json();
    assert_eq!(back["userId"], alice_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_administration_through_the_cli() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    let bob = User::new(&server, &dir, "bob");
    let carol = User::new(&server, &dir, "carol");
    alice.register().await;
    let bob_id = bob.register().await;
    let carol_id = carol.register().await;

    // Create, list, members.
    let created = alice
        .run(&[
            "groups",
            "create",
            "Team",
            "--description",
            "the team",
            "--member",
            "bob",
        ])
        .await
        .ok()
        .json();
    assert_eq!(created["name"], "Team");
    let group_id = created["id"].as_str().unwrap().to_string();
    let listed = alice.run(&["groups", "list"]).await.ok().json();
    assert_eq!(listed["id"], group_id.as_str());
    assert_eq!(listed["role"], "owner");
    let members = alice.run(&["groups", "members", "Team"]).await.ok();
    let mut names: Vec<String> = members
        .json_lines()
        .iter()
        .map(|m| {
            format!(
                "{}:{}",
                m["username"].as_str().unwrap(),
                m["role"].as_str().unwrap()
            )
        })
        .collect();
    names.sort();
    assert_eq!(names, ["alice:owner", "bob:member"]);

    // Send and read back, by name and by id, through both history commands.
    let sent = alice
        .run(&["groups", "send", "Team", "hello team"])
        .await
        .ok()
        .json();
    assert_eq!(sent["status"], "delivered");
    assert_eq!(sent["encrypted"], false);
    let history = bob.run(&["groups", "history", &group_id]).await.ok();
    assert!(
        history
            .json_lines()
            .iter()
            .any(|m| m["body"] == "hello team"),
        "{history:?}"
    );
    let history = bob.run(&["history", "Team"]).await.ok();
    let last = history.json_lines().pop().unwrap();
    assert_eq!(last["body"], "hello team");
    assert_eq!(last["direction"], "incoming");

    // Add (announced to connected members, as the web client does), promote, remove.
    let mut listener = spawn_piped(&mut bob.command(&[
        "listen",
        "--type",
        "caught_up",
        "--type",
        "group_event",
        "--count",
        "2",
        "--timeout",
        "60",
    ]));
    let mut lines = line_reader(listener.stdout.take().unwrap());
    let first: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(first["type"], "caught_up");
    let added = alice
        .run(&["groups", "add", "Team", "carol", "--announce"])
        .await
        .ok()
        .json();
    assert_eq!(added["added"], serde_json::json!([carol_id]));
    let event: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(event["type"], "group_event");
    assert_eq!(event["groupId"], group_id.as_str());
    assert_eq!(event["payload"]["event"], "member_added");
    assert_eq!(event["payload"]["userId"], carol_id.as_str());
    let ended = tokio::task::spawn_blocking(move || finish(listener))
        .await
        .unwrap();
    assert_eq!(ended.code, Some(0), "{ended:?}");
    alice
        .run(&["groups", "role", "Team", "carol", "admin"])
        .await
        .ok();
    let members = alice.run(&["groups", "members", "Team"]).await.ok();
    assert!(
        members
            .json_lines()
            .iter()
            .any(|m| m["username"] == "carol" && m["role"] == "admin")
    );
    alice.run(&["groups", "remove", "Team", "carol"]).await.ok();
    assert_eq!(
        alice
            .run(&["groups", "members", "Team"])
            .await
            .ok()
            .json_lines()
            .len(),
        2
    );

    // Invite, join, leave, revoke.
    let invite = alice
        .run(&[
            "groups",
            "invite",
            "Team",
            "--max-uses",
            "2",
            "--expires-in-secs",
            "600",
        ])
        .await
        .ok()
        .json();
    let code = invite["link_code"].as_str().unwrap().to_string();
    let invite_id = invite["id"].as_str().unwrap().to_string();
    let joined = carol.run(&["groups", "join", &code]).await.ok().json();
    assert_eq!(joined["group_id"], group_id.as_str());
    carol.run(&["groups", "leave", "Team"]).await.ok();
    assert!(carol.run(&["groups", "list"]).await.ok().stdout.is_empty());
    alice
        .run(&["groups", "revoke-invite", "Team", &invite_id])
        .await
        .ok();
    let late = carol.run(&["groups", "join", &code]).await.failed();
    assert!(
        late.stderr.contains("Invalid or expired invite link"),
        "{late:?}"
    );
    let owner_leaving = alice.run(&["groups", "leave", "Team"]).await.failed();
    assert!(
        owner_leaving.stderr.contains("owner cannot leave"),
        "{owner_leaving:?}"
    );

    // Names that match no group, or several.
    let unknown = alice.run(&["groups", "members", "Nope"]).await.failed();
    assert!(
        unknown.stderr.contains("no group named \"Nope\""),
        "{unknown:?}"
    );
    alice.run(&["groups", "create", "Team"]).await.ok();
    let ambiguous = alice.run(&["groups", "send", "Team", "hi"]).await.failed();
    assert!(
        ambiguous
            .stderr
            .contains("2 of your groups are named \"Team\""),
        "{ambiguous:?}"
    );
    alice
        .run(&["groups", "send", &group_id, "by id"])
        .await
        .ok();

    // Administration: refused until the operators make alice an admin.
    let refused = alice.run(&["admin", "users"]).await.failed();
    assert!(refused.stderr.contains("403"), "{refused:?}");
    server.make_admin("alice").await.unwrap();
    let users = alice.run(&["admin", "users"]).await.ok().json_lines();
    assert_eq!(users.len(), 3);

    // Images: forbidden, then allowed again.
    let image = dir.path().join("pixel.png");
    std::fs::write(&image, [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]).unwrap();
    let image = image.to_str().unwrap();
    alice.run(&["admin", "images", "bob", "off"]).await.ok();
    let no_images = bob.run(&["send", "alice", "--image", image]).await.failed();
    assert!(
        no_images.stderr.contains("permission to send images"),
        "{no_images:?}"
    );
    alice.run(&["admin", "images", "bob", "on"]).await.ok();
    let picture = bob
        .run(&["send", "alice", "--image", image])
        .await
        .ok()
        .json();
    assert_eq!(picture["kind"], "image");
    let received = alice.run(&["history", "bob"]).await.ok();
    let last = received.json_lines().pop().unwrap();
    assert_eq!(last["imageData"], "data:image/png;base64,iVBORw0KGgo=");

    // Disable and enable; roles.
    alice.run(&["admin", "disable", "carol"]).await.ok();
    let disabled = carol.run(&["login", "carol"]).await.failed();
    assert!(disabled.stderr.contains("403"), "{disabled:?}");
    alice.run(&["admin", "enable", &carol_id]).await.ok();
    carol.run(&["login", "carol"]).await.ok();
    alice.run(&["admin", "role", "bob", "admin"]).await.ok();
    let users = bob.run(&["admin", "users"]).await.ok().json_lines();
    let bob_entry = users.iter().find(|u| u["id"] == bob_id.as_str()).unwrap();
    assert_eq!(bob_entry["role"], "admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_clear_and_secrets_stay_hidden() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");

    // No passphrase: nothing is created, the error says what to set.
    let mut command = alice.command(&["whoami"]);
    command.env_remove("QUICKCHAT_PASSPHRASE");
    let missing = run(command).await.failed();
    assert!(
        missing.stderr.contains("no passphrase") && missing.stderr.contains("QUICKCHAT_PASSPHRASE"),
        "{missing:?}"
    );
    assert!(!Path::new(&alice.store).exists());

    // No server.
    let mut command = alice.command(&["whoami"]);
    command.env_remove("QUICKCHAT_SERVER");
    let missing = run(command).await.failed();
    assert!(missing.stderr.contains("QUICKCHAT_SERVER"), "{missing:?}");

    // No password for register.
    let mut command = alice.command(&["register", "alice"]);
    command.env_remove("QUICKCHAT_PASSWORD");
    let missing = run(command).await.failed();
    assert!(missing.stderr.contains("no password given"), "{missing:?}");

    // Nobody logged in yet.
    let nobody = alice.run(&["send", "bob", "hi"]).await.failed();
    assert!(nobody.stderr.contains("not logged in"), "{nobody:?}");

    // A store made with the default (strong) key derivation, then the wrong passphrase.
    let mut command = alice.command(&["register", "alice"]);
    command.env_remove("QUICKCHAT_INSECURE_FAST_KDF");
    run(command).await.ok();
    let mut command = alice.command(&["whoami"]);
    command.env("QUICKCHAT_PASSPHRASE", "not the passphrase");
    let wrong = run(command).await.failed();
    assert!(wrong.stderr.contains("wrong passphrase"), "{wrong:?}");
    assert!(wrong.stdout.is_empty());

    // Unknown peer; a second account in the same store; bad credentials.
    let unknown = alice.run(&["send", "nobody", "hi"]).await.failed();
    assert_eq!(
        unknown.stderr.trim(),
        "error: no user with the name or id \"nobody\""
    );
    let bob = User::new(&server, &dir, "bob");
    bob.register().await;
    let other = alice.run(&["login", "bob"]).await.failed();
    assert!(other.stderr.contains("401"), "{other:?}");
    let mut command = bob.command(&["login", "bob"]);
    command.env("QUICKCHAT_STORE", &alice.store);
    command.env("QUICKCHAT_PASSPHRASE", &alice.passphrase);
    let foreign = run(command).await.failed();
    assert!(foreign.stderr.contains("use another store"), "{foreign:?}");

    // A peer without keys (registered without an encrypting client): refused unless the
    // sender asks for plaintext.
    let keyless = quickchat::Client::builder()
        .server(server.base_url())
        .build()
        .await
        .unwrap();
    keyless
        .api()
        .register(
            &quickchat::quickchat_core::protocol::rest::RegisterRequest {
                username: "dave".into(),
                password: "dave-password".into(),
                avatar: None,
            },
        )
        .await
        .unwrap();
    let no_keys = alice.run(&["send", "dave", "hi"]).await.failed();
    assert!(
        no_keys
            .stderr
            .contains("dave has published no encryption keys")
            && no_keys.stderr.contains("--plaintext"),
        "{no_keys:?}"
    );
    let clear = alice
        .run(&["send", "dave", "--plaintext", "hi in the clear"])
        .await
        .ok();
    assert_eq!(clear.json()["encrypted"], false);
    assert!(clear.stderr.contains("not encrypted"), "{clear:?}");

    // Bad arguments: an unreadable image, an unknown image type, a bad role.
    let image = alice
        .run(&["send", "bob", "--image", "/nonexistent/x.png"])
        .await
        .failed();
    assert!(
        image.stderr.contains("cannot read /nonexistent/x.png"),
        "{image:?}"
    );
    let kind = alice
        .run(&["send", "bob", "--image", "notes.txt"])
        .await
        .failed();
    assert!(
        kind.stderr.contains("cannot tell the image type"),
        "{kind:?}"
    );
    let usage = alice.run(&["admin", "role", "bob", "king"]).await;
    assert_eq!(usage.code, Some(2), "{usage:?}");
    assert!(usage.stderr.contains("invalid value 'king'"), "{usage:?}");

    // A server that is not there: a clear error, quickly.
    let mut command = alice.command(&["send", "bob", "hi"]);
    command.env("QUICKCHAT_SERVER", "http://127.0.0.1:9");
    let unreachable = run(command).await.failed();
    assert!(
        unreachable.stderr.contains("cannot reach the server"),
        "{unreachable:?}"
    );

    // Help never shows the secrets held in the environment.
    let help = alice.run(&["--help"]).await.ok();
    assert!(help.stdout.contains("QUICKCHAT_PASSPHRASE"));
    assert!(help.stdout.contains("--store"));
}
