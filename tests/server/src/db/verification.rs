//! The `key_verification` table: which fingerprint a user has verified for another.

use rusqlite::{Connection, OptionalExtension, params};

/// One verification record.
#[derive(Debug, Clone)]
pub(crate) struct Verification {
    pub fingerprint: String,
    pub verified_at: i64,
    pub method: String,
}

/// Records (or replaces) `verifier`'s verification of `verified`.
pub(crate) fn upsert(
    conn: &Connection,
    verifier: &str,
    verified: &str,
    record: &Verification,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO key_verification
             (verifier_id, verified_user_id, verified_fingerprint, verified_at, verification_method)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (verifier_id, verified_user_id) DO UPDATE SET
             verified_fingerprint = excluded.verified_fingerprint,
             verified_at = excluded.verified_at,
             verification_method = excluded.verification_method",
    )?
    .execute(params![
        verifier,
        verified,
        record.fingerprint,
        record.verified_at,
        record.method
    ])?;
    Ok(())
}

/// `verifier`'s verification of `verified`, if any.
pub(crate) fn get(
    conn: &Connection,
    verifier: &str,
    verified: &str,
) -> rusqlite::Result<Option<Verification>> {
    conn.prepare_cached(
        "SELECT verified_fingerprint, verified_at, verification_method FROM key_verification
         WHERE verifier_id = ?1 AND verified_user_id = ?2",
    )?
    .query_row(params![verifier, verified], |row| {
        Ok(Verification {
            fingerprint: row.get(0)?,
            verified_at: row.get(1)?,
            method: row.get(2)?,
        })
    })
    .optional()
}

/// Forgets `verifier`'s verification of `verified`.
pub(crate) fn delete(conn: &Connection, verifier: &str, verified: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM key_verification WHERE verifier_id = ?1 AND verified_user_id = ?2",
    )?
    .execute(params![verifier, verified])?;
    Ok(())
}
