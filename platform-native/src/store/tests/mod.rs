//! Tests of the redb store: core's store conformance suite, and
//! what only a file can show: persistence, encryption at rest, atomicity, damage, locking.

mod redb_file;
