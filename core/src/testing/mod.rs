//! Deterministic test doubles for the client logic (feature `testing`): a [`ManualClock`]
//! with virtual time and a [`ScriptedTransport`] whose server side the test plays frame by
//! frame ([`Script`], [`ServerSocket`]). With both on a single-threaded executor, a test
//! decides every interleaving — a reconnect race, an echo that never comes, a history read
//! that lands after a live frame — and runs without sockets or sleeps, on native targets and
//! wasm32 alike. And [`ReplayRng`], which replays the random draws recorded in the vectors,
//! and [`store_suite`], the conformance suite every [`Store`](crate::Store) passes.

mod clock;
mod replay_rng;
pub mod store_suite;
mod transport;

pub use clock::ManualClock;
pub use replay_rng::{ReplayError, ReplayRng};
pub use transport::{PendingRequest, Responder, Script, ScriptedTransport, ServerSocket, scripted};
