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
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod error;
mod image;
mod output;
mod resolve;
mod session;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::cli::Cli;
use crate::output::Output;
use crate::session::Ctx;

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
    match runtime.block_on(run(cli, out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(e.to_string());
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, out: Output) -> Result<(), error::CliError> {
    let client = session::open(&cli.global).await?;
    let ctx = Ctx {
        client,
        out,
        wait: Duration::from_secs(cli.global.wait_secs.max(1)),
    };
    let result = commands::run(&ctx, cli.command).await;
    ctx.client.close().await;
    result
}
