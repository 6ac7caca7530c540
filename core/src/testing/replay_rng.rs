//! Recorded randomness. Every operation of core that needs randomness takes an
//! `R: CryptoRng` from the caller: platforms pass their system generator, tests pass
//! [`ReplayRng`] to replay the exact random draws the reference client recorded in the
//! vectors.

use std::collections::VecDeque;

/// A mismatch between the draws an operation made and the recorded ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// A draw of a different size than recorded was requested.
    #[error("draw {index} asked for {requested} bytes, the recording has {recorded}")]
    SizeMismatch {
        /// Index of the draw.
        index: usize,
        /// Bytes requested.
        requested: usize,
        /// Bytes recorded.
        recorded: usize,
    },
    /// More draws were made than recorded.
    #[error("draw {index} was requested but only {index} were recorded")]
    Exhausted {
        /// Index of the draw.
        index: usize,
    },
    /// Recorded draws were left unused.
    #[error("{unused} recorded draws were not used")]
    Unused {
        /// How many.
        unused: usize,
    },
}

/// Replays recorded random draws, one `fill_bytes` call per draw.
///
/// It exists for tests and vector replay; it is deterministic and therefore never a
/// source of real randomness. A draw that does not match the recording is filled with
/// zeros and remembered; [`ReplayRng::finish`] reports it.
#[derive(Debug, Default)]
pub struct ReplayRng {
    draws: VecDeque<Vec<u8>>,
    taken: usize,
    error: Option<ReplayError>,
}

impl ReplayRng {
    /// A replayer for `draws`, in order.
    pub fn new(draws: impl IntoIterator<Item = Vec<u8>>) -> Self {
        Self {
            draws: draws.into_iter().collect(),
            taken: 0,
            error: None,
        }
    }

    /// Number of draws made so far.
    pub fn taken(&self) -> usize {
        self.taken
    }

    /// `Ok` when every draw matched the recording and all were used.
    pub fn finish(&self) -> Result<(), ReplayError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if !self.draws.is_empty() {
            return Err(ReplayError::Unused {
                unused: self.draws.len(),
            });
        }
        Ok(())
    }

    fn fill(&mut self, dst: &mut [u8]) {
        let index = self.taken;
        self.taken += 1;
        match self.draws.pop_front() {
            Some(draw) if draw.len() == dst.len() => dst.copy_from_slice(&draw),
            Some(draw) => {
                dst.fill(0);
                self.error.get_or_insert(ReplayError::SizeMismatch {
                    index,
                    requested: dst.len(),
                    recorded: draw.len(),
                });
            }
            None => {
                dst.fill(0);
                self.error.get_or_insert(ReplayError::Exhausted { index });
            }
        }
    }
}

impl rand_core::TryRng for ReplayRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0u8; 4];
        self.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.fill(dst);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for ReplayRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng as _;

    #[test]
    fn replays_in_order_and_reports_mismatches() {
        let mut rng = ReplayRng::new([vec![1, 2], vec![3]]);
        let mut a = [0u8; 2];
        rng.fill_bytes(&mut a);
        assert_eq!(a, [1, 2]);
        assert_eq!(rng.finish(), Err(ReplayError::Unused { unused: 1 }));
        let mut b = [0u8; 2];
        rng.fill_bytes(&mut b);
        assert_eq!(b, [0, 0]);
        assert_eq!(
            rng.finish(),
            Err(ReplayError::SizeMismatch {
                index: 1,
                requested: 2,
                recorded: 1
            })
        );
    }

    #[test]
    fn exhaustion_is_reported() {
        let mut rng = ReplayRng::new([]);
        let mut a = [9u8; 3];
        rng.fill_bytes(&mut a);
        assert_eq!(a, [0; 3]);
        assert_eq!(rng.finish(), Err(ReplayError::Exhausted { index: 0 }));
    }
}
