//! Running the real `quickchat` binary in tests: a user's environment, a command's
//! output and exit code, and reading a long-running command's lines as they come.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quickchat_testserver::{Config, TestServer};
use serde_json::Value;
use tempfile::TempDir;

/// How long one command may run before the test fails.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// Every variable the binary reads, removed so the caller's environment cannot leak in.
pub(crate) const VARIABLES: &[&str] = &[
    "QUICKCHAT_SERVER",
    "QUICKCHAT_STORE",
    "QUICKCHAT_PASSPHRASE",
    "QUICKCHAT_PASSWORD",
    "QUICKCHAT_WAIT",
    "QUICKCHAT_INSECURE_FAST_KDF",
];

/// Starts a long-running command with no input and both outputs piped, to be read with
/// [`line_reader`] and ended with [`finish`].
pub(crate) fn spawn_piped(command: &mut Command) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts")
}

/// What a finished command left.
#[derive(Debug)]
pub(crate) struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub(crate) fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "command failed: {self:#?}");
        self
    }

    pub(crate) fn failed(self) -> Self {
        assert!(
            matches!(self.code, Some(code) if code != 0),
            "command should fail with an exit code: {self:#?}"
        );
        assert!(
            self.stderr.starts_with("error: "),
            "errors go to stderr: {self:#?}"
        );
        self
    }

    /// stdout as JSON lines.
    pub(crate) fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"))
            })
            .collect()
    }

    /// The only JSON line of stdout.
    pub(crate) fn json(&self) -> Value {
        let mut lines = self.json_lines();
        assert_eq!(lines.len(), 1, "one JSON line expected: {self:#?}");
        lines.remove(0)
    }
}

/// One user's view: a store file, its passphrase and password.
pub(crate) struct User {
    pub server: String,
    pub name: String,
    pub store: PathBuf,
    pub passphrase: String,
    pub password: String,
}

impl User {
    pub(crate) fn new(server: &TestServer, dir: &TempDir, name: &str) -> Self {
        Self {
            server: server.base_url(),
            name: name.to_string(),
            store: dir.path().join(format!("{name}.redb")),
            passphrase: format!("{name}-store-passphrase-5x9"),
            password: format!("{name}-password-7q2"),
        }
    }

    /// The binary with this user's settings in the environment.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_quickchat"));
        for variable in VARIABLES {
            command.env_remove(variable);
        }
        command
            .args(args)
            .env("QUICKCHAT_SERVER", &self.server)
            .env("QUICKCHAT_STORE", &self.store)
            .env("QUICKCHAT_PASSPHRASE", &self.passphrase)
            .env("QUICKCHAT_PASSWORD", &self.password)
            .env("QUICKCHAT_WAIT", "30")
            .env("QUICKCHAT_INSECURE_FAST_KDF", "1");
        command
    }

    /// Runs a command and checks that no secret was printed.
    pub(crate) async fn run(&self, args: &[&str]) -> Run {
        let run = run(self.command(args)).await;
        self.assert_no_secrets(&run.stdout);
        self.assert_no_secrets(&run.stderr);
        run
    }

    pub(crate) fn assert_no_secrets(&self, text: &str) {
        assert!(
            !text.contains(&self.passphrase),
            "passphrase printed: {text}"
        );
        assert!(!text.contains(&self.password), "password printed: {text}");
        assert!(!text.contains("eyJ"), "a JWT was printed: {text}");
        assert!(!text.contains("panicked"), "panic: {text}");
    }

    /// `listen` until one event of `kind` arrives (60 s at most); that event.
    pub(crate) async fn listen_one(&self, kind: &str) -> Value {
        self.run(&["listen", "--count", "1", "--type", kind, "--timeout", "60"])
            .await
            .ok()
            .json()
    }

    pub(crate) async fn register(&self) -> String {
        let run = self.run(&["register", &self.name]).await.ok();
        let user = run.json();
        assert_eq!(user["username"], self.name.as_str());
        assert!(run.stderr.contains(&format!("Registered {}", self.name)));
        user["userId"].as_str().expect("user id").to_string()
    }
}

/// Runs a command to completion (killing it after [`COMMAND_TIMEOUT`]).
pub(crate) async fn run(mut command: Command) -> Run {
    tokio::task::spawn_blocking(move || {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        finish(child)
    })
    .await
    .expect("the command's thread")
}

/// Waits for a child (killing it after [`COMMAND_TIMEOUT`]) and collects its output.
pub(crate) fn finish(mut child: Child) -> Run {
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("command timed out");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

pub(crate) fn read_all(
    pipe: Option<impl Read + Send + 'static>,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// The lines a child prints, as they come.
pub(crate) fn line_reader(
    pipe: impl Read + Send + 'static,
) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The next line, failing the test after [`COMMAND_TIMEOUT`].
pub(crate) async fn next_line(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(COMMAND_TIMEOUT, lines.recv())
        .await
        .expect("timed out waiting for a line")
        .expect("the output ended")
}

pub(crate) async fn server() -> TestServer {
    TestServer::start(Config::default().with_bcrypt_cost(4))
        .await
        .expect("test server starts")
}
