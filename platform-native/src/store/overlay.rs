//! A storage backend that reads a file and keeps every write in memory.
//!
//! A store that was not closed cleanly (a crash) cannot be opened read-only: redb must
//! recover it, and recovery writes. To check the passphrase of such a store — and to find
//! out whether it is a quickchat store at all — *before* anything on disk changes, the
//! recovery first runs on this overlay: reads come from the file, writes stay in memory and
//! are thrown away. Locks are taken on the real file, so another process that has the store
//! open is noticed exactly as with a direct open.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

const BLOCK: u64 = 4096;

/// Reads from a file, writes to memory.
pub(crate) struct Overlay {
    base: FileBackend,
    state: Mutex<State>,
}

struct State {
    /// Length as redb sees it.
    len: u64,
    /// Below this offset, bytes not in `blocks` come from the file; above it, they are zero
    /// (the file's length, lowered by every shrink).
    base_visible: u64,
    /// Written blocks, by index.
    blocks: BTreeMap<u64, Vec<u8>>,
}

impl fmt::Debug for Overlay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Overlay").finish_non_exhaustive()
    }
}

impl Overlay {
    /// An overlay over `file` (which must be open for reading and writing, so that redb's
    /// locks can be taken on it; nothing is written to it).
    pub(crate) fn new(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        let base = FileBackend::new(file).map_err(io::Error::other)?;
        Ok(Self {
            base,
            state: Mutex::new(State {
                len,
                base_visible: len,
                blocks: BTreeMap::new(),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Block `index` as it currently reads.
    fn load(&self, state: &State, index: u64) -> io::Result<Vec<u8>> {
        if let Some(block) = state.blocks.get(&index) {
            return Ok(block.clone());
        }
        let mut block = vec![0u8; BLOCK as usize];
        let start = index * BLOCK;
        let visible_end = state.base_visible.min(start + BLOCK);
        if start < visible_end {
            let n = usize::try_from(visible_end - start).map_err(io::Error::other)?;
            self.base.read(start, &mut block[..n])?;
        }
        Ok(block)
    }
}

fn span(offset: u64, len: usize) -> io::Result<(u64, u64)> {
    let end = u64::try_from(len)
        .ok()
        .and_then(|l| offset.checked_add(l))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "range overflows"))?;
    Ok((offset, end))
}

impl StorageBackend for Overlay {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.state().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let state = self.state();
        let (start, end) = span(offset, out.len())?;
        if end > state.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end of the storage",
            ));
        }
        let mut at = start;
        while at < end {
            let index = at / BLOCK;
            let block_end = ((index + 1) * BLOCK).min(end);
            let from = usize::try_from(at - index * BLOCK).map_err(io::Error::other)?;
            let n = usize::try_from(block_end - at).map_err(io::Error::other)?;
            let into = usize::try_from(at - start).map_err(io::Error::other)?;
            let dest = &mut out[into..into + n];
            match state.blocks.get(&index) {
                Some(block) => dest.copy_from_slice(&block[from..from + n]),
                None => {
                    // Straight from the file where it is visible, zeros after.
                    let visible = state.base_visible.clamp(at, block_end);
                    let from_file = usize::try_from(visible - at).map_err(io::Error::other)?;
                    if from_file > 0 {
                        self.base.read(at, &mut dest[..from_file])?;
                    }
                    dest[from_file..].fill(0);
                }
            }
            at = block_end;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut state = self.state();
        if len < state.len {
            // Whatever lies past the new end must read as zero if the storage grows again.
            let cut = len / BLOCK;
            let tail = usize::try_from(len % BLOCK).map_err(io::Error::other)?;
            if tail > 0 {
                let mut block = self.load(&state, cut)?;
                block[tail..].fill(0);
                state.blocks.insert(cut, block);
            }
            let first_gone = if tail > 0 { cut + 1 } else { cut };
            state.blocks.retain(|index, _| *index < first_gone);
            state.base_visible = state.base_visible.min(len);
        }
        state.len = len;
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut state = self.state();
        let (start, end) = span(offset, data.len())?;
        let mut at = start;
        while at < end {
            let index = at / BLOCK;
            let block_end = ((index + 1) * BLOCK).min(end);
            let mut block = self.load(&state, index)?;
            let from = usize::try_from(at - index * BLOCK).map_err(io::Error::other)?;
            let n = usize::try_from(block_end - at).map_err(io::Error::other)?;
            let src = usize::try_from(at - start).map_err(io::Error::other)?;
            block[from..from + n].copy_from_slice(&data[src..src + n]);
            state.blocks.insert(index, block);
            at = block_end;
        }
        state.len = state.len.max(end);
        Ok(())
    }

    fn close(&self) -> Result<(), io::Error> {
        self.base.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.base.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.base.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.base.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.base.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.base.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.base.query_lock_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_file_and_keeps_writes_in_memory() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f");
        let original: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &original).expect("write");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open");
        let overlay = Overlay::new(file).expect("overlay");
        let mut expected = original.clone();

        let mut buf = vec![0u8; 5000];
        overlay.read(3000, &mut buf).expect("read");
        assert_eq!(buf, expected[3000..8000]);

        overlay.write(4090, &[7u8; 20]).expect("write");
        expected[4090..4110].fill(7);
        overlay.read(3000, &mut buf).expect("read");
        assert_eq!(buf, expected[3000..8000]);

        // Shrink, grow: the cut part reads as zeros, the rest as before.
        overlay.set_len(4100).expect("shrink");
        overlay.set_len(12_000).expect("grow");
        expected.truncate(4100);
        expected.resize(12_000, 0);
        let mut all = vec![0u8; 12_000];
        overlay.read(0, &mut all).expect("read");
        assert_eq!(all, expected);

        // Writing past the end extends.
        overlay.write(12_000, &[1, 2, 3]).expect("append");
        assert_eq!(overlay.len().expect("len"), 12_003);
        assert!(overlay.read(12_001, &mut [0u8; 3]).is_err());

        overlay.close().expect("close");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            original,
            "the file changed"
        );
    }
}
