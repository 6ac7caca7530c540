//! Tests of the redb store: the shared behaviour suite (also run against `MemoryStore`), and
//! what only a file can show: persistence, encryption at rest, atomicity, damage, locking.

mod behaviour;
mod fixtures;
mod redb_file;
