//! The examples, run as the programs they are: `quickstart` and `key_management` end to end
//! (exit status and transcript), and each bot against a test server for one exchange with a
//! real client, then stopped with SIGINT as Ctrl-C would (the echo bot with SIGTERM, its
//! store reopened afterwards).
//!
//! The example binaries are the ones cargo puts next to this test's directory
//! (`target/<profile>/examples`); the test runs `cargo build --workspace --examples` once
//! first, which costs nothing after `cargo test --workspace` and builds them for `cargo test
//! --test examples`.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use quickchat::store::{KdfStrength, StoreOptions};
use quickchat::{Client, Conversation, Direction, Event, EventStream, MessageRecord};
use quickchat_testserver::{Config, TestServer};
use tempfile::TempDir;

/// How long an example may run, or a step wait.
const TIMEOUT: Duration = Duration::from_secs(90);

/// The compiled example `name`. The examples are brought up to date once per run (a
/// no-op when `cargo test` has just built them), so a stale binary is never tested.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = examples_dir();
    BUILT.get_or_init(|| {
        let profile = match dir
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|p| p.to_str())
        {
            Some("debug") | None => "dev".to_string(),
            Some(other) => other.to_string(),
        };
        // The target directory this test was built in: `<target>/<profile>/examples`.
        let target_dir = dir
            .parent()
            .and_then(|p| p.parent())
            .expect("target directory");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            // The whole workspace's examples: the same feature set as `cargo test --workspace`,
            // so nothing is compiled a second time with other features (CI's disk is finite).
            .args(["build", "-q", "--workspace", "--examples", "--profile"])
            .arg(&profile)
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the examples failed");
    });
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "no example binary at {}", path.display());
    path
}

/// `target/<profile>/examples`, beside `target/<profile>/deps` where this test runs.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps directory");
    deps.parent().expect("profile directory").join("examples")
}

/// What a finished program left.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs a program to completion (killed after [`TIMEOUT`]).
async fn run(mut command: Command) -> Run {
    tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example starts");
        let stdout = read_all(child.stdout.take());
        let stderr = read_all(child.stderr.take());
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("example timed out");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            code: status.code(),
            stdout: stdout.join().expect("stdout"),
            stderr: stderr.join().expect("stderr"),
        }
    })
    .await
    .expect("runner thread")
}

fn read_all(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_runs_the_whole_stack_and_prints_a_transcript() {
    let started = Instant::now();
    let run = run(Command::new(example("quickstart"))).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    for line in [
        "== server listening on http://127.0.0.1:",
        "== both connected",
        "alice -> bob: \"Hello Bob 👋\"",
        "    on the wire: {\"header\":{",
        "bob received: \"Hello Bob 👋\" (encrypted: true)",
        "alice received: \"Hi Alice, loud and clear\" (encrypted: true)",
        "alice verified bob: verified=true method=qr_code change_pending=false",
        "bob received in \"quickstart\": \"Welcome to the group, Bob\"",
        "== done: every message arrived, one peer verified",
    ] {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in:\n{}",
            run.stdout
        );
    }
    // Both fingerprints, and bob's seen the same from alice's side.
    let fingerprint = |label: &str| {
        run.stdout
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|f| f.trim().to_string())
            .unwrap_or_else(|| panic!("no {label:?} line"))
    };
    let bob_own = fingerprint("bob's own:");
    assert_eq!(bob_own.split(' ').count(), 12);
    assert_eq!(fingerprint("bob's, as alice sees:"), bob_own);
    assert_ne!(fingerprint("alice's own:"), bob_own);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_management_walks_through_an_identity_change_and_prekey_upkeep() {
    let run = run(Command::new(example("key_management"))).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    for line in [
        "after alice verifies bob: verified=true method=manual",
        "(was verified: true)",
        "bob's message still arrives: \"New keys here\"",
        "alice's send is refused: ",
        "verification now: verified=false change_pending=true",
        "after accept_identity alice can send again; bob got \"Got your new key\"",
        "verification now: verified=false change_pending=false",
        // 100 made; one fetched by bob to check alice's first message against what she
        // publishes, one when bob (after his reset) started a new session with her.
        "alice starts with 98 one-time prekeys on the server",
        "after 90 bundle fetches: 8 one-time prekeys on the server",
        "after maintain_prekeys: 100 one-time prekeys on the server",
        "== done",
    ] {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in:\n{}",
            run.stdout
        );
    }
}

/// A bot example running as a child process, killed if the test fails.
struct Bot {
    child: Option<Child>,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Bot {
    /// Starts example `name` as user `username` and waits for its `ready` line.
    async fn start(name: &str, server: &TestServer, dir: &TempDir, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(example(name));
        command
            .env("QUICKCHAT_SERVER", server.base_url())
            .env("QUICKCHAT_USERNAME", name)
            .env("QUICKCHAT_PASSWORD", "bot-password")
            .env("QUICKCHAT_PASSPHRASE", "bot store passphrase")
            .env("QUICKCHAT_STORE", dir.path().join(format!("{name}.redb")))
            .env_remove("QUICKCHAT_INVITE")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the bot starts");
        let (sender, lines) = tokio::sync::mpsc::unbounded_channel();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stdout.take().expect("stdout");
        let seen = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                seen.lock().unwrap().push(line.clone());
                let _ = sender.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let errors = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                errors.lock().unwrap().push_str(&line);
                errors.lock().unwrap().push('\n');
            }
        });
        let mut bot = Self {
            child: Some(child),
            lines,
            stdout,
            stderr,
        };
        bot.wait_for_line("ready: ").await;
        bot
    }

    /// Waits for a stdout line starting with `prefix`.
    async fn wait_for_line(&mut self, prefix: &str) -> String {
        let found = tokio::time::timeout(TIMEOUT, async {
            while let Some(line) = self.lines.recv().await {
                if line.starts_with(prefix) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!(
                "the bot never printed {prefix:?}; stdout: {:?}; stderr: {}",
                self.stdout.lock().unwrap(),
                self.stderr.lock().unwrap()
            ),
        }
    }

    /// Stops the bot as Ctrl-C would and checks that it ended cleanly.
    async fn interrupt(self) {
        self.stop("INT").await;
    }

    /// Sends the signal (`INT`, `TERM`), checks that the bot ended cleanly, and returns
    /// how long it took to exit.
    async fn stop(mut self, signal: &str) -> Duration {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let started = Instant::now();
        let sent = Command::new("kill")
            .args([format!("-{signal}").as_str(), &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let signal = signal.to_string();
        let (status, took) = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + TIMEOUT;
            loop {
                if let Some(status) = child.try_wait().expect("wait") {
                    return (status, started.elapsed());
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("the bot did not stop on SIG{signal}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .unwrap();
        assert!(
            status.success(),
            "the bot did not stop cleanly: {status}; stderr: {}",
            self.stderr.lock().unwrap()
        );
        self.wait_for_line("stopped").await;
        let stderr = self.stderr.lock().unwrap();
        assert!(stderr.is_empty(), "the bot reported errors: {stderr}");
        took
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn server() -> TestServer {
    TestServer::start(Config::default().with_bcrypt_cost(4))
        .await
        .expect("test server starts")
}

/// A registered, connected test client (in memory).
async fn person(server: &TestServer, name: &str) -> Client {
    let client = Client::builder()
        .server(server.base_url())
        .store_options(StoreOptions::new().kdf(KdfStrength::InsecureForTests))
        .build()
        .await
        .expect("client");
    client
        .register(name, "person-password", None)
        .await
        .expect("register");
    client.connect_and_wait(TIMEOUT).await.expect("connects");
    client
}

fn id(client: &Client) -> String {
    client.current_user().expect("signed in").user_id
}

async fn wait_for<T>(events: &mut EventStream, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = events.next().await {
            if let Some(found) = pick(event) {
                return found;
            }
        }
        panic!("event stream ended")
    })
    .await
    .expect("timed out waiting for an event")
}

/// The next 1:1 message from `from`.
async fn reply_from(events: &mut EventStream, from: &str) -> MessageRecord {
    wait_for(events, |event| match event {
        Event::Message { message, .. } if message.sender_id == from => Some(message),
        _ => None,
    })
    .await
}

/// The next group message from `from` in `group`.
async fn group_reply_from(events: &mut EventStream, group: &str, from: &str) -> MessageRecord {
    wait_for(events, |event| match event {
        Event::GroupMessage { message, .. }
            if message.sender_id == from
                && message.direction == Direction::Incoming
                && message.conversation == Conversation::Group(group.to_string()) =>
        {
            Some(message)
        }
        _ => None,
    })
    .await
}

/// The bot's user id.
async fn user_id(client: &Client, name: &str) -> String {
    client.users().await.expect("users");
    client.find_user(name).await.expect("the bot's account").id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_bot_answers_with_the_same_text() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start("echo_bot", &server, &dir, &[]).await;
    let alice = person(&server, "alice").await;
    let bot_id = user_id(&alice, "echo_bot").await;
    let mut events = alice.events();

    let sent = alice
        .send_text(&bot_id, "Hello echo, ünïcode ✓")
        .await
        .unwrap();
    assert!(sent.encrypted);
    let reply = reply_from(&mut events, &bot_id).await;
    assert_eq!(reply.body, "Hello echo, ünïcode ✓");
    assert!(reply.encrypted);

    // SIGTERM: a clean exit (the target is within 1 s; the bound here only guards against
    // hanging), with what the bot received committed to its store.
    alice.close().await;
    let took = bot.stop("TERM").await;
    eprintln!("echo_bot stopped {took:?} after SIGTERM");
    assert!(took < Duration::from_secs(15), "{took:?}");
    let reopened = Client::builder()
        .server(server.base_url())
        .store_path(dir.path().join("echo_bot.redb"))
        .passphrase("bot store passphrase")
        .build()
        .await
        .expect("the bot's store reopens");
    use quickchat::quickchat_core::store::Store;
    let kept = reopened
        .store()
        .messages(&quickchat::quickchat_core::store::MessageQuery::default())
        .await
        .unwrap();
    assert!(
        kept.iter()
            .any(|m| m.direction == Direction::Incoming && m.body == "Hello echo, ünïcode ✓"),
        "{kept:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_bot_answers_commands_and_hints_otherwise() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start("command_bot", &server, &dir, &[]).await;
    let alice = person(&server, "alice").await;
    let bot_id = user_id(&alice, "command_bot").await;
    let mut events = alice.events();

    let mut ask = async |text: &str| {
        alice.send_text(&bot_id, text).await.unwrap();
        reply_from(&mut events, &bot_id).await.body
    };
    assert_eq!(ask("!ping").await, "pong");
    assert_eq!(ask("!echo  some words ").await, "some words");
    let help = ask("!help").await;
    for command in ["!help", "!ping", "!users", "!echo"] {
        assert!(help.contains(command), "{help}");
    }
    let users = ask("!users").await;
    assert!(users.starts_with("2 users:"), "{users}");
    assert!(users.contains("alice (online)"), "{users}");
    assert!(users.contains("command_bot (online)"), "{users}");
    let unknown = ask("!dance").await;
    assert!(unknown.contains("Unknown command !dance"), "{unknown}");
    assert!(unknown.contains("!help"), "{unknown}");
    let chat = ask("how are you?").await;
    assert!(chat.contains("!help"), "{chat}");

    alice.close().await;
    bot.interrupt().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_bot_joins_by_invite_answers_ping_and_greets_newcomers() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = person(&server, "alice").await;
    let carol = person(&server, "carol").await;
    let group = alice
        .create_group("bots welcome", None, &[], None)
        .await
        .unwrap();
    let invite = alice.create_invite(&group.id, None, Some(1)).await.unwrap();

    let mut bot = Bot::start(
        "group_bot",
        &server,
        &dir,
        &[("QUICKCHAT_INVITE", invite.link_code.as_str())],
    )
    .await;
    bot.wait_for_line("joined group ").await;
    bot.wait_for_line("member of \"bots welcome\"").await;
    let bot_id = user_id(&alice, "group_bot").await;
    let mut events = alice.events();

    alice.send_group_text(&group.id, "!ping").await.unwrap();
    let pong = group_reply_from(&mut events, &group.id, &bot_id).await;
    assert_eq!(pong.body, "pong");

    // Alice adds carol and announces it, as the web client does.
    alice
        .add_group_members(&group.id, &[id(&carol)])
        .await
        .unwrap();
    let mut announcement = serde_json::Map::new();
    announcement.insert("userId".into(), id(&carol).into());
    alice
        .send_group_event(&group.id, "member_added", announcement)
        .await
        .unwrap();
    let greeting = group_reply_from(&mut events, &group.id, &bot_id).await;
    assert!(
        greeting.body.starts_with("Welcome, carol!"),
        "{}",
        greeting.body
    );

    alice.close().await;
    carol.close().await;
    bot.interrupt().await;
}
