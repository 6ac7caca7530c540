//! `quickchat`: a command-line client for Quick Chat over the native SDK.
//!
//! ```sh
//! export QUICKCHAT_SERVER=http://127.0.0.1:8787 QUICKCHAT_STORE=./alice.redb
//! export QUICKCHAT_PASSPHRASE='store passphrase' QUICKCHAT_PASSWORD='account password'
//! quickchat register alice
//! quickchat send bob "Hello Bob"
//! quickchat listen --count 1 --type message
//! ```
//!
//! Results go to stdout as JSON (one value per line); notes for people and errors go to
//! stderr; the exit status is non-zero on failure. `quickchat --help` lists every command.
//!
//! `quickchat daemon` keeps the store and the connection open and serves every command as
//! JSON-RPC 2.0 on the Unix socket `<store>.sock` (and with `--stdio` on stdin/stdout);
//! while it runs, the other commands on that store go through it (see `daemon`).
#![forbid(unsafe_code)]

mod cli;
mod commands;
#[cfg(unix)]
mod daemon;
mod error;
mod image;
mod output;
mod resolve;
mod secret;
mod session;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use quickchat_core::client::CatchUpScope;

use crate::cli::{Cli, Command};
use crate::output::Output;
use crate::session::{Ctx, Mode};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output::new(cli.global.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            output::error(format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli, out));
    // Whatever a task still does (a socket closing politely) is not waited for: every
    // write to the store was committed when it was made.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(e.to_string());
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, out: Output) -> Result<(), error::CliError> {
    let Cli { global, command } = cli;
    #[cfg(unix)]
    {
        if let Command::Daemon { stdio } = command {
            return daemon::serve(&global, out, stdio).await;
        }
        if let Some(remote) = daemon::remote::connect(&global.store).await? {
            return daemon::remote::run(remote, command, &out, &global).await;
        }
    }
    // Only `listen` stays connected long enough to be worth catching up: with the known
    // peers, then (in the background) the directory scan for new ones; the others catch
    // up with the peers they deal with (see `session`).
    let scope = match command {
        Command::Listen { .. } => CatchUpScope::KnownPeers,
        _ => CatchUpScope::Only(Vec::new()),
    };
    let client = session::open(&global, scope).await?;
    let ctx = Ctx {
        client,
        out,
        wait: Duration::from_secs(global.wait_secs.max(1)),
        mode: Mode::Alone,
    };
    let result = commands::run(&ctx, command).await;
    // Everything the command did is committed; closing only lets the socket go politely,
    // and must not keep a stopped `listen` from exiting within a second.
    let _ = tokio::time::timeout(CLOSE_WAIT, ctx.client.close()).await;
    result
}

/// How long a command waits for the connection to close when it is done.
const CLOSE_WAIT: Duration = Duration::from_millis(700);
