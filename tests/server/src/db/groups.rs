//! The group tables: `groups`, `group_members`, `group_messages`, `group_message_reads` and
//! `group_invite_links`.

use rusqlite::{Connection, OptionalExtension, Row, params};

/// One row of `groups`; `settings` is the JSON text as stored.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub avatar: Option<String>,
    pub owner_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub settings: String,
}

/// A member of a group with the user's name and avatar.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub group_id: String,
    pub user_id: String,
    pub role: String,
    pub joined_at: i64,
    pub added_by: Option<String>,
    pub username: Option<String>,
    pub avatar: Option<String>,
}

/// A group the caller belongs to, with the caller's membership.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    pub group: Group,
    pub role: String,
    pub joined_at: i64,
}

/// One row of `group_messages`, with the sender's name when listed.
#[derive(Debug, Clone)]
pub(crate) struct GroupMessage {
    pub id: String,
    pub group_id: String,
    pub from_user: String,
    pub content: String,
    pub timestamp: i64,
    pub kind: String,
    pub image_data: Option<String>,
    pub system_event: Option<String>,
    pub metadata: Option<String>,
    pub from_username: Option<String>,
}

/// One row of `group_invite_links`.
#[derive(Debug, Clone)]
pub(crate) struct Invite {
    pub id: String,
    pub group_id: String,
    pub link_code: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub max_uses: Option<i64>,
    pub uses: i64,
}

const GROUP_COLUMNS: &str =
    "g.id, g.name, g.description, g.avatar, g.owner_id, g.created_at, g.updated_at, g.settings";

fn group_from_row(row: &Row<'_>) -> rusqlite::Result<Group> {
    Ok(Group {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        avatar: row.get(3)?,
        owner_id: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        settings: row.get(7)?,
    })
}

/// Stores a new group.
pub(crate) fn insert_group(conn: &Connection, g: &Group) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO groups (id, name, description, avatar, owner_id, created_at, updated_at,
                             settings)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        g.id,
        g.name,
        g.description,
        g.avatar,
        g.owner_id,
        g.created_at,
        g.updated_at,
        g.settings
    ])?;
    Ok(())
}

/// Writes back a group's editable fields.
pub(crate) fn update_group(conn: &Connection, g: &Group) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE groups SET name = ?2, description = ?3, avatar = ?4, settings = ?5,
                           updated_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        g.id,
        g.name,
        g.description,
        g.avatar,
        g.settings,
        g.updated_at
    ])?;
    Ok(())
}

/// The group with this id.
pub(crate) fn group(conn: &Connection, id: &str) -> rusqlite::Result<Option<Group>> {
    conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = ?1"
    ))?
    .query_row([id], group_from_row)
    .optional()
}

/// The groups a user belongs to, most recently updated first.
pub(crate) fn groups_of(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<Membership>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS}, gm.role, gm.joined_at
         FROM groups g JOIN group_members gm ON gm.group_id = g.id
         WHERE gm.user_id = ?1
         ORDER BY g.updated_at DESC, g.rowid DESC"
    ))?;
    stmt.query_map([user_id], |row| {
        Ok(Membership {
            group: group_from_row(row)?,
            role: row.get(8)?,
            joined_at: row.get(9)?,
        })
    })?
    .collect()
}

/// Adds a member.
pub(crate) fn add_member(
    conn: &Connection,
    group_id: &str,
    user_id: &str,
    role: &str,
    joined_at: i64,
    added_by: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO group_members (group_id, user_id, role, joined_at, added_by)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![group_id, user_id, role, joined_at, added_by])?;
    Ok(())
}

/// Removes a member; returns whether one was removed.
pub(crate) fn remove_member(
    conn: &Connection,
    group_id: &str,
    user_id: &str,
) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2")?
        .execute(params![group_id, user_id])?;
    Ok(n > 0)
}

/// A user's role in a group (`owner`, `admin`, `member`), or `None` for a non-member.
pub(crate) fn role_of(
    conn: &Connection,
    group_id: &str,
    user_id: &str,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT role FROM group_members WHERE group_id = ?1 AND user_id = ?2")?
        .query_row(params![group_id, user_id], |row| row.get(0))
        .optional()
}

/// When a member joined, or `None` for a non-member.
pub(crate) fn joined_at(
    conn: &Connection,
    group_id: &str,
    user_id: &str,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT joined_at FROM group_members WHERE group_id = ?1 AND user_id = ?2")?
        .query_row(params![group_id, user_id], |row| row.get(0))
        .optional()
}

/// Changes a member's role.
pub(crate) fn set_role(
    conn: &Connection,
    group_id: &str,
    user_id: &str,
    role: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE group_members SET role = ?3 WHERE group_id = ?1 AND user_id = ?2")?
        .execute(params![group_id, user_id, role])?;
    Ok(())
}

/// The members of a group with their names and avatars, in the order they joined.
pub(crate) fn members(conn: &Connection, group_id: &str) -> rusqlite::Result<Vec<Member>> {
    let mut stmt = conn.prepare_cached(
        "SELECT gm.group_id, gm.user_id, gm.role, gm.joined_at, gm.added_by, u.username, u.avatar
         FROM group_members gm LEFT JOIN users u ON u.id = gm.user_id
         WHERE gm.group_id = ?1
         ORDER BY gm.joined_at ASC, gm.rowid ASC",
    )?;
    stmt.query_map([group_id], |row| {
        Ok(Member {
            group_id: row.get(0)?,
            user_id: row.get(1)?,
            role: row.get(2)?,
            joined_at: row.get(3)?,
            added_by: row.get(4)?,
            username: row.get(5)?,
            avatar: row.get(6)?,
        })
    })?
    .collect()
}

/// The user ids of a group's members.
pub(crate) fn member_ids(conn: &Connection, group_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM group_members WHERE group_id = ?1")?;
    stmt.query_map([group_id], |row| row.get(0))?.collect()
}

/// Stores a group message (`from_username` is not stored).
pub(crate) fn insert_message(conn: &Connection, m: &GroupMessage) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO group_messages (id, group_id, from_user, content, timestamp, type, imageData,
                                     system_event, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        m.id,
        m.group_id,
        m.from_user,
        m.content,
        m.timestamp,
        m.kind,
        m.image_data,
        m.system_event,
        m.metadata
    ])?;
    Ok(())
}

/// Whether a message with this id exists in this group.
pub(crate) fn message_exists(
    conn: &Connection,
    group_id: &str,
    message_id: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM group_messages WHERE id = ?1 AND group_id = ?2")?
        .exists(params![message_id, group_id])
}

/// Up to `limit` messages of a group sent at or after `since` (and before `before`), the
/// latest ones, returned oldest first.
pub(crate) fn messages(
    conn: &Connection,
    group_id: &str,
    since: i64,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<GroupMessage>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, m.group_id, m.from_user, m.content, m.timestamp, m.type, m.imageData,
                m.system_event, m.metadata, u.username
         FROM group_messages m LEFT JOIN users u ON u.id = m.from_user
         WHERE m.group_id = ?1 AND m.timestamp >= ?2 AND (?3 IS NULL OR m.timestamp < ?3)
         ORDER BY m.timestamp DESC, m.rowid DESC
         LIMIT ?4",
    )?;
    let mut rows = stmt
        .query_map(params![group_id, since, before, limit], |row| {
            Ok(GroupMessage {
                id: row.get(0)?,
                group_id: row.get(1)?,
                from_user: row.get(2)?,
                content: row.get(3)?,
                timestamp: row.get(4)?,
                kind: row.get(5)?,
                image_data: row.get(6)?,
                system_event: row.get(7)?,
                metadata: row.get(8)?,
                from_username: row.get(9)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.reverse();
    Ok(rows)
}

/// Records that a user read a group message.
pub(crate) fn mark_read(
    conn: &Connection,
    message_id: &str,
    user_id: &str,
    at: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO group_message_reads (message_id, user_id, read_at)
         VALUES (?1, ?2, ?3)",
    )?
    .execute(params![message_id, user_id, at])?;
    Ok(())
}

/// Stores an invite link.
pub(crate) fn insert_invite(conn: &Connection, i: &Invite) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO group_invite_links (id, group_id, link_code, created_by, created_at,
                                         expires_at, max_uses, uses)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        i.id,
        i.group_id,
        i.link_code,
        i.created_by,
        i.created_at,
        i.expires_at,
        i.max_uses,
        i.uses
    ])?;
    Ok(())
}

/// The invite link with this code.
pub(crate) fn invite_by_code(conn: &Connection, code: &str) -> rusqlite::Result<Option<Invite>> {
    conn.prepare_cached(
        "SELECT id, group_id, link_code, created_by, created_at, expires_at, max_uses, uses
         FROM group_invite_links WHERE link_code = ?1",
    )?
    .query_row([code], |row| {
        Ok(Invite {
            id: row.get(0)?,
            group_id: row.get(1)?,
            link_code: row.get(2)?,
            created_by: row.get(3)?,
            created_at: row.get(4)?,
            expires_at: row.get(5)?,
            max_uses: row.get(6)?,
            uses: row.get(7)?,
        })
    })
    .optional()
}

/// Counts one use of an invite link.
pub(crate) fn count_invite_use(conn: &Connection, invite_id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE group_invite_links SET uses = uses + 1 WHERE id = ?1")?
        .execute([invite_id])?;
    Ok(())
}

/// Deletes an invite link of a group.
pub(crate) fn delete_invite(
    conn: &Connection,
    group_id: &str,
    invite_id: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM group_invite_links WHERE id = ?1 AND group_id = ?2")?
        .execute(params![invite_id, group_id])?;
    Ok(())
}
