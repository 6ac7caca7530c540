//! The `user_identity_keys` and `user_prekeys` tables.

use rusqlite::{Connection, OptionalExtension, params};

/// A user's published identity material.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub identity_key: String,
    pub signing_key: String,
    pub fingerprint: String,
}

/// A signed prekey as stored.
#[derive(Debug, Clone)]
pub(crate) struct SignedPrekey {
    pub key_id: i64,
    pub public_key: String,
    pub signature: String,
    pub created_at: i64,
}

/// A one-time prekey as stored.
#[derive(Debug, Clone)]
pub(crate) struct OneTimePrekey {
    pub key_id: i64,
    pub public_key: String,
}

/// Stores or replaces a user's identity material.
pub(crate) fn upsert_identity(
    conn: &Connection,
    user_id: &str,
    identity: &Identity,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO user_identity_keys
             (user_id, identity_key, signing_key, fingerprint, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (user_id) DO UPDATE SET
             identity_key = excluded.identity_key,
             signing_key = excluded.signing_key,
             fingerprint = excluded.fingerprint,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        user_id,
        identity.identity_key,
        identity.signing_key,
        identity.fingerprint,
        now
    ])?;
    Ok(())
}

/// A user's identity material, if published.
pub(crate) fn identity(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<Identity>> {
    conn.prepare_cached(
        "SELECT identity_key, signing_key, fingerprint FROM user_identity_keys WHERE user_id = ?1",
    )?
    .query_row([user_id], |row| {
        Ok(Identity {
            identity_key: row.get(0)?,
            signing_key: row.get(1)?,
            fingerprint: row.get(2)?,
        })
    })
    .optional()
}

/// Stores (or replaces, same key id) a signed prekey.
pub(crate) fn put_signed_prekey(
    conn: &Connection,
    user_id: &str,
    key: &SignedPrekey,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO user_prekeys
             (user_id, key_id, key_type, public_key, signature, created_at, is_used)
         VALUES (?1, ?2, 'signed', ?3, ?4, ?5, 0)",
    )?
    .execute(params![
        user_id,
        key.key_id,
        key.public_key,
        key.signature,
        key.created_at
    ])?;
    Ok(())
}

/// Stores (or replaces, same key id, as unused again) a one-time prekey.
pub(crate) fn put_one_time_prekey(
    conn: &Connection,
    user_id: &str,
    key: &OneTimePrekey,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO user_prekeys
             (user_id, key_id, key_type, public_key, signature, created_at, is_used)
         VALUES (?1, ?2, 'one_time', ?3, NULL, ?4, 0)",
    )?
    .execute(params![user_id, key.key_id, key.public_key, now])?;
    Ok(())
}

/// The newest signed prekey of a user.
pub(crate) fn latest_signed_prekey(
    conn: &Connection,
    user_id: &str,
) -> rusqlite::Result<Option<SignedPrekey>> {
    conn.prepare_cached(
        "SELECT key_id, public_key, COALESCE(signature, ''), created_at FROM user_prekeys
         WHERE user_id = ?1 AND key_type = 'signed'
         ORDER BY created_at DESC, key_id DESC LIMIT 1",
    )?
    .query_row([user_id], |row| {
        Ok(SignedPrekey {
            key_id: row.get(0)?,
            public_key: row.get(1)?,
            signature: row.get(2)?,
            created_at: row.get(3)?,
        })
    })
    .optional()
}

/// How many one-time prekeys of a user are still unused.
pub(crate) fn unused_one_time_count(conn: &Connection, user_id: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM user_prekeys
         WHERE user_id = ?1 AND key_type = 'one_time' AND is_used = 0",
    )?
    .query_row([user_id], |row| row.get(0))
}

/// Takes the unused one-time prekey with the lowest id and marks it used.
pub(crate) fn take_one_time_prekey(
    conn: &Connection,
    user_id: &str,
) -> rusqlite::Result<Option<OneTimePrekey>> {
    let key = conn
        .prepare_cached(
            "SELECT key_id, public_key FROM user_prekeys
             WHERE user_id = ?1 AND key_type = 'one_time' AND is_used = 0
             ORDER BY key_id ASC LIMIT 1",
        )?
        .query_row([user_id], |row| {
            Ok(OneTimePrekey {
                key_id: row.get(0)?,
                public_key: row.get(1)?,
            })
        })
        .optional()?;
    if let Some(key) = &key {
        conn.prepare_cached(
            "UPDATE user_prekeys SET is_used = 1
             WHERE user_id = ?1 AND key_type = 'one_time' AND key_id = ?2",
        )?
        .execute(params![user_id, key.key_id])?;
    }
    Ok(key)
}
