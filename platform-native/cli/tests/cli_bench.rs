//! How long a one-shot `quickchat send` takes against a backend with ~40 users, alone and
//! through a running daemon. Ignored by default (it measures, it asserts no timing):
//!
//! ```sh
//! cargo test -p quickchat-cli --test cli_bench -- --ignored --nocapture
//! # another binary (e.g. an older build) for a before/after comparison:
//! QUICKCHAT_BENCH_BIN=/path/to/quickchat cargo test -p quickchat-cli --test cli_bench -- --ignored --nocapture
//! # the sender's store with the default (strong) key derivation, as a real user has it:
//! QUICKCHAT_BENCH_STRONG_KDF=1 cargo test -p quickchat-cli --test cli_bench -- --ignored --nocapture
//! ```
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use support::*;

/// Users on the backend besides the two that talk.
const OTHER_USERS: usize = 40;
/// Sends timed per mode.
const SENDS: usize = 5;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

async fn timed_sends(alice: &User, binary: &str, label: &str) -> Duration {
    let mut times = Vec::new();
    for i in 0..SENDS {
        let text = format!("{label} {i}");
        // The user's environment, on the binary measured.
        let settings = alice.command(&[]);
        let mut command = std::process::Command::new(binary);
        command.args(["send", "bob", &text]);
        for (key, value) in settings.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        let started = Instant::now();
        let ran = run(command).await;
        let took = started.elapsed();
        assert_eq!(ran.code, Some(0), "{ran:?}");
        times.push(took);
    }
    let median = median(times.clone());
    eprintln!("{label}: median {median:?} of {times:?}");
    median
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn one_shot_send_alone_and_through_the_daemon() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(&server, &dir, "alice");
    let bob = User::new(&server, &dir, "bob");
    if std::env::var_os("QUICKCHAT_BENCH_STRONG_KDF").is_some() {
        // The store as a real user has it: opening it costs the full key derivation.
        let mut register = alice.command(&["register", "alice"]);
        register.env_remove("QUICKCHAT_INSECURE_FAST_KDF");
        run(register).await.ok();
    } else {
        alice.register().await;
    }
    bob.register().await;
    let registrar = quickchat::Client::builder()
        .server(server.base_url())
        .build()
        .await
        .unwrap();
    for i in 0..OTHER_USERS {
        registrar
            .api()
            .register(
                &quickchat::quickchat_core::protocol::rest::RegisterRequest {
                    username: format!("user{i:02}"),
                    password: "password-123".into(),
                    avatar: None,
                },
            )
            .await
            .unwrap();
    }
    // A session with bob exists, as in a conversation under way.
    alice.run(&["send", "bob", "warm-up"]).await.ok();
    let binary = std::env::var("QUICKCHAT_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_quickchat").into());
    eprintln!("binary: {binary}; {} users on the backend", OTHER_USERS + 2);
    timed_sends(&alice, &binary, "alone").await;

    if binary == env!("CARGO_BIN_EXE_quickchat") {
        let mut daemon = alice
            .command(&["daemon"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = line_reader(daemon.stderr.take().unwrap());
        while !next_line(&mut stderr)
            .await
            .starts_with("Connected and caught up")
        {}
        timed_sends(&alice, &binary, "through the daemon").await;
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &daemon.id().to_string()])
            .status();
        let _ = tokio::task::spawn_blocking(move || daemon.wait()).await;
    }
}
