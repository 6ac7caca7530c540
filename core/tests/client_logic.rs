//! The client logic without sockets: connection loop, outbox, catch-up, backoff and the
//! duplicate-send cases, against a server the test plays frame by frame
//! (`quickchat_core::testing`) on a single-threaded executor with virtual time. Every
//! interleaving here is chosen by the test, so each run is the same run.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

include!("client_logic/scenarios.rs");
