//! The native persistent store (docs to come).

mod codec;
mod layout;
mod overlay;
mod redb_store;
mod run;
#[cfg(test)]
mod tests;

pub use redb_store::{Durability, KdfStrength, RedbStore, StoreOptions};
