-- The backend's tables (D1 is SQLite), with the column names its JSON shows.
-- Every statement is idempotent: opening an existing database keeps its data.

CREATE TABLE IF NOT EXISTS users (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    avatar          TEXT,
    lastSeen        INTEGER NOT NULL,
    role            TEXT NOT NULL DEFAULT 'user',
    is_active       INTEGER NOT NULL DEFAULT 1,
    can_send_images INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    disabled_at     INTEGER,
    disabled_by     TEXT
);

CREATE TABLE IF NOT EXISTS messages (
    id        TEXT PRIMARY KEY,
    fromUser  TEXT NOT NULL,
    toUser    TEXT NOT NULL,
    content   TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    status    TEXT NOT NULL DEFAULT 'sent',
    readAt    INTEGER,
    type      TEXT NOT NULL DEFAULT 'text',
    imageData TEXT,
    encrypted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_pair ON messages (fromUser, toUser, timestamp);

CREATE TABLE IF NOT EXISTS user_identity_keys (
    user_id      TEXT PRIMARY KEY,
    identity_key TEXT NOT NULL,
    signing_key  TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS user_prekeys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL,
    key_id     INTEGER NOT NULL,
    key_type   TEXT NOT NULL CHECK (key_type IN ('signed', 'one_time')),
    public_key TEXT NOT NULL,
    signature  TEXT,
    created_at INTEGER NOT NULL,
    is_used    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, key_id, key_type)
);
CREATE INDEX IF NOT EXISTS user_prekeys_unused ON user_prekeys (user_id, key_type, is_used, key_id);

CREATE TABLE IF NOT EXISTS groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    avatar      TEXT,
    owner_id    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    settings    TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS group_members (
    group_id  TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    role      TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at INTEGER NOT NULL,
    added_by  TEXT,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX IF NOT EXISTS group_members_by_user ON group_members (user_id);

CREATE TABLE IF NOT EXISTS group_messages (
    id           TEXT PRIMARY KEY,
    group_id     TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    from_user    TEXT NOT NULL,
    content      TEXT NOT NULL,
    timestamp    INTEGER NOT NULL,
    type         TEXT NOT NULL DEFAULT 'text',
    imageData    TEXT,
    system_event TEXT,
    metadata     TEXT
);
CREATE INDEX IF NOT EXISTS group_messages_by_group ON group_messages (group_id, timestamp);

CREATE TABLE IF NOT EXISTS group_message_reads (
    message_id TEXT NOT NULL REFERENCES group_messages (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    read_at    INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id)
);

CREATE TABLE IF NOT EXISTS group_invite_links (
    id         TEXT PRIMARY KEY,
    group_id   TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    link_code  TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    max_uses   INTEGER,
    uses       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS key_verification (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    verifier_id          TEXT NOT NULL,
    verified_user_id     TEXT NOT NULL,
    verified_fingerprint TEXT NOT NULL,
    verified_at          INTEGER NOT NULL,
    verification_method  TEXT NOT NULL,
    UNIQUE (verifier_id, verified_user_id)
);
