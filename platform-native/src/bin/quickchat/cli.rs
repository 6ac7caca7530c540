//! The command line: global options and every subcommand, parsed by clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A command-line client for Quick Chat: end-to-end-encrypted messages, keys, groups and
/// administration.
///
/// Results go to stdout (JSON, one value per line, except `fingerprint`, which prints the
/// grouped form); messages for people and errors go to stderr. The exit status is non-zero
/// on failure.
#[derive(Debug, Parser)]
#[command(name = "quickchat", version, about, long_about)]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
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
    pub passphrase: Option<String>,

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
#[derive(Debug, Args)]
pub struct PasswordArg {
    /// The account's password (prefer the environment variable).
    #[arg(
        long,
        env = "QUICKCHAT_PASSWORD",
        value_name = "TEXT",
        hide_env_values = true
    )]
    pub password: Option<String>,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an account, make this device's keys and publish them.
    Register {
        /// User name (at least 3 characters).
        username: String,
        /// Password.
        #[command(flatten)]
        password: PasswordArg,
        /// Avatar (an emoji in the web client).
        #[arg(long)]
        avatar: Option<String>,
    },
    /// Log in (makes this device's keys if the store has none).
    Login {
        /// User name.
        username: String,
        /// Password.
        #[command(flatten)]
        password: PasswordArg,
    },
    /// Forget the saved login (keys and history stay in the store).
    Logout,
    /// Show the logged-in user.
    Whoami,
    /// List every user, marked online or not when the server says so (it connects briefly
    /// to ask, as `send` does, when logged in).
    Users {
        /// Do not connect to learn who is online (`online` is then null).
        #[arg(long)]
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
        plaintext: bool,
    },
    /// Connect and print every event as one JSON object per line until Ctrl-C / SIGTERM,
    /// `--count` events or `--timeout`.
    Listen {
        /// Stop after this many printed events.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Stop after this many seconds (with --count: fail if fewer events came).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// Print only events of these types (e.g. message, group_message, presence).
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
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
        limit: usize,
        /// Only messages containing this text (case-insensitive).
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Treat the target as a group even if a user has that name.
        #[arg(long)]
        group: bool,
        /// Do not ask the server; show only what the store holds.
        #[arg(long)]
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
        yes: bool,
    },
    /// Groups.
    #[command(subcommand)]
    Groups(GroupCommand),
    /// Administration (admins only).
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// How a fingerprint was compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyMethod {
    /// Scanned a QR code.
    #[value(name = "qr_code", alias = "qr-code")]
    QrCode,
    /// Compared the digits.
    Manual,
}

impl VerifyMethod {
    /// The backend's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyMethod::QrCode => "qr_code",
            VerifyMethod::Manual => "manual",
        }
    }
}

/// `groups …`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group with you as owner.
    Create {
        /// Its name.
        name: String,
        /// A description.
        #[arg(long)]
        description: Option<String>,
        /// A member to add (name or id); repeat for more.
        #[arg(long = "member", value_name = "USER")]
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
        limit: usize,
        /// Only messages containing this text (case-insensitive).
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
    },
}

/// A role inside a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupRole {
    /// May add and remove members.
    Admin,
    /// A plain member.
    Member,
}

impl GroupRole {
    /// The backend's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupRole::Admin => "admin",
            GroupRole::Member => "member",
        }
    }
}

/// `admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Allowed.
    On,
    /// Forbidden.
    Off,
}

/// An account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UserRole {
    /// A plain user.
    User,
    /// An administrator.
    Admin,
}

impl UserRole {
    /// The backend's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::User => "user",
            UserRole::Admin => "admin",
        }
    }
}
