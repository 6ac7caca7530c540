//! The command line: global options and every subcommand, parsed by clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// A command-line client for Quick Chat: end-to-end-encrypted messages, keys, groups and
/// administration.
///
/// Results go to stdout (JSON, one value per line, except `fingerprint`, which prints the
/// grouped form); messages for people and errors go to stderr. The exit status is non-zero
/// on failure. While `quickchat daemon` runs on a store, the other commands on that store
/// go through it.
#[derive(Debug, Parser)]
#[command(name = "quickchat", version, about, long_about)]
pub(crate) struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The server's origin, e.g. https://chat.example.com (REST under /api, WebSocket at /ws).
    #[arg(long, env = "QUICKCHAT_SERVER", global = true, value_name = "URL")]
    pub server: Option<String>,

    /// The store file (redb) holding this device's keys, sessions, login and history,
    /// encrypted with the passphrase. Created if missing.
    #[arg(
        long,
        env = "QUICKCHAT_STORE",
        global = true,
        value_name = "PATH",
        default_value = "./quickchat.redb"
    )]
    pub store: PathBuf,

    /// The passphrase the store is encrypted with (prefer the environment variable: command
    /// lines are visible to other users of the machine).
    #[arg(
        long,
        env = "QUICKCHAT_PASSPHRASE",
        global = true,
        value_name = "TEXT",
        hide_env_values = true
    )]
    pub passphrase: Option<Secret>,

    /// Print no messages for people on stderr (errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// How long to wait for the connection, a send or a reply, in seconds.
    #[arg(
        long = "wait",
        env = "QUICKCHAT_WAIT",
        global = true,
        value_name = "SECS",
        default_value_t = 20
    )]
    pub wait_secs: u64,

    /// Create a new store with a weak, fast key derivation. For tests only: never for real
    /// data.
    #[arg(
        long,
        env = "QUICKCHAT_INSECURE_FAST_KDF",
        global = true,
        hide = true,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub insecure_fast_kdf: bool,
}

/// A password, from the flag or the environment (never prompted for).
#[derive(Debug, Args, Serialize, Deserialize)]
pub(crate) struct PasswordArg {
    /// The account's password (prefer the environment variable).
    #[arg(
        long,
        env = "QUICKCHAT_PASSWORD",
        value_name = "TEXT",
        hide_env_values = true
    )]
    pub password: Option<Secret>,
}

/// The passphrase of an account file, from the flag or the environment (never prompted for).
#[derive(Debug, Args, Serialize, Deserialize)]
pub(crate) struct ArchivePassphraseArg {
    /// The account file's passphrase (prefer the environment variable).
    #[arg(
        long = "file-passphrase",
        env = "QUICKCHAT_FILE_PASSPHRASE",
        value_name = "TEXT",
        hide_env_values = true
    )]
    pub file_passphrase: Option<Secret>,
}

/// Every command. As JSON (the daemon's JSON-RPC methods): `{"method": "<command>",
/// "params": {<its arguments, camelCase>}}`, `groups` and `admin` commands as
/// `groups.<command>` and `admin.<command>` (see `daemon::rpc`).
#[derive(Debug, Subcommand, Serialize, Deserialize)]
#[serde(
    tag = "method",
    content = "params",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub(crate) enum Command {
    /// Create an account, make this device's keys and publish them.
    Register {
        /// User name (at least 3 characters).
        username: String,
        /// Password.
        #[command(flatten)]
        #[serde(flatten)]
        password: PasswordArg,
        /// Avatar (an emoji in the web client).
        #[arg(long)]
        avatar: Option<String>,
    },
    /// Log in (makes this device's keys if the store has none). Refuses when the account
    /// publishes another device's keys (it is in use elsewhere), unless --replace-keys.
    Login {
        /// User name.
        username: String,
        /// Password.
        #[command(flatten)]
        #[serde(flatten)]
        password: PasswordArg,
        /// Publish this store's keys even if the account is in use on another device: that
        /// device's sessions break until it resets its keys. Only if that device is gone.
        #[arg(long)]
        #[serde(default)]
        replace_keys: bool,
    },
    /// Forget the saved login (keys and history stay in the store).
    Logout,
    /// Write the account (keys, prekeys, sessions, trust; optionally history) to a file
    /// sealed under a passphrase, to continue it elsewhere (another store, the npm package,
    /// Python). This store is then marked moved: it neither connects nor sends until
    /// `reactivate`.
    Export {
        /// The file to write (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Also the local history.
        #[arg(long)]
        #[serde(default)]
        history: bool,
        /// The file's passphrase.
        #[command(flatten)]
        #[serde(flatten)]
        passphrase: ArchivePassphraseArg,
    },
    /// Read an account file written by `export` (or by the npm package or Python) into
    /// this store, which must hold no account unless --replace.
    Import {
        /// The account file.
        file: PathBuf,
        /// Replace the account this store holds (its keys and sessions are lost).
        #[arg(long)]
        #[serde(default)]
        replace: bool,
        /// The file's passphrase.
        #[command(flatten)]
        #[serde(flatten)]
        passphrase: ArchivePassphraseArg,
    },
    /// Use this store again after `export`: only if the account is no longer used where it
    /// was moved to (both would advance the same ratchets).
    Reactivate,
    /// Show the logged-in user.
    Whoami,
    /// List every user, marked online or not when the server says so (it connects briefly
    /// to ask, as `send` does, when logged in).
    Users {
        /// Do not connect to learn who is online (`online` is then null).
        #[arg(long)]
        #[serde(default)]
        no_presence: bool,
    },
    /// Send an end-to-end-encrypted message (or an image) to a user.
    Send {
        /// User name or id.
        peer: String,
        /// The text (not needed with --image).
        #[arg(required_unless_present = "image")]
        text: Option<String>,
        /// Send this image file instead (png, jpg, gif, webp, bmp, svg, avif). Images are
        /// not end-to-end encrypted, as in the web client.
        #[arg(long, value_name = "FILE", conflicts_with = "text")]
        image: Option<PathBuf>,
        /// Send the text WITHOUT end-to-end encryption (the server can read it): for a
        /// peer that has published no keys.
        #[arg(long, conflicts_with = "image")]
        #[serde(default)]
        plaintext: bool,
    },
    /// Mark a user's messages as read (all unread ones, or those given) and tell them
    /// (a read receipt when connected, else on the server only).
    Read {
        /// User name or id.
        peer: String,
        /// Only this message (repeat for more).
        #[arg(long = "id", value_name = "MESSAGE_ID")]
        #[serde(default)]
        ids: Vec<String>,
    },
    /// Tell a user you are typing (on) or stopped (off). Needs the connection.
    Typing {
        /// User name or id.
        peer: String,
        /// On or off.
        #[arg(value_enum)]
        state: OnOff,
    },
    /// Connect and print every event as one JSON object per line until Ctrl-C / SIGTERM,
    /// `--count` events or `--timeout` (the daemon's events when one runs on the store).
    Listen {
        /// Stop after this many printed events.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Stop after this many seconds (with --count: fail if fewer events came).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// Print only events of these types (e.g. message, group_message, presence).
        #[arg(long = "type", value_name = "TYPE")]
        #[serde(default)]
        types: Vec<String>,
        /// Mark every incoming 1:1 message read as it is printed (the sender gets a read
        /// receipt).
        #[arg(long)]
        #[serde(default)]
        mark_read: bool,
    },
    /// Show a conversation's history (after fetching what is new from the server).
    History {
        /// User or group: name or id.
        target: String,
        /// Only messages older than this time (ms since the epoch).
        #[arg(long, value_name = "MS")]
        before: Option<i64>,
        /// At most this many (the newest).
        #[arg(long, default_value_t = 50)]
        #[serde(default = "default_limit")]
        limit: usize,
        /// Only messages containing this text (case-insensitive).
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Treat the target as a group even if a user has that name.
        #[arg(long)]
        #[serde(default)]
        group: bool,
        /// Do not ask the server; show only what the store holds (a user is then found
        /// among the contacts saved in the store).
        #[arg(long)]
        #[serde(default)]
        local: bool,
    },
    /// Show this device's fingerprint, or a user's, as 12 groups of 5.
    Fingerprint {
        /// User name or id (yours when omitted).
        peer: Option<String>,
    },
    /// Record that you compared and confirmed a user's fingerprint.
    Verify {
        /// User name or id.
        peer: String,
        /// How it was compared.
        #[arg(long, value_enum, default_value_t = VerifyMethod::Manual)]
        #[serde(default)]
        method: VerifyMethod,
        /// The fingerprint you compared: refuse to verify if the current one differs.
        #[arg(long, value_name = "FINGERPRINT")]
        fingerprint: Option<String>,
    },
    /// Withdraw a verification.
    Unverify {
        /// User name or id.
        peer: String,
    },
    /// Show a user's current fingerprint and verification.
    Verification {
        /// User name or id.
        peer: String,
    },
    /// Accept a user's changed identity key without verifying it (allows sending again).
    AcceptIdentity {
        /// User name or id.
        peer: String,
    },
    /// Throw away this device's keys and publish new ones (peers see an identity change).
    ResetE2ee {
        /// Confirm: this cannot be undone.
        #[arg(long)]
        #[serde(default)]
        yes: bool,
    },
    /// Groups.
    #[command(subcommand)]
    Groups(GroupCommand),
    /// Administration (admins only).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Own the store and the connection, and serve every command (and a subscription to
    /// events) as JSON-RPC 2.0 over the Unix socket `<store>.sock` (mode 0600) until
    /// Ctrl-C / SIGTERM. While it runs, the other commands on this store go through it.
    #[serde(skip)]
    Daemon {
        /// Also serve JSON-RPC on stdin/stdout (one JSON value per line); the daemon stops
        /// when stdin ends.
        #[arg(long)]
        stdio: bool,
    },
}

fn default_limit() -> usize {
    50
}

/// How a fingerprint was compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum VerifyMethod {
    /// Scanned a QR code.
    #[value(name = "qr_code", alias = "qr-code")]
    QrCode,
    /// Compared the digits.
    #[default]
    Manual,
}

impl VerifyMethod {
    /// The backend's name for it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VerifyMethod::QrCode => "qr_code",
            VerifyMethod::Manual => "manual",
        }
    }
}

/// `groups …`.
#[derive(Debug, Subcommand, Serialize, Deserialize)]
#[serde(
    tag = "method",
    content = "params",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub(crate) enum GroupCommand {
    /// Create a group with you as owner.
    Create {
        /// Its name.
        name: String,
        /// A description.
        #[arg(long)]
        description: Option<String>,
        /// A member to add (name or id); repeat for more.
        #[arg(long = "member", value_name = "USER")]
        #[serde(default)]
        members: Vec<String>,
    },
    /// List your groups.
    List,
    /// Send a message (or an image) to a group (group messages are not end-to-end
    /// encrypted on this platform).
    Send {
        /// Group name or id.
        group: String,
        /// The text (not needed with --image).
        #[arg(required_unless_present = "image")]
        text: Option<String>,
        /// Send this image file instead.
        #[arg(long, value_name = "FILE", conflicts_with = "text")]
        image: Option<PathBuf>,
    },
    /// List a group's members.
    Members {
        /// Group name or id.
        group: String,
    },
    /// Add members (admins and the owner).
    Add {
        /// Group name or id.
        group: String,
        /// Users (names or ids).
        #[arg(required = true)]
        users: Vec<String>,
        /// Also tell the group's connected members, as the web client does (a
        /// `member_added` group event per new member; connects briefly).
        #[arg(long)]
        #[serde(default)]
        announce: bool,
    },
    /// Remove a member (admins and the owner).
    Remove {
        /// Group name or id.
        group: String,
        /// User name or id.
        user: String,
    },
    /// Make a member an admin or a plain member (the owner only).
    Role {
        /// Group name or id.
        group: String,
        /// User name or id.
        user: String,
        /// The role.
        #[arg(value_enum)]
        role: GroupRole,
    },
    /// Create an invite code.
    Invite {
        /// Group name or id.
        group: String,
        /// How many times it may be used.
        #[arg(long)]
        max_uses: Option<u32>,
        /// How long it stays valid, in seconds.
        #[arg(long, value_name = "SECS")]
        expires_in_secs: Option<u64>,
    },
    /// Revoke an invite.
    RevokeInvite {
        /// Group name or id.
        group: String,
        /// The invite's id (as `invite` printed it).
        invite_id: String,
    },
    /// Join a group with an invite code.
    Join {
        /// The invite code.
        code: String,
    },
    /// Leave a group (the owner cannot).
    Leave {
        /// Group name or id.
        group: String,
    },
    /// Show a group's history (fetched from the server).
    History {
        /// Group name or id.
        group: String,
        /// Only messages older than this time (ms since the epoch).
        #[arg(long, value_name = "MS")]
        before: Option<i64>,
        /// At most this many (the newest).
        #[arg(long, default_value_t = 50)]
        #[serde(default = "default_limit")]
        limit: usize,
        /// Only messages containing this text (case-insensitive).
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
    },
}

/// A role inside a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum GroupRole {
    /// May add and remove members.
    Admin,
    /// A plain member.
    Member,
}

impl GroupRole {
    /// The backend's name for it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            GroupRole::Admin => "admin",
            GroupRole::Member => "member",
        }
    }
}

/// `admin …`.
#[derive(Debug, Subcommand, Serialize, Deserialize)]
#[serde(
    tag = "method",
    content = "params",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub(crate) enum AdminCommand {
    /// Every user with role, flags and timestamps.
    Users,
    /// Enable a user.
    Enable {
        /// User name or id.
        user: String,
    },
    /// Disable a user (they can no longer log in or send).
    Disable {
        /// User name or id.
        user: String,
    },
    /// Allow or forbid a user to send images.
    Images {
        /// User name or id.
        user: String,
        /// Allowed or not.
        #[arg(value_enum)]
        allowed: OnOff,
    },
    /// Set a user's role.
    Role {
        /// User name or id.
        user: String,
        /// The role.
        #[arg(value_enum)]
        role: UserRole,
    },
}

/// A switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OnOff {
    /// Allowed.
    On,
    /// Forbidden.
    Off,
}

/// An account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum UserRole {
    /// A plain user.
    User,
    /// An administrator.
    Admin,
}

impl UserRole {
    /// The backend's name for it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UserRole::User => "user",
            UserRole::Admin => "admin",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_passphrase_or_the_password() {
        let cli = Cli::try_parse_from([
            "quickchat",
            "--passphrase",
            "pass-phrase-s3cret",
            "login",
            "alice",
            "--password",
            "pass-word-s3cret",
        ])
        .unwrap();
        let shown = format!("{cli:?} {cli:#?}");
        assert!(!shown.contains("pass-phrase-s3cret"), "{shown}");
        assert!(!shown.contains("pass-word-s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        let Command::Login { password, .. } = &cli.command else {
            panic!("parsed as login");
        };
        assert_eq!(
            password.password.as_ref().map(Secret::expose),
            Some("pass-word-s3cret")
        );
        assert_eq!(
            cli.global.passphrase.as_ref().map(Secret::expose),
            Some("pass-phrase-s3cret")
        );
    }
}
