//! `quickchat-server`: the test server as a program, for local development and demos.
//!
//! ```text
//! quickchat-server --port 8787 --db ./chat.db            # serve
//! quickchat-server --db ./chat.db make-admin alice        # give alice the admin role
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use quickchat_testserver::{
    Config, DEFAULT_BCRYPT_COST, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_WS_MESSAGE_BYTES,
    DEFAULT_MAX_WS_QUEUE_BYTES, DEFAULT_MAX_WS_QUEUE_FRAMES, Quirks, TestServer, make_admin_in,
};
use tracing_subscriber::EnvFilter;

/// A stand-in for the Quick Chat backend: the REST API under /api and the WebSocket at /ws.
#[derive(Debug, Parser)]
#[command(name = "quickchat-server", version)]
struct Cli {
    /// SQLite database file (created if missing).
    #[arg(long, global = true, default_value = "./chat.db", env = "QUICKCHAT_DB")]
    db: PathBuf,

    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST), env = "QUICKCHAT_HOST")]
    host: IpAddr,

    /// Port to listen on (0 picks a free one; the chosen address is printed).
    #[arg(long, default_value_t = 8787, env = "QUICKCHAT_PORT")]
    port: u16,

    /// Secret that signs the HS256 tokens (the backend's JWT_SECRET). Without one, a random
    /// secret is drawn at each start: tokens then do not outlive the process.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,

    /// bcrypt cost for new passwords (4..=31); lower it to register many users quickly.
    #[arg(long, default_value_t = DEFAULT_BCRYPT_COST, env = "QUICKCHAT_BCRYPT_COST")]
    bcrypt_cost: u32,

    /// Largest accepted HTTP body in bytes (413 beyond it).
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,

    /// Largest accepted WebSocket message in bytes (the socket is closed with 1009 beyond it).
    #[arg(long, default_value_t = DEFAULT_MAX_WS_MESSAGE_BYTES)]
    max_ws_message_bytes: usize,

    /// Most frames waiting to be written to one WebSocket; one more drops that connection.
    #[arg(long, default_value_t = DEFAULT_MAX_WS_QUEUE_FRAMES)]
    max_ws_queue_frames: usize,

    /// Most bytes of frames waiting to be written to one WebSocket; more drops it.
    #[arg(long, default_value_t = DEFAULT_MAX_WS_QUEUE_BYTES)]
    max_ws_queue_bytes: usize,

    /// Fix the reconnect race instead of reproducing it (PROTOCOL §7 quirk 1).
    #[arg(long)]
    no_reconnect_race: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Give a registered user the admin role (the backend does it by a database update).
    MakeAdmin {
        /// The user's name.
        username: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Some(Command::MakeAdmin { username }) => make_admin_in(&cli.db, username)
            .map(|()| println!("{username} is now an admin"))
            .map_err(|e| e.to_string()),
        None => serve(cli),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("quickchat-server: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(cli: Cli) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let quirks = if cli.no_reconnect_race {
            Quirks::fixed()
        } else {
            Quirks::faithful()
        };
        let mut config = Config::default()
            .with_bind(SocketAddr::new(cli.host, cli.port))
            .with_database_file(cli.db)
            .with_bcrypt_cost(cli.bcrypt_cost)
            .with_max_body_bytes(cli.max_body_bytes)
            .with_max_ws_message_bytes(cli.max_ws_message_bytes)
            .with_max_ws_queue_frames(cli.max_ws_queue_frames)
            .with_max_ws_queue_bytes(cli.max_ws_queue_bytes)
            .with_quirks(quirks);
        match cli.jwt_secret {
            Some(secret) => config = config.with_jwt_secret(secret),
            None => tracing::info!(
                "no --jwt-secret or JWT_SECRET given: tokens are signed with a random secret \
                 and do not survive a restart"
            ),
        }
        let mut server = TestServer::start(config).await.map_err(|e| e.to_string())?;
        println!("listening on {}", server.base_url());
        wait_for_stop_signal().await;
        server.stop().await;
        Ok(())
    })
}

/// Ctrl-C, or SIGTERM on Unix.
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
