//! A bot that answers commands sent to it in 1:1 messages:
//!
//! | command | answer |
//! |---|---|
//! | `!help` | the list of commands |
//! | `!ping` | `pong` |
//! | `!users` | every user, marked online or offline |
//! | `!echo <text>` | `<text>` |
//!
//! Anything else gets a hint to send `!help`. Stops on Ctrl-C or SIGTERM.
//!
//! Run it against a local test server:
//!
//! ```sh
//! cargo run -p quickchat-testserver --bin quickchat-server -- --port 8787 --db ./chat.db &
//! QUICKCHAT_SERVER=http://127.0.0.1:8787 QUICKCHAT_USERNAME=helper \
//! QUICKCHAT_PASSWORD=helper-password QUICKCHAT_PASSPHRASE='store passphrase' \
//! QUICKCHAT_STORE=./helper.redb cargo run -p quickchat --example command_bot
//! ```
//!
//! and send it `!help` from another client. Settings: see `examples/common/mod.rs`.

#[path = "common/mod.rs"]
mod common;

use quickchat::{Client, ContentKind};

const HELP: &str = "Commands:\n\
    !help: this list\n\
    !ping: answers pong\n\
    !users: who exists and who is online\n\
    !echo <text>: repeats <text>";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (client, _me) = common::start("command_bot").await?;

    let replier = client.clone();
    let handler = client.on_message(move |message| {
        let client = replier.clone();
        async move {
            if message.kind != ContentKind::Text || message.body.is_empty() {
                return;
            }
            let peer = message.sender_id.clone();
            println!("<- {peer}: {}", message.body);
            let reply = answer(&client, &message.body).await;
            common::report("reply", client.send_text(&peer, &reply).await);
            println!("-> {peer}: {}", reply.replace('\n', " | "));
        }
    });

    common::stopped().await;
    handler.abort();
    common::close(&client).await;
    println!("stopped");
    Ok(())
}

/// The answer to one message.
async fn answer(client: &Client, text: &str) -> String {
    let text = text.trim();
    let (command, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    match command {
        "!help" => HELP.to_string(),
        "!ping" => "pong".to_string(),
        "!echo" if rest.trim().is_empty() => "Usage: !echo <text>".to_string(),
        "!echo" => rest.trim().to_string(),
        "!users" => match client.users().await {
            Ok(users) => {
                let lines: Vec<String> = users
                    .iter()
                    .map(|u| {
                        let state = if client.is_online(&u.id) {
                            "online"
                        } else {
                            "offline"
                        };
                        format!("{} ({state})", u.username)
                    })
                    .collect();
                format!("{} users:\n{}", users.len(), lines.join("\n"))
            }
            Err(e) => format!("Sorry, I could not list the users: {e}"),
        },
        other if other.starts_with('!') => {
            format!("Unknown command {other}. Send !help for the list of commands.")
        }
        _ => "I only understand commands. Send !help for the list.".to_string(),
    }
}
