//! Where things are printed: results on stdout (JSON, one value per line), notes for
//! people on stderr — or, for a command the daemon runs for a client, both collected to be
//! sent back.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use crate::error::CliError;

/// What a command printed, collected instead (the daemon's answer to a client).
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub(crate) struct Captured {
    /// The stdout lines: JSON values, or strings for lines that are plain text.
    #[serde(default)]
    pub results: Vec<Value>,
    /// Notes for people.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Warnings (printed even with `--quiet`).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl Captured {
    /// Prints it as the command would have printed it itself.
    pub(crate) fn print(&self, out: &Output) -> Result<(), CliError> {
        for warning in &self.warnings {
            out.warning(warning);
        }
        for result in &self.results {
            match result {
                Value::String(text) => out.line(text)?,
                value => out.json(value)?,
            }
        }
        for note in &self.notes {
            out.note(note);
        }
        Ok(())
    }
}

/// The two output streams.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    quiet: bool,
    capture: Option<Arc<Mutex<Captured>>>,
}

impl Output {
    /// An output to the terminal; `quiet` silences the notes.
    pub(crate) fn new(quiet: bool) -> Self {
        Self {
            quiet,
            capture: None,
        }
    }

    /// An output that collects everything (see [`Output::take`]).
    pub(crate) fn capture() -> Self {
        Self {
            quiet: false,
            capture: Some(Arc::default()),
        }
    }

    /// What was collected so far (empty for a terminal output).
    pub(crate) fn take(&self) -> Captured {
        self.capture
            .as_ref()
            .map(|c| std::mem::take(&mut *lock(c)))
            .unwrap_or_default()
    }

    /// One result line on stdout, flushed at once (so a pipe sees it immediately).
    pub(crate) fn line(&self, text: &str) -> Result<(), CliError> {
        if let Some(capture) = &self.capture {
            lock(capture).results.push(Value::String(text.to_string()));
            return Ok(());
        }
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{text}")
            .and_then(|()| stdout.flush())
            .map_err(CliError::Output)
    }

    /// One value as a JSON line on stdout.
    pub(crate) fn json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        if let Some(capture) = &self.capture {
            let value = serde_json::to_value(value)
                .map_err(|e| CliError::Other(format!("cannot format the result as JSON: {e}")))?;
            lock(capture).results.push(value);
            return Ok(());
        }
        let text = serde_json::to_string(value)
            .map_err(|e| CliError::Other(format!("cannot format the result as JSON: {e}")))?;
        self.line(&text)
    }

    /// A note for people on stderr (dropped with `--quiet`; a failure to write it is
    /// ignored).
    pub(crate) fn note(&self, text: impl AsRef<str>) {
        if let Some(capture) = &self.capture {
            lock(capture).notes.push(text.as_ref().to_string());
        } else if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{}", text.as_ref());
        }
    }

    /// A warning on stderr, even with `--quiet` (a security warning must not be silenced
    /// with the chatter).
    pub(crate) fn warning(&self, text: impl AsRef<str>) {
        if let Some(capture) = &self.capture {
            lock(capture).warnings.push(text.as_ref().to_string());
        } else {
            let _ = writeln!(std::io::stderr().lock(), "warning: {}", text.as_ref());
        }
    }
}

fn lock(capture: &Mutex<Captured>) -> std::sync::MutexGuard<'_, Captured> {
    capture
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Prints an error on stderr.
pub(crate) fn error(text: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr().lock(), "error: {}", text.as_ref());
}

/// `1 message`, `2 messages`.
pub(crate) fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
