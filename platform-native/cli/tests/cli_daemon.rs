//! The `quickchat` binary's daemon and what came with it: concurrent `send` and `listen`
//! through one daemon, its socket's permissions, JSON-RPC over the socket and over stdio
//! (bad input included), stopping on SIGTERM with everything committed, sending while the
//! server is down, look-alike names, read receipts and typing, and a login that would take
//! over another device's keys.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

/// A generous bound for a process to exit after SIGTERM (the target is 1 s; this machine
/// is shared and slow, so the test only guards against hanging).
const EXIT_BOUND: Duration = Duration::from_secs(15);

fn socket_of(user: &User) -> PathBuf {
    let mut path = user.store.clone().into_os_string();
    path.push(".sock");
    PathBuf::from(path)
}

/// A running daemon and the lines of its stderr.
struct Daemon {
    child: Child,
    stderr: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Daemon {
    /// Starts `quickchat daemon` for `user` and waits until it is connected and caught up.
    async fn start(user: &User) -> Self {
        let mut child = user
            .command(&["daemon"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the daemon starts");
        let mut stderr = line_reader(child.stderr.take().unwrap());
        loop {
            let line = next_line(&mut stderr).await;
            assert!(!line.starts_with("error"), "the daemon failed: {line}");
            if line.starts_with("Connected and caught up") {
                break;
            }
        }
        Self { child, stderr }
    }

    /// Sends SIGTERM and waits for the exit; returns the status code and how long it took.
    async fn terminate(mut self) -> (Option<i32>, Duration) {
        let pid = self.child.id().to_string();
        let status = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            assert!(
                Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .unwrap()
                    .success()
            );
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    return (status.code(), started.elapsed());
                }
                if started.elapsed() > EXIT_BOUND {
                    let _ = self.child.kill();
                    panic!("the daemon did not stop after SIGTERM");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .await
        .unwrap();
        while let Ok(line) = self.stderr.try_recv() {
            assert!(!line.contains("panicked"), "{line}");
        }
        status
    }
}

/// One JSON-RPC exchange on a fresh socket connection: sends `lines`, reads `answers` lines.
fn exchange(socket: &PathBuf, lines: &[&str], answers: usize) -> Vec<Value> {
    let mut stream = UnixStream::connect(socket).expect("the socket accepts");
    stream
        .set_read_timeout(Some(COMMAND_TIMEOUT))
        .expect("timeout");
    for line in lines {
        writeln!(stream, "{line}").unwrap();
    }
    let mut reader = BufReader::new(stream);
    (0..answers)
        .map(|_| {
            let mut line = String::new();
            reader.read_line(&mut line).expect("an answer");
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_serves_send_and_listen_at_once_and_stops_on_sigterm() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    let bob = User::new(&server, &dir, "bob");
    let alice_id = alice.register().await;
    let bob_id = bob.register().await;

    let daemon = Daemon::start(&alice).await;
    let socket = socket_of(&alice);
    let meta = std::fs::symlink_metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "socket mode");

    // listen through the daemon while sends go through it and come from bob.
    let mut listener = spawn_piped(&mut alice.command(&[
        "listen",
        "--type",
        "message",
        "--type",
        "message_status",
        "--count",
        "2",
    ]));
    let mut heard = line_reader(listener.stdout.take().unwrap());
    // The subscription is up once the listener says so on stderr.
    let mut listener_err = line_reader(listener.stderr.take().unwrap());
    let note = next_line(&mut listener_err).await;
    assert!(note.contains("through the daemon"), "{note}");

    let (sent, from_bob) = tokio::join!(
        alice.run(&["send", "bob", "hello from the daemon"]),
        bob.run(&["send", "alice", "hello alice"])
    );
    let sent = sent.ok().json();
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["to"], bob_id.as_str());
    from_bob.ok();
    let mut types = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let event: Value = serde_json::from_str(&next_line(&mut heard).await).unwrap();
        types.push(event["type"].as_str().unwrap().to_string());
        if event["type"] == "message" {
            bodies.push(event["message"]["body"].clone());
            assert_eq!(event["message"]["senderId"], bob_id.as_str());
        }
    }
    assert!(types.contains(&"message".to_string()), "{types:?}");
    assert_eq!(bodies, [json!("hello alice")]);
    let ended = tokio::task::spawn_blocking(move || finish(listener))
        .await
        .unwrap();
    assert_eq!(ended.code, Some(0), "{ended:?}");

    // Other commands through the daemon: the store is not opened twice.
    let me = alice.run(&["whoami"]).await.ok().json();
    assert_eq!(me["userId"], alice_id.as_str());
    let history = alice.run(&["history", "bob"]).await.ok().json_lines();
    let texts: Vec<&Value> = history.iter().map(|m| &m["body"]).collect();
    assert!(texts.contains(&&json!("hello alice")), "{history:?}");
    assert!(
        texts.contains(&&json!("hello from the daemon")),
        "{history:?}"
    );
    let unknown = alice.run(&["send", "nobody", "hi"]).await.failed();
    assert_eq!(
        unknown.stderr.trim(),
        "error: no user with the name or id \"nobody\""
    );

    // Bad JSON-RPC input gets JSON-RPC errors, and the daemon goes on serving.
    let answers = exchange(
        &socket,
        &[
            "this is not json",
            r#"{"jsonrpc":"2.0","id":2,"method":"no-such-method"}"#,
            r#"{"jsonrpc":"1.0","id":3,"method":"whoami"}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"send","params":{"text":"no peer"}}"#,
            r#"{"jsonrpc":"2.0","method":"whoami"}"#,
            r#"{"jsonrpc":"2.0","id":5,"method":"whoami","params":{}}"#,
        ],
        5,
    );
    let by_id = |id: Value| {
        answers
            .iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("no answer with id {id}: {answers:?}"))
            .clone()
    };
    assert_eq!(by_id(Value::Null)["error"]["code"], -32700);
    assert_eq!(by_id(json!(2))["error"]["code"], -32601);
    assert_eq!(by_id(json!(3))["error"]["code"], -32600);
    assert_eq!(by_id(json!(4))["error"]["code"], -32602);
    let whoami = by_id(json!(5));
    assert_eq!(whoami["jsonrpc"], "2.0");
    assert_eq!(whoami["result"]["results"][0]["username"], "alice");
    // A command's own failure carries its code, kind and message.
    let failed = exchange(
        &socket,
        &[r#"{"jsonrpc":"2.0","id":"x","method":"send","params":{"peer":"nobody","text":"hi"}}"#],
        1,
    );
    assert_eq!(failed[0]["id"], "x");
    assert_eq!(failed[0]["error"]["code"], 2);
    assert_eq!(failed[0]["error"]["data"]["kind"], "unknown_user");

    // SIGTERM: a clean exit, the socket removed, the store closed with everything in it.
    let (code, took) = daemon.terminate().await;
    eprintln!("the daemon stopped {took:?} after SIGTERM");
    assert_eq!(code, Some(0));
    assert!(!socket.exists(), "the socket is removed");
    let mut offline = alice.command(&["history", "bob", "--local"]);
    offline.env("QUICKCHAT_SERVER", "http://127.0.0.1:9");
    let local = run(offline).await.ok().json_lines();
    assert!(
        local.iter().any(|m| m["body"] == "hello alice"),
        "{local:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_speaks_json_rpc_on_stdio_until_stdin_ends() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    alice.register().await;
    let mut daemon = alice
        .command(&["daemon", "--stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = daemon.stdin.take().unwrap();
    let mut answers = line_reader(daemon.stdout.take().unwrap());
    writeln!(stdin, "{{broken").unwrap();
    stdin.write_all(b"\xff\xfe not utf-8\n").unwrap();
    writeln!(
        stdin,
        r#"[{{"jsonrpc":"2.0","id":1,"method":"whoami"}},{{"jsonrpc":"2.0","id":2,"method":"fingerprint"}}]"#
    )
    .unwrap();
    stdin.flush().unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(serde_json::from_str::<Value>(&next_line(&mut answers).await).unwrap());
    }
    let parse_errors: Vec<&Value> = seen.iter().filter(|v| v.is_object()).collect();
    assert_eq!(parse_errors.len(), 2, "{seen:?}");
    assert!(parse_errors.iter().all(|e| e["error"]["code"] == -32700));
    let batch = seen
        .iter()
        .find_map(|v| v.as_array())
        .expect("a batch answer");
    assert_eq!(batch.len(), 2);
    let whoami = batch.iter().find(|a| a["id"] == 1).unwrap();
    assert_eq!(whoami["result"]["results"][0]["username"], "alice");
    let fingerprint = batch.iter().find(|a| a["id"] == 2).unwrap();
    assert_eq!(
        fingerprint["result"]["results"][0],
        whoami["result"]["results"][0]["fingerprint"]
    );
    drop(stdin);
    let ended = tokio::task::spawn_blocking(move || finish(daemon))
        .await
        .unwrap();
    assert_eq!(ended.code, Some(0), "{ended:?}");
    assert!(ended.stderr.contains("Stopped."), "{ended:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_stops_on_sigterm_with_what_it_received_committed() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    let bob = User::new(&server, &dir, "bob");
    alice.register().await;
    bob.register().await;
    let mut listener =
        spawn_piped(&mut bob.command(&["listen", "--type", "caught_up", "--type", "message"]));
    let mut lines = line_reader(listener.stdout.take().unwrap());
    let first: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(first["type"], "caught_up");
    // Without a daemon, the store is this listen's alone; the error says what to do.
    let busy = bob.run(&["whoami"]).await.failed();
    assert!(
        busy.stderr.contains("already open") && busy.stderr.contains("quickchat daemon"),
        "{busy:?}"
    );
    alice.run(&["send", "bob", "before the signal"]).await.ok();
    let got: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(got["message"]["body"], "before the signal");
    let pid = listener.id().to_string();
    let ended = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let ended = finish(listener);
        (ended, started.elapsed())
    })
    .await
    .unwrap();
    assert_eq!(ended.0.code, Some(0), "{:?}", ended.0);
    eprintln!("listen stopped {:?} after SIGTERM", ended.1);
    assert!(ended.1 < EXIT_BOUND);
    let mut offline = bob.command(&["history", "alice", "--local"]);
    offline.env("QUICKCHAT_SERVER", "http://127.0.0.1:9");
    let local = run(offline).await.ok().json();
    assert_eq!(local["body"], "before the signal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_while_the_server_is_down_queues_the_message_once() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    let bob = User::new(&server, &dir, "bob");
    alice.register().await;
    bob.register().await;
    alice.run(&["send", "bob", "first"]).await.ok();

    // The server is unreachable: bob is found among the saved contacts, the message is
    // encrypted with the existing session and waits in the outbox.
    let mut down = alice.command(&["send", "bob", "written offline"]);
    down.env("QUICKCHAT_SERVER", "http://127.0.0.1:9");
    let queued = run(down).await.ok();
    let json = queued.json();
    assert_eq!(json["status"], "pending");
    assert_eq!(json["queued"], true);
    assert_eq!(json["encrypted"], true);
    assert!(queued.stderr.contains("outbox"), "{queued:?}");
    let mut down = alice.command(&["history", "bob", "--local"]);
    down.env("QUICKCHAT_SERVER", "http://127.0.0.1:9");
    let local = run(down).await.ok().json_lines();
    assert_eq!(local.last().unwrap()["status"], "pending");

    // Back online: the next command that connects sends it, exactly once.
    alice.run(&["send", "bob", "back online"]).await.ok();
    let heard = bob.run(&["history", "alice"]).await.ok().json_lines();
    let bodies: Vec<&Value> = heard.iter().map(|m| &m["body"]).collect();
    assert_eq!(
        bodies,
        [
            &json!("first"),
            &json!("written offline"),
            &json!("back online")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_alike_names_are_flagged_on_stderr_and_in_the_json() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    let bob = User::new(&server, &dir, "bob");
    let fake = User::new(&server, &dir, "b\u{043E}b");
    alice.register().await;
    bob.register().await;
    let fake_id = fake.register().await;
    // bob becomes a contact by being written to.
    let plain = alice.run(&["send", "bob", "hi bob"]).await.ok();
    assert!(!plain.stderr.contains("warning"), "{plain:?}");
    assert_eq!(plain.json()["toNameIssues"], json!([]));

    let spoofed = alice.run(&["send", "b\u{043E}b", "hi?"]).await.ok();
    assert!(
        spoofed.stderr.contains("warning: the user name")
            && spoofed.stderr.contains("looks like your contact \"bob\""),
        "{spoofed:?}"
    );
    let issues = spoofed.json()["toNameIssues"].clone();
    let kinds: Vec<&str> = issues
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"mixed_scripts"), "{issues}");
    assert!(kinds.contains(&"looks_like"), "{issues}");
    let users = alice
        .run(&["users", "--no-presence"])
        .await
        .ok()
        .json_lines();
    let listed = users.iter().find(|u| u["id"] == fake_id.as_str()).unwrap();
    assert!(!listed["nameIssues"].as_array().unwrap().is_empty());
    // The warning cannot be silenced with --quiet.
    let quiet = alice
        .run(&["--quiet", "fingerprint", "b\u{043E}b"])
        .await
        .ok();
    assert!(
        quiet.stderr.contains("looks like your contact"),
        "{quiet:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_receipts_typing_and_listen_mark_read() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    let bob = User::new(&server, &dir, "bob");
    alice.register().await;
    let bob_id = bob.register().await;
    let sent = alice.run(&["send", "bob", "read me"]).await.ok().json();
    let message_id = sent["id"].as_str().unwrap().to_string();

    // bob reads it (caught up first); alice learns it from the server's history.
    let read = bob.run(&["read", "alice"]).await.ok().json();
    assert_eq!(read["messageIds"], json!([message_id]));
    let history = alice.run(&["history", "bob"]).await.ok().json();
    assert_eq!(history["status"], "read");
    assert!(history["readAt"].is_i64());

    // Live: typing and a read receipt reach a listening alice.
    let mut listener = spawn_piped(&mut alice.command(&[
        "listen",
        "--type",
        "caught_up",
        "--type",
        "typing",
        "--type",
        "messages_read",
        "--count",
        "3",
    ]));
    let mut lines = line_reader(listener.stdout.take().unwrap());
    let first: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(first["type"], "caught_up");
    bob.run(&["typing", "alice", "on"]).await.ok();
    let typing: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(typing["type"], "typing");
    assert_eq!(typing["userId"], bob_id.as_str());
    assert_eq!(typing["typing"], true);
    bob.run(&["read", "alice", "--id", &message_id]).await.ok();
    let receipt: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(receipt["type"], "messages_read");
    assert_eq!(receipt["messageIds"], json!([message_id]));
    let ended = tokio::task::spawn_blocking(move || finish(listener))
        .await
        .unwrap();
    assert_eq!(ended.code, Some(0), "{ended:?}");

    // listen --mark-read marks what it prints.
    alice.run(&["send", "bob", "mark me"]).await.ok();
    let marked = bob
        .run(&["listen", "--type", "message", "--count", "1", "--mark-read"])
        .await
        .ok()
        .json();
    assert_eq!(marked["message"]["body"], "mark me");
    let history = alice.run(&["history", "bob"]).await.ok().json_lines();
    assert_eq!(history.last().unwrap()["status"], "read", "{history:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refuses_to_take_over_another_devices_keys_without_replace_keys() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    alice.register().await;
    let mut laptop = User::new(&server, &dir, "alice");
    laptop.store = dir.path().join("alice-laptop.redb");

    let refused = laptop.run(&["login", "alice"]).await.failed();
    assert!(
        refused.stderr.contains("in use on another device")
            && refused.stderr.contains("--replace-keys")
            && refused.stderr.contains("could no longer decrypt"),
        "{refused:?}"
    );
    // Nothing changed: the first device still logs in with its keys.
    alice.run(&["login", "alice"]).await.ok();
    let taken = laptop.run(&["login", "alice", "--replace-keys"]).await.ok();
    assert_eq!(taken.json()["username"], "alice");
    let theirs = alice.run(&["login", "alice"]).await.failed();
    assert!(
        theirs.stderr.contains("in use on another device"),
        "{theirs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_is_not_ours_is_never_followed() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    alice.register().await;
    let socket = socket_of(&alice);

    // A plain file where the socket would be.
    std::fs::write(&socket, b"").unwrap();
    let refused = alice.run(&["whoami"]).await.failed();
    assert!(refused.stderr.contains("is not a socket"), "{refused:?}");
    std::fs::remove_file(&socket).unwrap();

    // A socket another user made (only root can give it away, so only then is this
    // checked): refused, before anything is sent to it.
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    if std::os::unix::fs::chown(&socket, Some(65534), None).is_ok() {
        let refused = alice.run(&["whoami"]).await.failed();
        assert!(
            refused.stderr.contains("belongs to another user"),
            "{refused:?}"
        );
        listener.set_nonblocking(true).unwrap();
        assert!(
            listener.accept().is_err(),
            "the command connected to the foreign socket"
        );
    } else {
        eprintln!("not root: the foreign-owner case is not checked");
    }
    drop(listener);
    std::fs::remove_file(&socket).unwrap();

    // A socket of ours that nobody answers on (a daemon that died): the command runs
    // alone.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    alice.run(&["whoami"]).await.ok();
}
