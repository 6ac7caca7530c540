//! `QuickChatClient`: the whole client for JavaScript — core's [`Client`] over the browser's
//! WebSocket, fetch, IndexedDB and timers.
//!
//! Every method that talks to the server or the store returns a `Promise`; failures reject
//! with a `QuickChatError` (see [`crate::error`]). Events arrive through
//! [`QuickChatClient::on_event`] callbacks and [`QuickChatClient::events`] async iterators.

use std::cell::Cell;
use std::rc::Rc;

use futures::channel::oneshot;
use futures::{FutureExt, StreamExt, pin_mut, select};
use quickchat_core::client::{Client, ClientError, Event, EventStream};
use quickchat_core::protocol::rest::{GroupSettings, UpdateGroupRequest};
use quickchat_core::store::{Conversation, MemoryStore, Store};
use serde::Serialize;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::*;

use super::options::{ParsedOptions, Storage};
use super::{from_js, promise, report_callback_error, to_js};
use crate::clock::WebClock;
use crate::error::{Error, Result};
use crate::handover::import_with;
use crate::import::WEB_CLIENT_DATABASE;
use crate::rng::WebRng;
use crate::store::IdbStore;
use crate::transport::WebTransport;

mod moving;

pub use moving::export_web_client_account;

/// Core's client with the browser's parts.
pub type CoreClient = Client<WebTransport, Box<dyn Store>, WebClock, WebRng>;

/// The default IndexedDB database of a client.
pub const DEFAULT_DATABASE: &str = "quickchat";

struct Inner {
    core: CoreClient,
    running: Cell<bool>,
    /// The IndexedDB store the core client also holds, to close it in `dispose()`.
    idb: Option<Rc<IdbStore>>,
    /// `importer(name, userId, now)`: the importer module's `importWebClient`.
    importer: Option<js_sys::Function>,
    /// `opener(file, passphrase)`: the importer module's `openAccountFile`.
    opener: Option<js_sys::Function>,
}

/// A Quick Chat client: account, encrypted messaging, images, typing, receipts, presence,
/// history with catch-up, fingerprints and verification, prekey care, groups, admin, and a
/// connection that reconnects with backoff. Create it with `QuickChatClient.create(options)`.
#[wasm_bindgen(js_name = QuickChatClient)]
pub struct QuickChatClient {
    inner: Rc<Inner>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserJson {
    user_id: String,
    username: String,
}

fn to_user(user: quickchat_core::client::CurrentUser) -> UserJson {
    UserJson {
        user_id: user.user_id,
        username: user.username,
    }
}

fn conversation_arg(value: &JsValue) -> Result<Conversation> {
    if let Some(peer) = value.as_string() {
        return Ok(Conversation::Direct(peer));
    }
    from_js(value, "conversation")
}

fn optional_i64(value: Option<f64>) -> Option<i64> {
    value.map(|v| v as i64)
}

#[wasm_bindgen(js_class = QuickChatClient)]
impl QuickChatClient {
    /// Opens the store (IndexedDB with the passphrase, or memory) and restores a saved
    /// login if there is one. Resolves to the client. `importer(name, userId, now)` is what
    /// `importWebClient` imports through: the package passes the importer module's
    /// `importWebClient` (see [`crate::handover`]), loaded on its first call;
    /// `opener(file, passphrase)`, what `importAccount` opens account files with, is that
    /// module's `openAccountFile`; `convertRecord(kind, record)`, what converts the JSON
    /// records of a store an older version left (this module does not read them), that
    /// module's `recordToBinary` (see the store's `json_records`).
    pub fn create(
        options: JsValue,
        importer: JsValue,
        opener: JsValue,
        convert_record: JsValue,
    ) -> js_sys::Promise {
        let importer = crate::realm::function(&importer);
        let opener = crate::realm::function(&opener);
        let converter =
            crate::realm::function(&convert_record).map(crate::handover::record_converter);
        promise(async move {
            let parsed = ParsedOptions::parse(&options)?;
            let transport = parsed.transport()?;
            let config = parsed.client_config()?;
            let mut idb = None;
            let store: Box<dyn Store> = match parsed.storage() {
                Storage::Memory => Box::new(MemoryStore::new()),
                Storage::Indexeddb => {
                    let passphrase = parsed.options.passphrase.as_deref().ok_or_else(|| {
                        Error::invalid("passphrase", "required with IndexedDB storage")
                    })?;
                    let name = parsed
                        .options
                        .database_name
                        .as_deref()
                        .unwrap_or(DEFAULT_DATABASE);
                    let opened = Rc::new(
                        IdbStore::open_with(name, passphrase, parsed.kdf()?, converter).await?,
                    );
                    idb = Some(Rc::clone(&opened));
                    Box::new(opened)
                }
            };
            let core = CoreClient::new(transport, store, WebClock, parsed.rng.clone(), config);
            core.restore().await?;
            let client = QuickChatClient {
                inner: Rc::new(Inner {
                    core,
                    running: Cell::new(false),
                    idb,
                    importer,
                    opener,
                }),
            };
            Ok(client.into())
        })
    }

    fn core(&self) -> Rc<Inner> {
        Rc::clone(&self.inner)
    }

    // ------------------------------------------------------------------ account

    /// Creates an account, makes this device's keys and publishes them. Resolves to
    /// `{userId, username}`.
    pub fn register(
        &self,
        username: String,
        password: String,
        avatar: Option<String>,
    ) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let user = inner
                .core
                .register(&username, &password, avatar.as_deref())
                .await?;
            to_js(&to_user(user))
        })
    }

    /// Logs in (making keys if the store has none). Resolves to `{userId, username}`.
    pub fn login(&self, username: String, password: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let user = inner.core.login(&username, &password).await?;
            to_js(&to_user(user))
        })
    }

    /// Logs in and, when the account's published keys belong to another device (which a
    /// plain `login` refuses with `keys_in_use_elsewhere`), replaces them with this store's:
    /// that device's sessions stop working and its peers see an identity change.
    #[wasm_bindgen(js_name = loginReplacingKeys)]
    pub fn login_replacing_keys(&self, username: String, password: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let user = inner
                .core
                .login_replacing_keys(&username, &password)
                .await?;
            to_js(&to_user(user))
        })
    }

    /// Forgets the login (keys and history stay) and closes the connection.
    pub fn logout(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.logout().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The signed-in user `{userId, username}`, or `null`.
    #[wasm_bindgen(js_name = currentUser)]
    pub fn current_user(&self) -> Result<JsValue, JsValue> {
        match self.inner.core.current_user() {
            Some(user) => Ok(to_js(&to_user(user))?),
            None => Ok(JsValue::NULL),
        }
    }

    /// Imports the reference web client's keys and sessions for `userId` from its IndexedDB
    /// database (`quick-chat-e2ee` unless named) into this client's store, which must not
    /// hold keys yet; call it before `login`. Resolves to a summary, or `null` when that
    /// database holds nothing for the user. The old database is not changed.
    #[wasm_bindgen(js_name = importWebClient)]
    pub fn import_web_client(
        &self,
        user_id: String,
        database_name: Option<String>,
    ) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let name = database_name.as_deref().unwrap_or(WEB_CLIENT_DATABASE);
            let importer = inner.importer.as_ref().ok_or_else(|| {
                Error::Unsupported("no importer: create the client through the package".into())
            })?;
            match import_with(importer, inner.core.store(), &user_id, name).await? {
                Some(summary) => to_js(&summary),
                None => Ok(JsValue::NULL),
            }
        })
    }

    // ------------------------------------------------------------------ connection

    /// Starts keeping the WebSocket up (reconnecting with backoff) until `close()`.
    pub fn connect(&self) {
        if self.inner.running.replace(true) {
            return;
        }
        let inner = self.core();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = inner.core.run().await;
            inner.running.set(false);
        });
    }

    /// `connect()`, then waits until the socket is up and history caught up (or the wait
    /// times out, default 10 s). Rejects at once if the connection stops for good, and with
    /// `account_moved` on a store whose account was exported.
    #[wasm_bindgen(js_name = connectAndWait)]
    pub fn connect_and_wait(&self, timeout_ms: Option<u32>) -> js_sys::Promise {
        let inner = self.core();
        let mut events = inner.core.subscribe();
        let already = inner.core.is_connected();
        self.connect();
        promise(async move {
            if already {
                return Ok(JsValue::UNDEFINED);
            }
            // A moved store never connects: say so with its own code, not as a stop.
            if let Some(moved_at) = inner.core.moved_at().await? {
                return Err(ClientError::AccountMoved { moved_at }.into());
            }
            let wait = async {
                events.until_ready().await.map_err(|reason| {
                    Error::Stopped(reason.unwrap_or_else(|| "the client was dropped".into()))
                })
            }
            .fuse();
            let timeout =
                gloo_timers::future::TimeoutFuture::new(timeout_ms.unwrap_or(10_000)).fuse();
            pin_mut!(wait, timeout);
            select! {
                result = wait => result.map(|()| JsValue::UNDEFINED),
                () = timeout => Err(Error::Timeout("the connection")),
            }
        })
    }

    /// Closes the socket and stops reconnecting. The store stays open: `connect()` may
    /// follow. See `dispose()` to let go of the store too.
    pub fn close(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.shutdown().await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// `close()`, then closes the IndexedDB store and releases its cross-tab lock, so
    /// another client (in this tab or another) can open the same database at once. The
    /// client is done: later calls that need the store reject.
    pub fn dispose(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.shutdown().await;
            if let Some(idb) = &inner.idb {
                idb.close();
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Whether the WebSocket is up and authenticated.
    #[wasm_bindgen(js_name = isConnected)]
    pub fn is_connected(&self) -> bool {
        self.inner.core.is_connected()
    }

    // ------------------------------------------------------------------ events

    /// Calls `callback(event)` for every event, in order, until the returned
    /// subscription's `unsubscribe()`. Events are `{type, ...fields}`.
    #[wasm_bindgen(js_name = onEvent)]
    pub fn on_event(&self, callback: js_sys::Function) -> Subscription {
        let stream = self.inner.core.subscribe();
        Subscription::spawn(stream, move |event| {
            if let Err(e) = callback.call1(&JsValue::NULL, &event) {
                report_callback_error(&e);
            }
        })
    }

    /// Events from now on as an async iterator (`for await (const event of
    /// client.events())`). Breaking out of the loop ends the subscription.
    pub fn events(&self) -> EventIterator {
        EventIterator::new(self.inner.core.subscribe())
    }

    // ------------------------------------------------------------------ messaging

    /// Sends text end-to-end encrypted. Saved before it goes out; waits in the outbox while
    /// offline. Resolves to the message record.
    #[wasm_bindgen(js_name = sendText)]
    pub fn send_text(&self, peer_id: String, text: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.send_text(&peer_id, &text).await?) })
    }

    /// Sends text without end-to-end encryption (the server can read it).
    #[wasm_bindgen(js_name = sendPlaintext)]
    pub fn send_plaintext(&self, peer_id: String, text: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.send_plaintext(&peer_id, &text).await?) })
    }

    /// Sends an image (a `data:image/...;base64,` URL) as the web client does.
    #[wasm_bindgen(js_name = sendImage)]
    pub fn send_image(&self, peer_id: String, data_url: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.send_image(&peer_id, &data_url).await?) })
    }

    /// Tells a peer this user is (or stopped) typing. Fails when offline.
    #[wasm_bindgen(js_name = setTyping)]
    pub fn set_typing(&self, peer_id: String, typing: bool) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.set_typing(&peer_id, typing).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Marks messages from a peer as read (locally, on the server, and with a receipt).
    #[wasm_bindgen(js_name = markRead)]
    pub fn mark_read(&self, peer_id: String, message_ids: Vec<String>) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.mark_read(&peer_id, &message_ids).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    // ------------------------------------------------------------------ history

    /// The page of up to `limit` messages before `oldest` (the first message of the page
    /// shown, as `history` returned it), oldest first. Unlike paging by time, nothing is
    /// skipped when several messages share a millisecond.
    #[wasm_bindgen(js_name = historyBefore)]
    pub fn history_before(
        &self,
        conversation: JsValue,
        oldest: JsValue,
        limit: Option<u32>,
    ) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let conversation = conversation_arg(&conversation)?;
            let oldest: quickchat_core::store::MessageRecord = from_js(&oldest, "oldest")?;
            let page = inner
                .core
                .history_before(&conversation, &oldest, limit.unwrap_or(50) as usize)
                .await?;
            to_js(&page)
        })
    }

    /// Up to `limit` messages of a conversation (a peer id, or `{kind, id}`) older than
    /// `before` (ms), oldest first.
    pub fn history(
        &self,
        conversation: JsValue,
        before: Option<f64>,
        limit: Option<u32>,
    ) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let conversation = conversation_arg(&conversation)?;
            let page = inner
                .core
                .history(
                    &conversation,
                    optional_i64(before),
                    limit.unwrap_or(50) as usize,
                )
                .await?;
            to_js(&page)
        })
    }

    /// Every conversation with local history, the most recent first:
    /// `{conversation, lastMessage, unread}`.
    pub fn conversations(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Summary {
                conversation: Conversation,
                last_message: quickchat_core::store::MessageRecord,
                unread: usize,
            }
            let list: Vec<Summary> = inner
                .core
                .conversations()
                .await?
                .into_iter()
                .map(|c| Summary {
                    conversation: c.id,
                    last_message: c.last_message,
                    unread: c.unread,
                })
                .collect();
            to_js(&list)
        })
    }

    /// Messages containing `text` (case-insensitive), newest `limit`, oldest first; within
    /// one conversation if given.
    pub fn search(
        &self,
        text: String,
        limit: Option<u32>,
        conversation: JsValue,
    ) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let limit = limit.unwrap_or(50) as usize;
            let found = if conversation.is_undefined() || conversation.is_null() {
                inner.core.search(&text, limit).await?
            } else {
                let conversation = conversation_arg(&conversation)?;
                inner.core.search_in(&conversation, &text, limit).await?
            };
            to_js(&found)
        })
    }

    /// One message by id, or `null`.
    pub fn message(&self, id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            match inner.core.message(&id).await? {
                Some(record) => to_js(&record),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Fetches what was missed (from one peer, or everyone) and resolves to how many
    /// messages were new. The connection does this after every (re)connect.
    #[wasm_bindgen(js_name = catchUp)]
    pub fn catch_up(&self, peer_id: Option<String>) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let new = match peer_id {
                Some(peer) => inner.core.catch_up_with(&peer).await?,
                None => inner.core.catch_up().await?,
            };
            Ok(JsValue::from(new as u32))
        })
    }

    // ------------------------------------------------------------------ users

    /// Every user `{id, username, avatar, lastSeen}`.
    pub fn users(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.users().await?) })
    }

    /// The user with this exact name, or this id.
    #[wasm_bindgen(js_name = findUser)]
    pub fn find_user(&self, name_or_id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.find_user(&name_or_id).await?) })
    }

    /// Who is online `[{userId, username}]` (empty while disconnected).
    #[wasm_bindgen(js_name = onlineUsers)]
    pub fn online_users(&self) -> Result<JsValue, JsValue> {
        let users: Vec<UserJson> = self
            .inner
            .core
            .online_users()
            .into_iter()
            .map(|u| UserJson {
                user_id: u.user_id,
                username: u.username,
            })
            .collect();
        Ok(to_js(&users)?)
    }

    /// Whether a user is online.
    #[wasm_bindgen(js_name = isOnline)]
    pub fn is_online(&self, user_id: String) -> bool {
        self.inner.core.is_online(&user_id)
    }

    // ------------------------------------------------------------------ keys and trust

    /// This device's fingerprint (60 upper-case hex characters).
    pub fn fingerprint(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { Ok(JsValue::from_str(inner.core.fingerprint().await?.as_str())) })
    }

    /// A peer's fingerprint (starts the session with a new peer).
    #[wasm_bindgen(js_name = peerFingerprint)]
    pub fn peer_fingerprint(&self, peer_id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            Ok(JsValue::from_str(
                inner.core.peer_fingerprint(&peer_id).await?.as_str(),
            ))
        })
    }

    /// Records that the user compared and confirmed a peer's fingerprint (`method`: e.g.
    /// `"qr_code"` or `"manual"`); also accepts a pending identity change. Resolves to the
    /// fingerprint.
    #[wasm_bindgen(js_name = verifyPeer)]
    pub fn verify_peer(&self, peer_id: String, method: Option<String>) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            Ok(JsValue::from_str(
                inner
                    .core
                    .verify_peer(&peer_id, method.as_deref())
                    .await?
                    .as_str(),
            ))
        })
    }

    /// Withdraws a verification.
    #[wasm_bindgen(js_name = unverifyPeer)]
    pub fn unverify_peer(&self, peer_id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.unverify_peer(&peer_id).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// `{currentFingerprint, verifiedFingerprint, verifiedAt, method, verified,
    /// changePending}` for a peer.
    pub fn verification(&self, peer_id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Verification {
                current_fingerprint: String,
                verified_fingerprint: Option<String>,
                verified_at: Option<i64>,
                method: Option<String>,
                verified: bool,
                change_pending: bool,
            }
            let v = inner.core.verification(&peer_id).await?;
            to_js(&Verification {
                current_fingerprint: v.current_fingerprint.as_str().to_string(),
                verified_fingerprint: v.verified_fingerprint,
                verified_at: v.verified_at,
                method: v.method,
                verified: v.verified,
                change_pending: v.change_pending,
            })
        })
    }

    /// Accepts a peer's changed identity key without verifying it (allows sending again).
    #[wasm_bindgen(js_name = acceptIdentity)]
    pub fn accept_identity(&self, peer_id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.accept_identity(&peer_id).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// What the server holds of this account's prekeys:
    /// `{signedPrekeyKeyId, signedPrekeyCreatedAt, oneTimePrekeyCount}`.
    #[wasm_bindgen(js_name = prekeyStatus)]
    pub fn prekey_status(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.prekey_status().await?) })
    }

    /// Prekey upkeep now: rotates the signed prekey when due, tops one-time prekeys up,
    /// publishes what is new. The connection does this after every connect and periodically.
    #[wasm_bindgen(js_name = maintainPrekeys)]
    pub fn maintain_prekeys(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.maintain_prekeys().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Throws away this device's keys and sessions and publishes a new identity (history
    /// stays; peers see an identity change).
    #[wasm_bindgen(js_name = resetE2EE)]
    pub fn reset_e2ee(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.reset_e2ee().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    // ------------------------------------------------------------------ groups

    /// Creates a group with this user as owner: `{id, name, owner_id, created_at, settings}`.
    #[wasm_bindgen(js_name = createGroup)]
    pub fn create_group(
        &self,
        name: String,
        member_ids: Vec<String>,
        description: Option<String>,
        settings: JsValue,
    ) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let settings: Option<GroupSettings> = from_js(&settings, "settings")?;
            to_js(
                &inner
                    .core
                    .create_group(&name, description.as_deref(), &member_ids, settings)
                    .await?,
            )
        })
    }

    /// The groups this user belongs to.
    pub fn groups(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.groups().await?) })
    }

    /// One group's details.
    pub fn group(&self, group_id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.group(&group_id).await?) })
    }

    /// Changes a group's `{name?, description?, avatar?, settings?}`.
    #[wasm_bindgen(js_name = updateGroup)]
    pub fn update_group(&self, group_id: String, update: JsValue) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let update: UpdateGroupRequest = from_js(&update, "group update")?;
            to_js(&inner.core.update_group(&group_id, &update).await?)
        })
    }

    /// A group's members.
    #[wasm_bindgen(js_name = groupMembers)]
    pub fn group_members(&self, group_id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.group_members(&group_id).await?) })
    }

    /// Adds members (admins and the owner only).
    #[wasm_bindgen(js_name = addGroupMembers)]
    pub fn add_group_members(&self, group_id: String, user_ids: Vec<String>) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.add_group_members(&group_id, &user_ids).await?) })
    }

    /// Removes a member (admins and the owner only).
    #[wasm_bindgen(js_name = removeGroupMember)]
    pub fn remove_group_member(&self, group_id: String, user_id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.remove_group_member(&group_id, &user_id).await?) })
    }

    /// Leaves a group (the owner cannot).
    #[wasm_bindgen(js_name = leaveGroup)]
    pub fn leave_group(&self, group_id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.leave_group(&group_id).await?) })
    }

    /// Makes a member `"admin"` or `"member"` (the owner only).
    #[wasm_bindgen(js_name = setGroupRole)]
    pub fn set_group_role(
        &self,
        group_id: String,
        user_id: String,
        role: String,
    ) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            to_js(
                &inner
                    .core
                    .set_group_role(&group_id, &user_id, &role)
                    .await?,
            )
        })
    }

    /// Creates an invite code `{id, link_code, expires_at, max_uses}`.
    #[wasm_bindgen(js_name = createInvite)]
    pub fn create_invite(
        &self,
        group_id: String,
        expires_in_ms: Option<f64>,
        max_uses: Option<u32>,
    ) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            to_js(
                &inner
                    .core
                    .create_invite(&group_id, optional_i64(expires_in_ms), max_uses)
                    .await?,
            )
        })
    }

    /// Revokes an invite.
    #[wasm_bindgen(js_name = revokeInvite)]
    pub fn revoke_invite(&self, group_id: String, invite_id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.revoke_invite(&group_id, &invite_id).await?) })
    }

    /// Joins a group with an invite code: `{success, group_id}`.
    #[wasm_bindgen(js_name = joinGroup)]
    pub fn join_group(&self, link_code: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.join_group(&link_code).await?) })
    }

    /// Fetches group history from the server, stores what is new, resolves to the page.
    #[wasm_bindgen(js_name = groupHistory)]
    pub fn group_history(
        &self,
        group_id: String,
        limit: Option<u32>,
        before: Option<f64>,
    ) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            to_js(
                &inner
                    .core
                    .group_history(&group_id, limit, optional_i64(before))
                    .await?,
            )
        })
    }

    /// Sends text to a group (group messages are not end-to-end encrypted on this
    /// platform, as in the web client).
    #[wasm_bindgen(js_name = sendGroupText)]
    pub fn send_group_text(&self, group_id: String, text: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.send_group_text(&group_id, &text).await?) })
    }

    /// Sends an image to a group.
    #[wasm_bindgen(js_name = sendGroupImage)]
    pub fn send_group_image(&self, group_id: String, data_url: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.send_group_image(&group_id, &data_url).await?) })
    }

    /// Tells a group this user is (or stopped) typing.
    #[wasm_bindgen(js_name = setGroupTyping)]
    pub fn set_group_typing(&self, group_id: String, typing: bool) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.set_group_typing(&group_id, typing).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Records that this user read a group message.
    #[wasm_bindgen(js_name = markGroupRead)]
    pub fn mark_group_read(&self, group_id: String, message_id: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.mark_group_read(&group_id, &message_id).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Relays an application-defined event (`extra` fields included) to the group.
    #[wasm_bindgen(js_name = sendGroupEvent)]
    pub fn send_group_event(
        &self,
        group_id: String,
        event: String,
        extra: JsValue,
    ) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let extra: Option<serde_json::Map<String, serde_json::Value>> =
                from_js(&extra, "event fields")?;
            inner
                .core
                .send_group_event(&group_id, &event, extra.unwrap_or_default())
                .await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    // ------------------------------------------------------------------ admin

    /// Every user with role, flags and timestamps (admins only).
    #[wasm_bindgen(js_name = adminUsers)]
    pub fn admin_users(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.admin_users().await?) })
    }

    /// Enables or disables a user (admins only).
    #[wasm_bindgen(js_name = setUserActive)]
    pub fn set_user_active(&self, user_id: String, active: bool) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.set_user_active(&user_id, active).await?) })
    }

    /// Allows or forbids a user to send images (admins only).
    #[wasm_bindgen(js_name = setImagePermission)]
    pub fn set_image_permission(&self, user_id: String, allowed: bool) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.set_image_permission(&user_id, allowed).await?) })
    }

    /// Sets a user's role, `"user"` or `"admin"` (admins only).
    #[wasm_bindgen(js_name = setUserRole)]
    pub fn set_user_role(&self, user_id: String, role: String) -> js_sys::Promise {
        let inner = self.core();
        promise(async move { to_js(&inner.core.set_user_role(&user_id, &role).await?) })
    }
}

impl QuickChatClient {
    /// Core's client, for Rust callers (tests, other crates).
    pub fn core_client(&self) -> &CoreClient {
        &self.inner.core
    }
}

/// An event as JavaScript sees it: `{type, ...fields}`.
pub(crate) fn event_to_js(event: &Event) -> JsValue {
    to_js(event).unwrap_or_else(JsValue::from)
}

/// A subscription to a client's events through a callback.
#[wasm_bindgen]
pub struct Subscription {
    stop: Option<oneshot::Sender<()>>,
}

impl Subscription {
    fn spawn(mut stream: EventStream, mut deliver: impl FnMut(JsValue) + 'static) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        wasm_bindgen_futures::spawn_local(async move {
            // Only `unsubscribe()` stops the callbacks. The JavaScript side often drops the
            // returned subscription (`client.onEvent(f)` as a statement); when the garbage
            // collector then frees it, the sender is dropped, and that must not end delivery.
            let mut stopped = Some(stopped);
            loop {
                let Some(mut waiting) = stopped.as_mut() else {
                    match stream.next().await {
                        Some(event) => deliver(event_to_js(&event)),
                        None => break,
                    }
                    continue;
                };
                let next = stream.next().fuse();
                pin_mut!(next);
                let signal = select! {
                    event = next => {
                        match event {
                            Some(event) => deliver(event_to_js(&event)),
                            None => break,
                        }
                        continue;
                    }
                    signal = waiting => signal,
                };
                match signal {
                    Ok(()) => break,
                    Err(oneshot::Canceled) => stopped = None,
                }
            }
        });
        Self { stop: Some(stop) }
    }
}

#[wasm_bindgen]
impl Subscription {
    /// Stops the callbacks.
    pub fn unsubscribe(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A client's events as an async iterator (the package adds `Symbol.asyncIterator`).
#[wasm_bindgen]
pub struct EventIterator {
    stream: Rc<futures::lock::Mutex<Option<EventStream>>>,
    stop: std::cell::RefCell<Option<oneshot::Sender<()>>>,
    stopped: futures::future::Shared<oneshot::Receiver<()>>,
}

impl EventIterator {
    fn new(stream: EventStream) -> Self {
        let (stop, stopped) = oneshot::channel();
        Self {
            stream: Rc::new(futures::lock::Mutex::new(Some(stream))),
            stop: std::cell::RefCell::new(Some(stop)),
            stopped: stopped.shared(),
        }
    }
}

fn iterator_result(value: &JsValue, done: bool) -> JsValue {
    let result = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&result, &"value".into(), value);
    let _ = js_sys::Reflect::set(&result, &"done".into(), &JsValue::from(done));
    result.into()
}

#[wasm_bindgen]
impl EventIterator {
    /// The next event: `{value: event, done: false}`, or `{done: true}` once ended.
    pub fn next(&self) -> js_sys::Promise {
        let stream = Rc::clone(&self.stream);
        let stopped = self.stopped.clone();
        promise(async move {
            let mut guard = stream.lock().await;
            let event = match guard.as_mut() {
                Some(events) => {
                    let next = events.next().fuse();
                    let stopped = stopped.fuse();
                    pin_mut!(next, stopped);
                    select! {
                        event = next => event,
                        _ = stopped => None,
                    }
                }
                None => None,
            };
            Ok(match event {
                Some(event) => iterator_result(&event_to_js(&event), false),
                None => {
                    *guard = None;
                    iterator_result(&JsValue::UNDEFINED, true)
                }
            })
        })
    }

    /// Ends the iteration (called by `break` in a `for await` loop); a pending `next()`
    /// resolves as done.
    #[wasm_bindgen(js_name = return)]
    pub fn finish(&self) -> js_sys::Promise {
        if let Some(stop) = self.stop.borrow_mut().take() {
            let _ = stop.send(());
        }
        let stream = Rc::clone(&self.stream);
        promise(async move {
            stream.lock().await.take();
            Ok(iterator_result(&JsValue::UNDEFINED, true))
        })
    }
}
