//! End to end on loopback against the test server, everything in one process on this
//! machine: throughput and latency of encrypted 1:1 messages one way with persistence (real
//! redb files, every commit durable; 8 concurrent sending tasks, whose sends the client
//! combines into shared commits), the same run in plaintext as the baseline, and the idle
//! memory of a connected client (in a child process, against a baseline child that only
//! starts the runtime).
//!
//! A third mode tells what no encryption code can save: it sends, in plaintext, a text that
//! *is* the wire string of an encrypted 100-byte message. Its frames, the server's work and
//! rows, and the clients' records are as large as in the encrypted mode, but nothing is
//! encrypted, decrypted or stored as ratchet state. Its extra time over plaintext is what the
//! wire format costs by its size alone.
//!
//! Run: `cargo bench -p quickchat --bench e2e` (`QC_BENCH_MESSAGES` sets the count, 4000 by
//! default: about a second a run; `QC_BENCH_ROUNDS` the rounds, 8). Prints a table; exits
//! non-zero when a target of the native issue is missed.
// Bench code: a failed unwrap aborts the measurement, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use quickchat::store::{KdfStrength, StoreOptions};
use quickchat::{Client, Event};
use quickchat_testserver::{Config, TestServer};

const CHILD_ENV: &str = "QC_E2E_CHILD";

/// Concurrent sending tasks.
const SENDERS: usize = 8;

/// Rounds of one run per mode, back to back (`QC_BENCH_ROUNDS` overrides). Each round gives
/// a share from its two runs, which ran close together in time; the median over rounds is
/// the headline (runs of the same build vary by ±10 % here: disk syncs in a VM).
const ROUNDS: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// 100-byte texts in plaintext.
    Plaintext,
    /// 100-byte texts encrypted.
    Encrypted,
    /// In plaintext, a text that is the wire string of an encrypted 100-byte text.
    WireSized,
}

struct Run {
    mode: Mode,
    /// Time the sender needed to hand every message over (saved and written to the socket).
    sending: Duration,
    per_second: f64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

fn main() {
    if let Ok(role) = std::env::var(CHILD_ENV) {
        child(&role);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let ok = runtime.block_on(bench());
    if !ok {
        std::process::exit(1);
    }
}

/// Store settings for the measured clients: real files, a cheap key derivation (opening is
/// not measured here), and `QC_BENCH_DURABILITY=deferred` to see what fsync costs.
fn store_options() -> StoreOptions {
    let options = StoreOptions::new().kdf(KdfStrength::InsecureForTests);
    match std::env::var("QC_BENCH_DURABILITY").as_deref() {
        Ok("deferred") => options.durability(quickchat::store::Durability::Deferred),
        _ => options,
    }
}

async fn client(server: &TestServer, dir: &tempfile::TempDir, name: &str) -> Client {
    let client = Client::builder()
        .server(server.base_url())
        .store_path(dir.path().join(format!("{name}.redb")))
        .passphrase("bench passphrase")
        .store_options(store_options())
        // Both ends are SDK clients, which decrypt in order: the bench measures the SDK,
        // not the pacing web peers need (at most 10 messages a second to one peer).
        .config(quickchat::ClientConfig {
            pacing: quickchat::Pacing::off(),
            ..quickchat::ClientConfig::default()
        })
        .build()
        .await
        .expect("client");
    let username = format!("{name}_{}", std::process::id());
    client
        .register(&username, "secret123", None)
        .await
        .expect("register");
    client
        .connect_and_wait(Duration::from_secs(20))
        .await
        .expect("connect");
    client
}

async fn one_run(server: &TestServer, mode: Mode, count: usize, round: usize) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = client(server, &dir, &format!("alice{round}")).await;
    let bob = client(server, &dir, &format!("bob{round}")).await;
    let bob_id = bob.current_user().expect("bob").user_id;
    let mut events = bob.events();
    let mut text = "x".repeat(100);
    if mode != Mode::Plaintext {
        // The session exists before timing starts (X3DH is measured by core's benches). It
        // is encrypted 100-byte text, to give the wire-sized mode a real wire string.
        let warm_up = alice.send_text(&bob_id, &text).await.expect("warm-up");
        while let Some(event) = events.next().await {
            if matches!(event, Event::Message { .. }) {
                break;
            }
        }
        if mode == Mode::WireSized {
            text = warm_up.wire.expect("an encrypted message has its wire");
        }
    }
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    // The receiver notes when each message arrived; latencies are computed afterwards (a
    // message may arrive before its sender has even noted the send time).
    let receiver = tokio::spawn(async move {
        let mut arrived: HashMap<String, Instant> = HashMap::with_capacity(count);
        while arrived.len() < count {
            match events.next().await {
                Some(Event::Message { message, .. }) => {
                    arrived.insert(message.id, Instant::now());
                }
                Some(_) => {}
                None => break,
            }
        }
        arrived
    });
    // Several concurrent senders, as a bot answering many chats would run: the client
    // combines concurrent sends into one commit (one disk sync).
    let start = Instant::now();
    let mut senders = Vec::new();
    for sender in 0..SENDERS {
        let alice = alice.clone();
        let bob_id = bob_id.clone();
        let text = text.clone();
        let sent_at = Arc::clone(&sent_at);
        let share = count / SENDERS + usize::from(sender < count % SENDERS);
        senders.push(tokio::spawn(async move {
            for _ in 0..share {
                let before = Instant::now();
                let record = match mode {
                    Mode::Encrypted => alice.send_text(&bob_id, &text).await,
                    Mode::Plaintext | Mode::WireSized => alice.send_plaintext(&bob_id, &text).await,
                }
                .expect("send");
                sent_at.lock().expect("lock").insert(record.id, before);
            }
        }));
    }
    for sender in senders {
        sender.await.expect("sender");
    }
    let sending = start.elapsed();
    let arrived = tokio::time::timeout(Duration::from_secs(300), receiver)
        .await
        .expect("all messages arrive")
        .expect("receiver");
    assert_eq!(arrived.len(), count, "every message arrived");
    let mut latencies: Vec<Duration> = {
        let sent_at = sent_at.lock().expect("lock");
        arrived.iter().map(|(id, at)| *at - sent_at[id]).collect()
    };
    let last = arrived.values().copied().max().expect("messages");
    let elapsed = last - start;
    latencies.sort();
    alice.close().await;
    bob.close().await;
    Run {
        mode,
        sending,
        per_second: count as f64 / elapsed.as_secs_f64(),
        elapsed,
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
    }
}

async fn bench() -> bool {
    let count: usize = std::env::var("QC_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let server = TestServer::start(Config::default().with_bcrypt_cost(4))
        .await
        .expect("server");
    // Alternate the modes so that drift in the machine's load hits both alike.
    let mut runs = Vec::new();
    // QC_BENCH_MODE=encrypted|plaintext|wire-sized runs one mode only (for profiling it).
    let modes: Vec<Mode> = match std::env::var("QC_BENCH_MODE").as_deref() {
        Ok("encrypted") => vec![Mode::Encrypted],
        Ok("plaintext") => vec![Mode::Plaintext],
        Ok("wire-sized") => vec![Mode::WireSized],
        _ => vec![Mode::Plaintext, Mode::Encrypted, Mode::WireSized],
    };
    let rounds: usize = std::env::var("QC_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROUNDS);
    for round in 0..rounds {
        // Which mode goes first rotates: the server's database grows with every run, so a
        // round's later runs are a little slower.
        let mut order = modes.clone();
        order.rotate_left(round % modes.len());
        for (i, mode) in order.into_iter().enumerate() {
            runs.push(one_run(&server, mode, count, round * modes.len() + i).await);
        }
    }
    println!("| mode | messages/s | total | sender busy | p50 latency | p99 latency |");
    println!("|---|---|---|---|---|---|");
    for run in &runs {
        println!(
            "| {:?} | {:.0} | {:.2} s | {:.2} s | {:.2} ms | {:.2} ms |",
            run.mode,
            run.per_second,
            run.elapsed.as_secs_f64(),
            run.sending.as_secs_f64(),
            run.p50.as_secs_f64() * 1e3,
            run.p99.as_secs_f64() * 1e3
        );
    }
    if modes.len() == 1 {
        // One mode: nothing to compare.
        return true;
    }
    let best = |mode| {
        runs.iter()
            .filter(|r| r.mode == mode)
            .map(|r| r.elapsed)
            .min()
            .expect("runs")
    };
    let (plain, encrypted) = (best(Mode::Plaintext), best(Mode::Encrypted));
    let best_share = 1.0 - plain.as_secs_f64() / encrypted.as_secs_f64();
    let encrypted_rate = count as f64 / encrypted.as_secs_f64();
    // Per round (its runs ran close together in time): 1 - time(base) / time(mode), sorted.
    let round_shares = |base: Mode, mode: Mode| -> Vec<f64> {
        let mut shares: Vec<f64> = runs
            .chunks(modes.len())
            .map(|round| {
                let time = |mode| {
                    round
                        .iter()
                        .find(|r| r.mode == mode)
                        .map(|r| r.elapsed.as_secs_f64())
                        .expect("every mode in a round")
                };
                1.0 - time(base) / time(mode)
            })
            .collect();
        shares.sort_by(f64::total_cmp);
        shares
    };
    let shares = round_shares(Mode::Plaintext, Mode::Encrypted);
    let share = shares[shares.len() / 2];
    println!(
        "\nencryption's share of the end-to-end time: median of {} rounds {:.1} % (rounds {:.1} to {:.1} %); best run against best run {:.1} %",
        shares.len(),
        share * 100.0,
        shares[0] * 100.0,
        shares[shares.len() - 1] * 100.0,
        best_share * 100.0
    );
    if modes.contains(&Mode::WireSized) {
        let size = round_shares(Mode::Plaintext, Mode::WireSized);
        let rest = round_shares(Mode::WireSized, Mode::Encrypted);
        println!(
            "of which the wire's size alone (plaintext of the wire's bytes against 100-byte plaintext): median {:.1} % (rounds {:.1} to {:.1} %); \
             the rest (encrypted against the wire-sized plaintext): median {:.1} % (rounds {:.1} to {:.1} %)",
            size[size.len() / 2] * 100.0,
            size[0] * 100.0,
            size[size.len() - 1] * 100.0,
            rest[rest.len() / 2] * 100.0,
            rest[0] * 100.0,
            rest[rest.len() - 1] * 100.0,
        );
    }

    let (baseline_rss, client_rss) = idle_memory(&server).await;
    println!(
        "idle RSS: connected client process {:.1} MB; baseline process (runtime only) {:.1} MB; the client adds {:.1} MB",
        client_rss as f64 / 1024.0,
        baseline_rss as f64 / 1024.0,
        (client_rss.saturating_sub(baseline_rss)) as f64 / 1024.0
    );

    let mut ok = true;
    for (what, met) in [
        (
            "encryption <= 5 % of end-to-end time (median round)",
            share <= 0.05,
        ),
        (">= 1000 encrypted messages/s", encrypted_rate >= 1000.0),
        ("idle RSS <= 30 MB", client_rss <= 30 * 1024),
    ] {
        println!("{} {what}", if met { "ok    " } else { "MISSED" });
        ok &= met;
    }
    ok
}

/// Runs this binary again as an idle client (and as a baseline) and reads their RSS.
async fn idle_memory(server: &TestServer) -> (u64, u64) {
    let exe = std::env::current_exe().expect("own path");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut results = Vec::new();
    for role in ["baseline", "client"] {
        let mut child = tokio::process::Command::new(&exe)
            .env(CHILD_ENV, role)
            .env("QC_E2E_SERVER", server.base_url())
            .env("QC_E2E_STORE", dir.path().join("idle.redb"))
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("child");
        let pid = child.id().expect("pid");
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut line)
            .await
            .expect("ready line");
        assert_eq!(line.trim(), "ready", "child {role} failed to start");
        // Idle for a moment, then read the resident set.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        let rss_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .expect("VmRSS");
        results.push(rss_kb);
        child.kill().await.expect("kill");
    }
    (results[0], results[1])
}

fn child(role: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if role == "client" {
            let server = std::env::var("QC_E2E_SERVER").expect("server");
            let store = std::env::var("QC_E2E_STORE").expect("store");
            let client = Client::builder()
                .server(server)
                .store_path(store)
                .passphrase("idle passphrase")
                .build()
                .await
                .expect("client");
            client
                .register(&format!("idle_{}", std::process::id()), "secret123", None)
                .await
                .expect("register");
            client
                .connect_and_wait(Duration::from_secs(20))
                .await
                .expect("connect");
            println!("ready");
            tokio::time::sleep(Duration::from_secs(600)).await;
            drop(client);
        } else {
            println!("ready");
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
    });
}
