//! Where things are printed: results on stdout (JSON, one value per line), notes for
//! people on stderr.

use std::io::Write;

use serde::Serialize;

use crate::error::CliError;

/// The two output streams.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    quiet: bool,
}

impl Output {
    /// An output; `quiet` silences the notes.
    pub fn new(quiet: bool) -> Self {
        Self { quiet }
    }

    /// One result line on stdout, flushed at once (so a pipe sees it immediately).
    pub fn line(&self, text: &str) -> Result<(), CliError> {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{text}")
            .and_then(|()| stdout.flush())
            .map_err(CliError::Output)
    }

    /// One value as a JSON line on stdout.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        let text = serde_json::to_string(value)
            .map_err(|e| CliError::Other(format!("cannot format the result as JSON: {e}")))?;
        self.line(&text)
    }

    /// A note for people on stderr (dropped with `--quiet`; a failure to write it is
    /// ignored).
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{}", text.as_ref());
        }
    }
}

/// Prints an error on stderr.
pub fn error(text: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr().lock(), "error: {}", text.as_ref());
}

/// `1 message`, `2 messages`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
