//! The `messages` table: one-to-one messages, kept forever.

use rusqlite::{Connection, Row, params, params_from_iter};

/// One row of `messages`.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub id: String,
    pub from_user: String,
    pub to_user: String,
    pub content: String,
    pub timestamp: i64,
    pub status: String,
    pub read_at: Option<i64>,
    pub kind: String,
    pub image_data: Option<String>,
    pub encrypted: bool,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        from_user: row.get(1)?,
        to_user: row.get(2)?,
        content: row.get(3)?,
        timestamp: row.get(4)?,
        status: row.get(5)?,
        read_at: row.get(6)?,
        kind: row.get(7)?,
        image_data: row.get(8)?,
        encrypted: row.get::<_, i64>(9)? != 0,
    })
}

/// Stores a message; fails with a UNIQUE violation when its id exists.
pub(crate) fn insert(conn: &Connection, m: &Message) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO messages (id, fromUser, toUser, content, timestamp, status, readAt, type,
                               imageData, encrypted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        m.id,
        m.from_user,
        m.to_user,
        m.content,
        m.timestamp,
        m.status,
        m.read_at,
        m.kind,
        m.image_data,
        i64::from(m.encrypted),
    ])?;
    Ok(())
}

/// Every message between two users, in both directions, oldest first.
pub(crate) fn conversation(conn: &Connection, a: &str, b: &str) -> rusqlite::Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, fromUser, toUser, content, timestamp, status, readAt, type, imageData, encrypted
         FROM messages
         WHERE (fromUser = ?1 AND toUser = ?2) OR (fromUser = ?2 AND toUser = ?1)
         ORDER BY timestamp ASC, rowid ASC",
    )?;
    stmt.query_map(params![a, b], from_row)?.collect()
}

/// Sets the status of one message.
pub(crate) fn set_status(conn: &Connection, id: &str, status: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE messages SET status = ?2 WHERE id = ?1")?
        .execute(params![id, status])?;
    Ok(())
}

/// Sets the status of many messages (and `readAt` when the status is `read`); returns how
/// many rows changed.
pub(crate) fn set_status_many(
    conn: &Connection,
    ids: &[String],
    status: &str,
    now: i64,
) -> rusqlite::Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let placeholders = vec!["?"; ids.len()].join(", ");
    let sql = format!(
        "UPDATE messages SET status = ?, readAt = CASE WHEN ? = 'read' THEN ? ELSE readAt END
         WHERE id IN ({placeholders})"
    );
    let fixed = [
        rusqlite::types::Value::from(status.to_owned()),
        rusqlite::types::Value::from(status.to_owned()),
        rusqlite::types::Value::from(now),
    ];
    let values = fixed
        .into_iter()
        .chain(ids.iter().cloned().map(rusqlite::types::Value::from));
    conn.prepare(&sql)?.execute(params_from_iter(values))
}
