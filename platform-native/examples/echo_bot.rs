//! A bot that answers every incoming 1:1 message with the same text (end to end
//! encrypted both ways), until Ctrl-C or SIGTERM.
//!
//! Run it against a local test server:
//!
//! ```sh
//! cargo run -p quickchat-testserver --bin quickchat-server -- --port 8787 --db ./chat.db &
//! QUICKCHAT_SERVER=http://127.0.0.1:8787 QUICKCHAT_USERNAME=echo \
//! QUICKCHAT_PASSWORD=echo-password QUICKCHAT_PASSPHRASE='store passphrase' \
//! QUICKCHAT_STORE=./echo.redb cargo run -p quickchat --example echo_bot
//! ```
//!
//! Then write to `echo` from another client (the web client, or
//! `quickchat send echo "hello"` then `quickchat listen --type message`). The account is
//! registered the first time; its keys and sessions live in the store file, so restarts keep
//! the same identity. Settings: see `examples/common/mod.rs` (the first argument may name
//! the account instead of `QUICKCHAT_USERNAME`).

#[path = "common/mod.rs"]
mod common;

use quickchat::ContentKind;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (client, _me) = common::start("echo_bot").await?;

    let replier = client.clone();
    let handler = client.on_message(move |message| {
        let client = replier.clone();
        async move {
            if message.kind != ContentKind::Text || message.body.is_empty() {
                return;
            }
            let peer = message.sender_id.clone();
            println!("<- {peer}: {}", message.body);
            common::report("reply", client.send_text(&peer, &message.body).await);
            common::report(
                "mark it read",
                client
                    .mark_read(&peer, std::slice::from_ref(&message.id))
                    .await,
            );
            println!("-> {peer}: {}", message.body);
        }
    });

    common::stopped().await;
    handler.abort();
    common::close(&client).await;
    println!("stopped");
    Ok(())
}
