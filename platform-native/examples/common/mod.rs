//! What the bot examples share: settings from the environment, log in (or register), connect,
//! and wait for Ctrl-C / SIGTERM. Not an example by itself.
//!
//! | variable | meaning |
//! |---|---|
//! | `QUICKCHAT_SERVER` | the server's origin, e.g. `http://127.0.0.1:8787` (required) |
//! | `QUICKCHAT_USERNAME` | the bot's account (default: the example's name) |
//! | `QUICKCHAT_PASSWORD` | its password (required) |
//! | `QUICKCHAT_STORE` | its store file (default `./<example>.redb`) |
//! | `QUICKCHAT_PASSPHRASE` | the store's passphrase (required) |
//!
//! The first command-line argument, if any, overrides `QUICKCHAT_USERNAME`.
#![allow(dead_code)]

use std::error::Error;
use std::time::Duration;

use quickchat::quickchat_core::client::CurrentUser;
use quickchat::{Client, ClientError};

/// How long connecting may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A required environment variable.
pub(crate) fn required(name: &str) -> Result<String, Box<dyn Error>> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(format!("set {name} (see the comment at the top of the example)").into()),
    }
}

/// Opens the bot's store, logs in (registering the account the first time), connects, and
/// prints a `ready` line on stdout.
pub(crate) async fn start(bot: &str) -> Result<(Client, CurrentUser), Box<dyn Error>> {
    let server = required("QUICKCHAT_SERVER")?;
    let username = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("QUICKCHAT_USERNAME").ok())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| bot.to_string());
    let password = required("QUICKCHAT_PASSWORD")?;
    let passphrase = required("QUICKCHAT_PASSPHRASE")?;
    let store = std::env::var("QUICKCHAT_STORE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("./{bot}.redb"));

    let client = Client::builder()
        .server(server)
        .store_path(store)
        .passphrase(passphrase)
        .build()
        .await?;
    let me = match client.login(&username, &password).await {
        Ok(me) => me,
        // No such account yet (the backend answers 401 for unknown users too): create it.
        Err(e) if e.is_status(401) => {
            println!("{bot}: no account {username:?} yet, registering it");
            client.register(&username, &password, Some("🤖")).await?
        }
        Err(e) => return Err(e.into()),
    };
    client.connect_and_wait(CONNECT_TIMEOUT).await?;
    println!("ready: {bot} connected as {} ({})", me.username, me.user_id);
    Ok((client, me))
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn stopped() {
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

/// How long stopping waits for the connection to close politely.
const CLOSE_WAIT: Duration = Duration::from_millis(700);

/// Closes the connection, waiting at most [`CLOSE_WAIT`] so that the bot exits within a
/// second of Ctrl-C / SIGTERM. Nothing is lost by not waiting longer: every message was
/// committed to the store when it was received or sent.
pub(crate) async fn close(client: &Client) {
    let _ = tokio::time::timeout(CLOSE_WAIT, client.close()).await;
}

/// Logs a failed reply without stopping the bot.
pub(crate) fn report(what: &str, result: Result<impl Sized, ClientError>) {
    if let Err(e) = result {
        eprintln!("could not {what}: {e}");
    }
}

/// Runs `body`, printing its error and exiting non-zero on failure.
pub(crate) fn exit_code(result: Result<(), Box<dyn Error>>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
