//! Where the daemon listens, and who may use the socket.
//!
//! The socket sits next to the store, as `<store>.sock`, made with mode 0600. Before a
//! command follows it, it checks (without following a symbolic link) that it is a socket
//! owned by the same user: a socket another user made in a shared directory could
//! otherwise collect passwords and messages. The daemon checks every connecting peer's
//! user id as well.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// The daemon's socket for the store at `store`: `<store>.sock`.
pub(crate) fn path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_os_string();
    name.push(".sock");
    PathBuf::from(name)
}

/// This process's effective user id.
pub(crate) fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Whether a socket file is at `path`; an error when something is there that must not be
/// followed (not a socket, or another user's).
pub(crate) fn check(path: &Path) -> Result<bool, CliError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(CliError::Daemon(format!(
                "cannot inspect {}: {e}",
                path.display()
            )));
        }
    };
    if !meta.file_type().is_socket() {
        return Err(CliError::Daemon(format!(
            "{} exists and is not a socket: not following it (remove it if it is stale)",
            path.display()
        )));
    }
    if meta.uid() != my_uid() {
        return Err(CliError::Daemon(format!(
            "{} belongs to another user (uid {}): not following it",
            path.display(),
            meta.uid()
        )));
    }
    Ok(true)
}

/// Makes the socket readable and writable by its owner only.
pub(crate) fn restrict(path: &Path) -> Result<(), CliError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        CliError::Daemon(format!(
            "cannot restrict {} to its owner: {e}",
            path.display()
        ))
    })
}

/// Removes the socket when the daemon stops, however it stops.
pub(crate) struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_sits_next_to_the_store() {
        assert_eq!(
            path(Path::new("/home/a/alice.redb")),
            PathBuf::from("/home/a/alice.redb.sock")
        );
        assert_eq!(path(Path::new("s")), PathBuf::from("s.sock"));
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_refused() {
        let dir = std::env::temp_dir().join(format!("qc-socket-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("x.sock");
        std::fs::write(&file, b"").unwrap();
        assert!(check(&file).is_err());
        assert!(!check(&dir.join("missing.sock")).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
