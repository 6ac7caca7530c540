//! The `users` table.

use rusqlite::{Connection, OptionalExtension, Row, params};

/// One row of `users`.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub avatar: Option<String>,
    pub last_seen: i64,
    pub role: String,
    pub is_active: i64,
    pub can_send_images: i64,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    pub disabled_by: Option<String>,
}

impl User {
    /// Whether an administrator has disabled the account.
    pub(crate) fn is_disabled(&self) -> bool {
        self.is_active == 0
    }

    /// Whether the user may send images.
    pub(crate) fn may_send_images(&self) -> bool {
        self.can_send_images != 0
    }

    /// Whether the user has the `admin` role.
    pub(crate) fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

const COLUMNS: &str = "id, username, password_hash, avatar, lastSeen, role, is_active, \
                       can_send_images, created_at, disabled_at, disabled_by";

fn from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        password_hash: row.get(2)?,
        avatar: row.get(3)?,
        last_seen: row.get(4)?,
        role: row.get(5)?,
        is_active: row.get(6)?,
        can_send_images: row.get(7)?,
        created_at: row.get(8)?,
        disabled_at: row.get(9)?,
        disabled_by: row.get(10)?,
    })
}

/// Inserts a new user; fails with a UNIQUE violation when the name is taken.
pub(crate) fn insert(conn: &Connection, user: &User) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO users (id, username, password_hash, avatar, lastSeen, role, is_active,
                            can_send_images, created_at, disabled_at, disabled_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        user.id,
        user.username,
        user.password_hash,
        user.avatar,
        user.last_seen,
        user.role,
        user.is_active,
        user.can_send_images,
        user.created_at,
        user.disabled_at,
        user.disabled_by,
    ])?;
    Ok(())
}

/// The user with this id.
pub(crate) fn by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// The user with this name.
pub(crate) fn by_username(conn: &Connection, username: &str) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE username = ?1"))?
        .query_row([username], from_row)
        .optional()
}

/// The name of the user with this id.
pub(crate) fn username_of(conn: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT username FROM users WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()
}

/// Every user, oldest account first (the order of `GET /api/users`).
pub(crate) fn all_in_creation_order(conn: &Connection) -> rusqlite::Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users ORDER BY rowid"))?;
    stmt.query_map([], from_row)?.collect()
}

/// Every user, newest account first (the order of `GET /api/admin/users`).
pub(crate) fn all_newest_first(conn: &Connection) -> rusqlite::Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users ORDER BY created_at DESC, rowid DESC"
    ))?;
    stmt.query_map([], from_row)?.collect()
}

/// Sets `lastSeen`.
pub(crate) fn set_last_seen(conn: &Connection, id: &str, at: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE users SET lastSeen = ?2 WHERE id = ?1")?
        .execute(params![id, at])?;
    Ok(())
}

/// Enables or disables an account; returns the number of rows changed.
pub(crate) fn set_active(
    conn: &Connection,
    id: &str,
    active: bool,
    disabled_at: Option<i64>,
    disabled_by: Option<&str>,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE users SET is_active = ?2, disabled_at = ?3, disabled_by = ?4 WHERE id = ?1",
    )?
    .execute(params![id, i64::from(active), disabled_at, disabled_by])
}

/// Grants or revokes the right to send images; returns the number of rows changed.
pub(crate) fn set_can_send_images(
    conn: &Connection,
    id: &str,
    allowed: bool,
) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE users SET can_send_images = ?2 WHERE id = ?1")?
        .execute(params![id, i64::from(allowed)])
}

/// Sets the role of the user with this id; returns the number of rows changed.
pub(crate) fn set_role(conn: &Connection, id: &str, role: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE users SET role = ?2 WHERE id = ?1")?
        .execute(params![id, role])
}

/// Gives the user with this name the `admin` role, as the backend's operators do with a
/// database update; returns the number of rows changed.
pub(crate) fn make_admin(conn: &Connection, username: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE users SET role = 'admin' WHERE username = ?1")?
        .execute([username])
}
