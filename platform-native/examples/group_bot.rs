//! A bot for groups: joins a group with an invite code (or waits to be added to one),
//! answers `!ping` with `pong` in every group it is in, and greets members when someone
//! announces a `member_added` / `member_joined` group event (as the web client does after
//! adding someone). Stops on Ctrl-C or SIGTERM.
//!
//! Run it against a local test server:
//!
//! ```sh
//! cargo run -p quickchat-testserver --bin quickchat-server -- --port 8787 --db ./chat.db &
//! # make a group and an invite with the CLI (as a member of it):
//! quickchat groups invite "My group" --max-uses 1      # prints {"link_code": ...}
//! QUICKCHAT_SERVER=http://127.0.0.1:8787 QUICKCHAT_USERNAME=groupie \
//! QUICKCHAT_PASSWORD=groupie-password QUICKCHAT_PASSPHRASE='store passphrase' \
//! QUICKCHAT_STORE=./groupie.redb QUICKCHAT_INVITE=<link_code> \
//! cargo run -p quickchat --example group_bot
//! ```
//!
//! `QUICKCHAT_INVITE` is optional (without it, add the bot to a group instead). Other
//! settings: see `examples/common/mod.rs`.

#[path = "common/mod.rs"]
mod common;

use quickchat::{Client, ContentKind, Event};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (client, me) = common::start("group_bot").await?;

    if let Ok(code) = std::env::var("QUICKCHAT_INVITE")
        && !code.is_empty()
    {
        match client.join_group(&code).await {
            Ok(joined) => println!("joined group {}", joined.group_id),
            // Joining twice is refused; being a member already is fine.
            Err(e) if e.is_status(400) => println!("not joining: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
    for group in client.groups().await? {
        println!("member of {:?} ({})", group.name, group.id);
    }

    let replier = client.clone();
    let pings = client.on_group_message(move |message| {
        let client = replier.clone();
        async move {
            let quickchat::Conversation::Group(group_id) = &message.conversation else {
                return;
            };
            if message.kind == ContentKind::Text && message.body.trim() == "!ping" {
                println!("<- {} in {group_id}: !ping", message.sender_id);
                common::report("answer", client.send_group_text(group_id, "pong").await);
                println!("-> {group_id}: pong");
            }
        }
    });

    let greeter = client.clone();
    let my_id = me.user_id.clone();
    let greetings = client.on_event(move |event| {
        let client = greeter.clone();
        let my_id = my_id.clone();
        async move {
            let Event::GroupEvent { group_id, payload } = event else {
                return;
            };
            let kind = payload.get("event").and_then(|e| e.as_str()).unwrap_or("");
            if kind != "member_added" && kind != "member_joined" {
                return;
            }
            let user_id = payload.get("userId").and_then(|u| u.as_str()).unwrap_or("");
            if user_id == my_id {
                return;
            }
            let greeting = format!(
                "Welcome, {}! Send !ping to check I am here.",
                name(&client, user_id).await
            );
            common::report("greet", client.send_group_text(&group_id, &greeting).await);
            println!("-> {group_id}: {greeting}");
        }
    });

    common::stopped().await;
    pings.abort();
    greetings.abort();
    common::close(&client).await;
    println!("stopped");
    Ok(())
}

/// A user's name, or a friendly stand-in.
async fn name(client: &Client, user_id: &str) -> String {
    if user_id.is_empty() {
        return "newcomer".to_string();
    }
    client
        .find_user(user_id)
        .await
        .map_or_else(|_| "newcomer".to_string(), |u| u.username)
}
