//! Scale bench: one bot (the native [`Client`] with its redb store, in a child process so
//! that its memory is its own) serving thousands of peers on loopback against the in-process
//! test server.
//!
//! ```sh
//! cargo run --release -p quickchat --example scale -- --peers 100,1000,10000
//! cargo run --release -p quickchat --example scale -- --peers 200 --messages 2000   # smoke run
//! ```
//!
//! Three processes: this one runs the test server (bcrypt cost 4, presence told to nobody:
//! see `Config::presence_fanout`) and conducts; a child runs the bot; another child runs the
//! peers on one thread, each a real account with its own keys (identity, signed prekey, one
//! one-time prekey, published through the REST API), its own session engine and its own
//! WebSocket — 10,000 sockets do not fit beside the server's 10,000 under this machine's
//! limit of 20,000 open files per process. For each number of peers:
//!
//! 1. **broadcast**: the bot sends one message to every peer, none of whom it has a session
//!    with (a bundle fetch and an X3DH first message each); timed until every peer has
//!    decrypted its own. This also gives every peer its session.
//! 2. **replies**: the peers send `--messages` messages (peer `i % N` sends message `i`),
//!    at most `--window` waiting for their answer at once; the bot decrypts each and answers
//!    it (`re:` + the text); each peer decrypts the answer and checks it. Sustained replies
//!    per second over the whole phase, and the latency of each answer (from the peer's
//!    write to its decryption of the reply), p50 and p99, under that load.
//! 3. the bot's resident memory (now and peak, from `/proc/self/status`), its store's size
//!    on disk, and the time to open the store again (a restarted bot: key derivation with
//!    the recommended Argon2id settings included) and restore the login.
//!
//! `QC_SCALE_DURABILITY=deferred` opens the bot's store without an fsync per commit, to
//! see what durability costs (never for a real bot).
//!
//! Every message is checked: each peer gets exactly one broadcast message with its own text,
//! and every message gets exactly one right answer; anything lost, doubled or wrong fails
//! the run (exit status 1). The issue's targets (≥ 2,000 replies/s with 10,000 peers, bot
//! RSS ≤ 100 MB, reopen ≤ 500 ms, broadcast to 10,000 ≤ 15 s) are printed next to the table.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, mpsc as std_mpsc};
use std::time::{Duration, Instant};

use futures::SinkExt;
use futures::stream::{SplitSink, StreamExt};
use quickchat::quickchat_core;
use quickchat::store::{KdfStrength, StoreOptions};
use quickchat::transport::NativeTransport;
use quickchat::{Client, Conversation, Direction, Event};
use quickchat_core::keys::{IdentityKeyPair, OneTimePrekey, SignedPrekey};
use quickchat_core::prekey_care::{PrekeyCare, PrekeyPolicy};
use quickchat_core::protocol::Api;
use quickchat_core::protocol::rest::RegisterRequest;
use quickchat_core::protocol::ws::{ClientFrame, MessageType, ServerFrame};
use quickchat_core::rand_core::SeedableRng;
use quickchat_core::session::{SessionConfig, SessionEngine};
use quickchat_core::store::{
    AccountMeta, IdentityRecord, MemoryStore, OneTimePrekeyRecord, SignedPrekeyRecord, Store,
    StoreOp, WriteBatch,
};
use quickchat_testserver::{Config, TestServer};
use rand_chacha::ChaCha20Rng;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify, Semaphore};
use tokio_tungstenite::tungstenite::Message as WsMessage;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const ROLE: &str = "QC_SCALE_ROLE";
const PASSWORD: &str = "scale-password";
const PASSPHRASE: &str = "scale bench passphrase";

fn main() -> std::process::ExitCode {
    let result = match std::env::var(ROLE).as_deref() {
        Ok("bot") => runtime().and_then(|rt| rt.block_on(bot())),
        Ok("peers") => peers_runtime().and_then(|rt| rt.block_on(peers())),
        _ => conduct(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The simulated peers need about a third of a core, so one thread runs them all: no
/// cross-thread wake-ups (futex calls were 8% of the peers' CPU with two worker threads),
/// and one thread fewer competing with the bot and the server for the machine's cores.
fn peers_runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn env(name: &str) -> Res<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

// ------------------------------------------------------------------------------------------
// The conductor.

struct Args {
    peers: Vec<usize>,
    messages: Option<usize>,
    window: usize,
}

fn args() -> Res<Args> {
    let mut args = Args {
        peers: vec![1_000],
        messages: None,
        window: 256,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let value = it.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--peers" => {
                args.peers = value.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
            "--messages" => args.messages = Some(value.parse()?),
            "--window" => args.window = value.parse()?,
            other => {
                return Err(format!(
                    "unknown option {other} (--peers N[,N..] --messages M --window W)"
                )
                .into());
            }
        }
    }
    Ok(args)
}

/// A child process speaking JSON lines on stdout.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: std_mpsc::Receiver<String>,
}

impl Worker {
    fn start(role: &str, vars: &[(&str, String)]) -> Res<Self> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .env(ROLE, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in vars {
            command.env(k, v);
        }
        let mut child = command.spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = std_mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            stdin,
            lines,
        })
    }

    fn say(&mut self, line: &str) -> Res<()> {
        writeln!(self.stdin, "{line}")?;
        self.stdin.flush()?;
        Ok(())
    }

    /// The next JSON line, within `timeout`.
    fn hear(&mut self, timeout: Duration) -> Res<Value> {
        let line = self
            .lines
            .recv_timeout(timeout)
            .map_err(|_| "a worker did not answer in time (or exited)")?;
        Ok(serde_json::from_str(&line)?)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Row {
    peers: usize,
    setup_s: f64,
    broadcast_s: f64,
    messages: usize,
    replies_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_mb: f64,
    peak_rss_mb: f64,
    store_mb: f64,
    reopen_ms: f64,
    /// CPU time per peer during the broadcast, µs: the bot's, the peers', the server's.
    broadcast_us: [f64; 3],
    /// CPU time per reply during the reply phase, µs: the bot's, the peers', the server's.
    bot_us: f64,
    peers_us: f64,
    server_us: f64,
    ok: bool,
}

fn conduct() -> Res<()> {
    let args = args()?;
    let rt = runtime()?;
    let mut rows = Vec::new();
    for &peers in &args.peers {
        let messages = args.messages.unwrap_or(20_000.max(peers));
        eprintln!(
            "scale: {peers} peers, {messages} messages, window {}",
            args.window
        );
        rows.push(one_size(&rt, peers, messages, args.window)?);
    }
    print_table(&rows);
    if rows.iter().all(|r| r.ok) {
        Ok(())
    } else {
        Err("messages were lost, doubled or wrong (see above)".into())
    }
}

fn one_size(
    rt: &tokio::runtime::Runtime,
    peers: usize,
    messages: usize,
    window: usize,
) -> Res<Row> {
    let mut server = rt.block_on(TestServer::start(
        Config::default()
            .with_bcrypt_cost(4)
            .with_presence_fanout(false),
    ))?;
    let dir = tempfile::tempdir()?;
    let ids_file = dir.path().join("peer-ids.txt");
    let mut bot = Worker::start(
        "bot",
        &[
            ("QC_SCALE_SERVER", server.base_url()),
            ("QC_SCALE_DIR", dir.path().display().to_string()),
        ],
    )?;
    let ready = bot.hear(Duration::from_secs(60))?;
    let bot_id = ready["ready"].as_str().ok_or("bot not ready")?.to_string();

    let setup = Instant::now();
    let mut crowd = Worker::start(
        "peers",
        &[
            ("QC_SCALE_SERVER", server.base_url()),
            ("QC_SCALE_BOT", bot_id.clone()),
            ("QC_SCALE_PEERS", peers.to_string()),
            ("QC_SCALE_MESSAGES", messages.to_string()),
            ("QC_SCALE_WINDOW", window.to_string()),
            ("QC_SCALE_IDS", ids_file.display().to_string()),
        ],
    )?;
    let ready = crowd.hear(Duration::from_secs(600))?;
    if ready["ready"] != true {
        return Err(format!("peers not ready: {ready}").into());
    }
    let setup_s = setup.elapsed().as_secs_f64();

    bot.say("mark")?;
    let bot_cpu_start = bot.hear(Duration::from_secs(60))?["cpu_s"]
        .as_f64()
        .unwrap_or(0.0);
    let server_cpu_start = cpu_seconds();
    let started = Instant::now();
    bot.say(&format!("broadcast {}", ids_file.display()))?;
    let received = crowd.hear(Duration::from_secs(300))?;
    let broadcast_s = started.elapsed().as_secs_f64();
    let broadcast_server_cpu = cpu_seconds() - server_cpu_start;
    let sent = bot.hear(Duration::from_secs(300))?;
    eprintln!("scale: broadcast {received} / bot {sent}");

    bot.say("mark")?;
    let bot_cpu_before = bot.hear(Duration::from_secs(60))?["cpu_s"]
        .as_f64()
        .unwrap_or(0.0);
    let broadcast_bot_cpu = bot_cpu_before - bot_cpu_start;
    let server_cpu_before = cpu_seconds();
    crowd.say("go")?;
    let run = crowd.hear(Duration::from_secs(900))?;
    let server_cpu = cpu_seconds() - server_cpu_before;
    eprintln!("scale: replies {run}");
    bot.say("stop")?;
    let stats = bot.hear(Duration::from_secs(120))?;
    let bot_cpu = stats["cpu_s"].as_f64().unwrap_or(0.0) - bot_cpu_before;
    eprintln!("scale: bot {stats}");
    let _ = crowd.say("exit");
    drop(crowd);
    drop(bot);
    rt.block_on(server.stop());

    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let ok = received["wrong"] == 0
        && received["received"].as_u64() == Some(peers as u64)
        && sent["failed"] == 0
        && run["lost"] == 0
        && run["doubled"] == 0
        && run["wrong"] == 0
        && stats["reply_failures"] == 0;
    if !ok {
        eprintln!("scale: CHECK FAILED with {peers} peers");
    }
    let elapsed = f(&run, "elapsed_s");
    let replies = f(&run, "replies");
    let per_reply_us = |cpu: f64| cpu / replies * 1e6;
    let per_peer_us = |cpu: f64| cpu / peers as f64 * 1e6;
    Ok(Row {
        broadcast_us: [
            per_peer_us(broadcast_bot_cpu),
            per_peer_us(f(&received, "cpu_s")),
            per_peer_us(broadcast_server_cpu),
        ],
        bot_us: per_reply_us(bot_cpu),
        peers_us: per_reply_us(f(&run, "cpu_s")),
        server_us: per_reply_us(server_cpu),
        peers,
        setup_s,
        broadcast_s,
        messages,
        replies_per_s: f(&run, "replies") / elapsed,
        p50_ms: f(&run, "p50_us") / 1000.0,
        p99_ms: f(&run, "p99_us") / 1000.0,
        rss_mb: f(&stats, "rss_kb") / 1024.0,
        peak_rss_mb: f(&stats, "peak_rss_kb") / 1024.0,
        store_mb: f(&stats, "store_bytes") / 1_048_576.0,
        reopen_ms: f(&stats, "reopen_ms"),
        ok,
    })
}

fn print_table(rows: &[Row]) {
    println!(
        "| peers | set-up s | broadcast s | broadcast CPU µs/peer bot + peers + server | messages | replies/s | p50 ms | p99 ms | CPU µs/reply bot + peers + server | bot RSS MB (peak) | store MB | reopen ms | checked |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {:.1} | {:.2} | {:.0} + {:.0} + {:.0} | {} | {:.0} | {:.1} | {:.1} | {:.0} + {:.0} + {:.0} = {:.0} | {:.1} ({:.1}) | {:.1} | {:.0} | {} |",
            r.peers,
            r.setup_s,
            r.broadcast_s,
            r.broadcast_us[0],
            r.broadcast_us[1],
            r.broadcast_us[2],
            r.messages,
            r.replies_per_s,
            r.p50_ms,
            r.p99_ms,
            r.bot_us,
            r.peers_us,
            r.server_us,
            r.bot_us + r.peers_us + r.server_us,
            r.rss_mb,
            r.peak_rss_mb,
            r.store_mb,
            r.reopen_ms,
            if r.ok {
                "nothing lost or doubled"
            } else {
                "FAILED"
            },
        );
    }
    if let Some(r) = rows.iter().find(|r| r.peers >= 10_000) {
        let mark = |ok: bool| if ok { "met" } else { "MISSED" };
        println!();
        println!("targets at {} peers:", r.peers);
        println!(
            "  replies/s >= 2000: {:.0} {}",
            r.replies_per_s,
            mark(r.replies_per_s >= 2000.0)
        );
        println!(
            "  bot RSS <= 100 MB: {:.1} {}",
            r.rss_mb,
            mark(r.rss_mb <= 100.0)
        );
        println!(
            "  store reopen <= 500 ms: {:.0} {}",
            r.reopen_ms,
            mark(r.reopen_ms <= 500.0)
        );
        println!(
            "  broadcast <= 15 s: {:.2} {}",
            r.broadcast_s,
            mark(r.broadcast_s <= 15.0)
        );
    }
}

// ------------------------------------------------------------------------------------------
// The bot.

fn stdin_lines() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn say(value: Value) {
    println!("{value}");
}

async fn open_bot(path: &Path, server: &str) -> Res<Client> {
    let mut options = StoreOptions::new().kdf(KdfStrength::Recommended);
    // To see what durable commits cost; never for a real bot.
    if std::env::var("QC_SCALE_DURABILITY").as_deref() == Ok("deferred") {
        options = options.durability(quickchat::store::Durability::Deferred);
    }
    Ok(Client::builder()
        .server(server)
        .store_path(path)
        .passphrase(PASSPHRASE)
        .store_options(options)
        // The peers decrypt in order (they are SDK engines), so no pacing for web peers.
        .config(quickchat::ClientConfig {
            pacing: quickchat::Pacing::off(),
            ..quickchat::ClientConfig::default()
        })
        .build()
        .await?)
}

async fn bot() -> Res<()> {
    let server = env("QC_SCALE_SERVER")?;
    let path = PathBuf::from(env("QC_SCALE_DIR")?).join("bot.redb");
    let client = open_bot(&path, &server).await?;
    let me = client
        .register(&format!("scalebot{}", std::process::id()), PASSWORD, None)
        .await?;
    client.connect_and_wait(Duration::from_secs(60)).await?;
    let failures = Arc::new(AtomicUsize::new(0));

    // Every message gets its answer, sent concurrently (the client combines them into
    // shared commits).
    let mut events = client.events();
    let replier = client.clone();
    let failed = failures.clone();
    let echo = tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if let Event::Message { message, .. } = event
                && message.direction == Direction::Incoming
                && let Conversation::Direct(peer) = &message.conversation
            {
                let client = replier.clone();
                let peer = peer.clone();
                let failed = failed.clone();
                tokio::spawn(async move {
                    let reply = format!("re:{}", message.body);
                    if let Err(e) = client.send_text(&peer, &reply).await {
                        eprintln!("bot: reply failed: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        }
    });
    say(json!({ "ready": me.user_id }));

    let mut commands = stdin_lines();
    while let Some(line) = commands.recv().await {
        if let Some(file) = line.strip_prefix("broadcast ") {
            let ids: Vec<String> = std::fs::read_to_string(file)?
                .lines()
                .map(str::to_string)
                .collect();
            let started = Instant::now();
            let sends = ids.iter().map(|peer| {
                let client = client.clone();
                let text = format!("hello {peer}");
                async move { client.send_text(peer, &text).await }
            });
            let results = futures::future::join_all(sends).await;
            let failed = results.iter().filter(|r| r.is_err()).count();
            if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
                eprintln!("bot: broadcast send failed: {e}");
            }
            say(json!({ "sent": ids.len() - failed, "failed": failed,
                        "sent_s": started.elapsed().as_secs_f64() }));
        } else if line == "mark" {
            say(json!({ "cpu_s": cpu_seconds() }));
        } else if line == "stop" {
            let cpu_s = cpu_seconds();
            let (rss_kb, peak_rss_kb) = memory();
            echo.abort();
            client.close().await;
            drop(client);
            let store_bytes = std::fs::metadata(&path)?.len();
            let started = Instant::now();
            let reopened = open_bot(&path, &server).await?;
            let reopen_ms = started.elapsed().as_secs_f64() * 1000.0;
            if reopened.current_user().is_none() {
                return Err("the reopened store has no login".into());
            }
            say(json!({
                "rss_kb": rss_kb, "peak_rss_kb": peak_rss_kb, "store_bytes": store_bytes,
                "reopen_ms": reopen_ms, "reply_failures": failures.load(Ordering::Relaxed),
                "cpu_s": cpu_s,
            }));
            return Ok(());
        }
    }
    Ok(())
}

/// CPU time this process has used (user + system), seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// This process's resident memory now and at its peak, KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

// ------------------------------------------------------------------------------------------
// The peers.

type WsSink = SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    WsMessage,
>;

struct PeerCrypto {
    engine: SessionEngine<MemoryStore>,
    rng: ChaCha20Rng,
}

struct Peer {
    index: usize,
    id: String,
    crypto: Mutex<PeerCrypto>,
    sink: Mutex<WsSink>,
}

/// What every peer's reader records.
struct Tally {
    bot: String,
    started: Instant,
    peers: usize,
    hellos: Vec<AtomicU8>,
    hellos_done: AtomicUsize,
    broadcast_done: Notify,
    /// Per message: when it was written (µs since `started`, +1; 0 = not yet).
    sent_at: Vec<AtomicU64>,
    replies: Vec<AtomicU8>,
    replies_done: AtomicUsize,
    replies_finished: Notify,
    latencies_us: StdMutex<Vec<u64>>,
    wrong: AtomicUsize,
    window: Semaphore,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn peers() -> Res<()> {
    let server = env("QC_SCALE_SERVER")?;
    let bot = env("QC_SCALE_BOT")?;
    let count: usize = env("QC_SCALE_PEERS")?.parse()?;
    let messages: usize = env("QC_SCALE_MESSAGES")?.parse()?;
    let window: usize = env("QC_SCALE_WINDOW")?.parse()?;
    let ids_file = env("QC_SCALE_IDS")?;
    let transport = NativeTransport::new(&server)?;
    let ws_url = transport.websocket_url().to_string();
    let api = Api::new(transport);
    let tally = Arc::new(Tally {
        bot,
        started: Instant::now(),
        peers: count,
        hellos: (0..count).map(|_| AtomicU8::new(0)).collect(),
        hellos_done: AtomicUsize::new(0),
        broadcast_done: Notify::new(),
        sent_at: (0..messages).map(|_| AtomicU64::new(0)).collect(),
        replies: (0..messages).map(|_| AtomicU8::new(0)).collect(),
        replies_done: AtomicUsize::new(0),
        replies_finished: Notify::new(),
        latencies_us: StdMutex::new(Vec::with_capacity(messages)),
        wrong: AtomicUsize::new(0),
        window: Semaphore::new(0),
    });

    let run = std::process::id();
    let made: Vec<Res<Arc<Peer>>> = futures::stream::iter(0..count)
        .map(|index| {
            let api = &api;
            let ws_url = ws_url.clone();
            let tally = tally.clone();
            async move { make_peer(api, &ws_url, run, index, tally).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut peers = made.into_iter().collect::<Res<Vec<_>>>()?;
    peers.sort_by_key(|p| p.index);
    let ids: Vec<&str> = peers.iter().map(|p| p.id.as_str()).collect();
    std::fs::write(&ids_file, ids.join("\n"))?;
    let cpu_ready = cpu_seconds();
    say(json!({ "ready": true }));

    let mut commands = stdin_lines();
    // The broadcast: every peer decrypts its own first message.
    let wait = tally.broadcast_done.notified();
    if tally.hellos_done.load(Ordering::SeqCst) < count {
        wait.await;
    }
    let duplicates = tally
        .hellos
        .iter()
        .filter(|h| h.load(Ordering::SeqCst) > 1)
        .count();
    say(json!({
        "received": tally.hellos_done.load(Ordering::SeqCst),
        "wrong": tally.wrong.load(Ordering::SeqCst) + duplicates,
        "cpu_s": cpu_seconds() - cpu_ready,
    }));

    while let Some(line) = commands.recv().await {
        if line == "go" {
            say(exchange(&peers, &tally, messages, window).await);
        } else if line == "exit" {
            break;
        }
    }
    Ok(())
}

async fn exchange(
    peers: &[Arc<Peer>],
    tally: &Arc<Tally>,
    messages: usize,
    window: usize,
) -> Value {
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    tally.window.add_permits(window);
    let finished = tally.replies_finished.notified();
    futures::pin_mut!(finished);
    finished.as_mut().enable();
    for i in 0..messages {
        let Ok(permit) = tally.window.acquire().await else {
            break;
        };
        permit.forget();
        let peer = peers[i % peers.len()].clone();
        let tally = tally.clone();
        tokio::spawn(async move {
            if let Err(e) = send_one(&peer, &tally, i).await {
                eprintln!("peers: send {i} failed: {e}");
                tally.wrong.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let all = tokio::time::timeout(Duration::from_secs(300), async {
        if tally.replies_done.load(Ordering::SeqCst) < messages {
            finished.await;
        }
    })
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let replies = tally.replies_done.load(Ordering::SeqCst);
    let doubled = tally
        .replies
        .iter()
        .filter(|r| r.load(Ordering::SeqCst) > 1)
        .count();
    let mut latencies = tally
        .latencies_us
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    json!({
        "replies": replies, "elapsed_s": elapsed, "lost": messages - replies,
        "doubled": doubled, "wrong": tally.wrong.load(Ordering::SeqCst),
        "timed_out": all.is_err(), "p50_us": pick(0.50), "p99_us": pick(0.99),
        "cpu_s": cpu_seconds() - cpu_before,
    })
}

async fn send_one(peer: &Peer, tally: &Tally, i: usize) -> Res<()> {
    let text = format!("m{i}");
    let wire = {
        let mut crypto = peer.crypto.lock().await;
        let PeerCrypto { engine, rng } = &mut *crypto;
        engine
            .encrypt(&tally.bot, &text, now_ms(), rng)
            .await?
            .commit()
            .await?
            .wire
    };
    let frame = ClientFrame::Message {
        to: tally.bot.clone(),
        content: wire,
        message_type: MessageType::Text,
        encrypted: true,
        message_id: Some(format!("scale-{}-{i}", peer.id)),
        image_data: None,
    };
    let mut sink = peer.sink.lock().await;
    let at = u64::try_from(tally.started.elapsed().as_micros()).unwrap_or(u64::MAX);
    tally.sent_at[i].store(at + 1, Ordering::SeqCst);
    sink.send(WsMessage::text(frame.to_json())).await?;
    Ok(())
}

async fn make_peer(
    api: &Api<NativeTransport>,
    ws_url: &str,
    run: u32,
    index: usize,
    tally: Arc<Tally>,
) -> Res<Arc<Peer>> {
    let username = format!("p{run}x{index}");
    let auth = api
        .register(&RegisterRequest {
            username: username.clone(),
            password: PASSWORD.into(),
            avatar: None,
        })
        .await?;
    let id = auth.user.id.clone();
    // Keys as an SDK device makes them, with one one-time prekey instead of a hundred.
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(run) << 32 | index as u64);
    let store = MemoryStore::new();
    let now = now_ms();
    let identity = IdentityKeyPair::generate(&mut rng);
    let signed = SignedPrekey::generate(&identity, 1, now, &mut rng);
    let one_time = OneTimePrekey::generate(2, &mut rng);
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutIdentity(IdentityRecord {
        user_id: id.clone(),
        identity,
        created_at: now,
    }));
    batch.push(StoreOp::PutSignedPrekey(SignedPrekeyRecord {
        prekey: signed,
        uploaded: false,
        retired_at: None,
    }));
    batch.push(StoreOp::PutOneTimePrekey(OneTimePrekeyRecord {
        prekey: one_time,
        uploaded: false,
    }));
    batch.push(StoreOp::PutAccountMeta(AccountMeta {
        next_prekey_id: 3,
        current_signed_prekey_id: Some(1),
        ..AccountMeta::default()
    }));
    store.commit(batch).await?;
    let upload = PrekeyCare::new(&store, PrekeyPolicy::default())
        .next_upload()
        .await?
        .ok_or("nothing to upload")?;
    api.upload_prekeys(&auth.token, &upload.request).await?;
    let engine = SessionEngine::open(store, SessionConfig::default()).await?;

    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (socket, _) =
        tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true).await?;
    let (mut sink, mut stream) = socket.split();
    let hello = ClientFrame::Auth {
        user_id: id.clone(),
        username,
    };
    sink.send(WsMessage::text(hello.to_json())).await?;
    // The online list answers `auth`.
    loop {
        match stream.next().await {
            Some(Ok(WsMessage::Text(text))) => {
                if matches!(ServerFrame::parse(&text), Ok(ServerFrame::OnlineList(_))) {
                    break;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err("the server closed a peer's socket".into()),
        }
    }
    let peer = Arc::new(Peer {
        index,
        id,
        crypto: Mutex::new(PeerCrypto { engine, rng }),
        sink: Mutex::new(sink),
    });
    let reader = peer.clone();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            if let WsMessage::Text(text) = frame
                && let Ok(ServerFrame::Message(message)) = ServerFrame::parse(&text)
                && message.from == tally.bot
                && let Err(e) = received(&reader, &tally, &message.content).await
            {
                eprintln!("peers: {} could not read a message: {e}", reader.id);
                tally.wrong.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    Ok(peer)
}

/// A message from the bot: the broadcast's or an answer.
async fn received(peer: &Peer, tally: &Tally, wire: &str) -> Res<()> {
    let text = {
        let mut crypto = peer.crypto.lock().await;
        let PeerCrypto { engine, rng } = &mut *crypto;
        engine
            .decrypt(&tally.bot, wire, now_ms(), rng)
            .await?
            .commit()
            .await?
            .plaintext
    };
    if let Some(to) = text.strip_prefix("hello ") {
        if to != peer.id {
            return Err(format!("a broadcast for {to}").into());
        }
        if tally.hellos[peer.index].fetch_add(1, Ordering::SeqCst) == 0
            && tally.hellos_done.fetch_add(1, Ordering::SeqCst) + 1 == tally.peers
        {
            tally.broadcast_done.notify_one();
        }
        return Ok(());
    }
    let i: usize = text
        .strip_prefix("re:m")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("unexpected text {text:?}"))?;
    if i >= tally.sent_at.len() || i % tally.peers != peer.index {
        return Err(format!("answer {i} reached the wrong peer").into());
    }
    let at = u64::try_from(tally.started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let sent = tally.sent_at[i].load(Ordering::SeqCst);
    if tally.replies[i].fetch_add(1, Ordering::SeqCst) == 0 {
        if sent > 0
            && let Ok(mut l) = tally.latencies_us.lock()
        {
            l.push(at.saturating_sub(sent - 1));
        }
        tally.window.add_permits(1);
        if tally.replies_done.fetch_add(1, Ordering::SeqCst) + 1 == tally.sent_at.len() {
            tally.replies_finished.notify_one();
        }
    }
    Ok(())
}
