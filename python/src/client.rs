//! `NativeClient`: the native [`quickchat::Client`] for Python. Every operation returns an
//! awaitable whose work runs on the package's tokio runtime without the GIL; cancelling
//! the awaitable drops the Rust future (the client's operations are cancellation-safe:
//! a send is saved before it goes out, or not at all).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use quickchat::quickchat_core::keys::Fingerprint;
use quickchat::quickchat_core::store::Store;
use quickchat::store::{Durability, KdfStrength, StoreOptions};
use quickchat::{Client, ClientConfig, ClientError, Conversation as ConversationId, Pacing};

use crate::bridge::spawn;
use crate::errors::{from_client, from_native, invalid};
use crate::events::EventStream;
use crate::models::{Conversation, Group, GroupMember, Message, PrekeyStatus, SessionInfo, User};

/// Peer names and ids already resolved to user ids, so that a reply costs no look-up.
pub(crate) type PeerCache = Arc<Mutex<HashMap<String, String>>>;

/// Past this many entries the cache starts afresh (a bot that met very many peers).
const MAX_CACHED_PEERS: usize = 10_000;

/// Records that `name_or_id` is the user `id`.
pub(crate) fn remember_peer(peers: &PeerCache, name_or_id: &str, id: &str) {
    let mut peers = peers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if peers.get(name_or_id).is_some_and(|known| known == id) {
        return;
    }
    if peers.len() >= MAX_CACHED_PEERS {
        peers.clear();
    }
    peers.insert(name_or_id.to_string(), id.to_string());
}

fn cached_peer(peers: &PeerCache, name_or_id: &str) -> Option<String> {
    peers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(name_or_id)
        .cloned()
}

/// The client and what the binding keeps beside it.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) peers: PeerCache,
}

impl Shared {
    /// The user id of `peer` (a user id or a user name).
    async fn resolve(&self, peer: &str) -> PyResult<String> {
        if peer.trim().is_empty() {
            return Err(invalid("the peer is empty: give a user id or a user name"));
        }
        if let Some(id) = cached_peer(&self.peers, peer) {
            return Ok(id);
        }
        let user = self.client.find_user(peer).await.map_err(from_client)?;
        remember_peer(&self.peers, peer, &user.id);
        remember_peer(&self.peers, &user.id, &user.id);
        Ok(user.id)
    }

    async fn resolve_all(&self, peers: &[String]) -> PyResult<Vec<String>> {
        let mut ids = Vec::with_capacity(peers.len());
        for peer in peers {
            ids.push(self.resolve(peer).await?);
        }
        Ok(ids)
    }

    fn me(&self) -> Option<String> {
        self.client.current_user().map(|user| user.user_id)
    }

    fn messages(&self, records: Vec<quickchat::MessageRecord>) -> Vec<Message> {
        let me = self.me();
        records
            .into_iter()
            .map(|record| Message::new(record, me.as_deref()))
            .collect()
    }
}

/// Where a `NativeClient` keeps its client until `close()` takes it out: operations clone
/// it while they run, so the store closes once the last running one ends.
pub(crate) type ClientSlot = Arc<Mutex<Option<Shared>>>;

/// The client in the slot, unless it was closed.
pub(crate) fn current(slot: &ClientSlot) -> Option<Shared> {
    slot.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// The native client (platform-native's `Client`): its store, connection and operations.
/// Used through `quickchat.WhatsAppClient`; each method is documented there.
#[pyclass(frozen, module = "quickchat._quickchat")]
pub(crate) struct NativeClient {
    slot: ClientSlot,
    events: Arc<tokio::sync::Mutex<quickchat::EventStream>>,
}

impl NativeClient {
    /// The client, or `ConnectionError` (`closed`) after `close()`.
    fn shared(&self) -> PyResult<Shared> {
        current(&self.slot)
            .ok_or_else(|| crate::errors::raise("closed".into(), "the client is closed".into()))
    }

    /// The native client inside (for the bench's Rust-only bot).
    pub(crate) fn client(&self) -> PyResult<Client> {
        Ok(self.shared()?.client)
    }
}

/// Store settings from the Python arguments.
fn store_options(kdf: &str, durability: &str) -> PyResult<StoreOptions> {
    let kdf = match kdf {
        "recommended" => KdfStrength::Recommended,
        "insecure-for-tests" => KdfStrength::InsecureForTests,
        other => {
            return Err(invalid(format!(
                "kdf must be \"recommended\" or \"insecure-for-tests\", not {other:?}"
            )));
        }
    };
    let durability = match durability {
        "immediate" => Durability::Immediate,
        "deferred" => Durability::Deferred,
        other => {
            return Err(invalid(format!(
                "durability must be \"immediate\" or \"deferred\", not {other:?}"
            )));
        }
    };
    Ok(StoreOptions::new().kdf(kdf).durability(durability))
}

#[pymethods]
impl NativeClient {
    /// Opens the store (or memory) and restores a saved login; an awaitable of the client.
    #[staticmethod]
    #[pyo3(signature = (server_url, storage_path=None, passphrase=None, *, pacing=true,
        kdf="recommended", durability="immediate", allow_plaintext_to=Vec::new(),
        reconnect_delay_ms=None))]
    #[allow(clippy::too_many_arguments)]
    fn open<'py>(
        py: Python<'py>,
        server_url: String,
        storage_path: Option<PathBuf>,
        passphrase: Option<String>,
        pacing: bool,
        kdf: &str,
        durability: &str,
        allow_plaintext_to: Vec<String>,
        reconnect_delay_ms: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = store_options(kdf, durability)?;
        let mut config = ClientConfig::default();
        if !pacing {
            config.pacing = Pacing::off();
        }
        if let Some(delay) = reconnect_delay_ms {
            config.backoff.initial_ms = delay;
            config.backoff.max_ms = config.backoff.max_ms.max(delay);
        }
        config.plaintext_allowed.extend(allow_plaintext_to);
        let mut builder = Client::builder()
            .server(server_url)
            .config(config)
            .store_options(options);
        builder = match storage_path {
            Some(path) => {
                let passphrase = passphrase
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| invalid("a store file needs a passphrase"))?;
                builder.store_path(path).passphrase(passphrase)
            }
            None => builder.in_memory(),
        };
        spawn(py, async move {
            let client = builder.build().await.map_err(from_native)?;
            let events = Arc::new(tokio::sync::Mutex::new(client.subscribe()));
            let peers = PeerCache::default();
            Ok(NativeClient {
                slot: Arc::new(Mutex::new(Some(Shared { client, peers }))),
                events,
            })
        })
    }

    /// The client's events, in batches (see `EventStream.next_batch`).
    fn events(&self) -> EventStream {
        EventStream::new(Arc::clone(&self.events), Arc::clone(&self.slot))
    }

    /// The signed-in user, if any.
    fn current_user(&self) -> Option<User> {
        current(&self.slot)?.client.current_user().map(User::from)
    }

    /// Whether the WebSocket is up and authenticated.
    fn is_connected(&self) -> bool {
        current(&self.slot).is_some_and(|shared| shared.client.is_connected())
    }

    /// Starts keeping the connection up in the background (does nothing if it runs).
    fn connect(&self) -> PyResult<()> {
        let shared = self.shared()?;
        let _runtime = pyo3_async_runtimes::tokio::get_runtime().enter();
        shared.client.connect();
        Ok(())
    }

    /// Connects and waits until the socket is up and history caught up.
    fn connect_and_wait<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        let timeout = duration(timeout)?;
        let shared = self.shared()?;
        spawn(py, async move {
            shared
                .client
                .connect_and_wait(timeout)
                .await
                .map_err(from_native)
        })
    }

    /// Closes the socket, stops reconnecting, waits for the connection task and lets go
    /// of the store (once operations still running end). Later calls raise `closed`.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let taken = self
            .slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        spawn(py, async move {
            if let Some(shared) = taken {
                shared.client.close().await;
            }
            Ok(())
        })
    }

    #[pyo3(signature = (username, password, avatar=None))]
    fn register<'py>(
        &self,
        py: Python<'py>,
        username: String,
        password: String,
        avatar: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let user = shared
                .client
                .register(&username, &password, avatar.as_deref())
                .await
                .map_err(from_client)?;
            Ok(User::from(user))
        })
    }

    #[pyo3(signature = (username, password, replace_keys=false))]
    fn login<'py>(
        &self,
        py: Python<'py>,
        username: String,
        password: String,
        replace_keys: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let user = if replace_keys {
                shared
                    .client
                    .login_replacing_keys(&username, &password)
                    .await
            } else {
                shared.client.login(&username, &password).await
            }
            .map_err(from_client)?;
            Ok(User::from(user))
        })
    }

    fn logout<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            shared.client.logout().await.map_err(from_client)
        })
    }

    /// The account sealed under `passphrase` (bytes); marks this store moved.
    #[pyo3(signature = (passphrase, history = false))]
    fn export_account<'py>(
        &self,
        py: Python<'py>,
        passphrase: String,
        history: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        let passphrase = zeroize::Zeroizing::new(passphrase);
        spawn(py, async move {
            let options = quickchat::ExportOptions {
                history,
                ..quickchat::ExportOptions::default()
            };
            let file = shared
                .client
                .export_account(&passphrase, options)
                .await
                .map_err(from_client)?;
            Ok(std::borrow::Cow::<'static, [u8]>::Owned(file))
        })
    }

    /// Imports an account file; returns its user id.
    #[pyo3(signature = (file, passphrase, replace = false))]
    fn import_account<'py>(
        &self,
        py: Python<'py>,
        file: Vec<u8>,
        passphrase: String,
        replace: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        let passphrase = zeroize::Zeroizing::new(passphrase);
        spawn(py, async move {
            let imported = shared
                .client
                .import_account(&file, &passphrase, quickchat::ImportOptions { replace })
                .await
                .map_err(from_client)?;
            Ok(imported.user_id().to_string())
        })
    }

    /// Clears the moved mark an export left.
    fn reactivate_account<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            shared
                .client
                .reactivate_account()
                .await
                .map_err(from_client)
        })
    }

    fn list_users<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let users = shared.client.users().await.map_err(from_client)?;
            Ok(users.into_iter().map(User::from).collect::<Vec<_>>())
        })
    }

    /// The user with this name or id, or `None`.
    fn find_user<'py>(&self, py: Python<'py>, name_or_id: String) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            if name_or_id.trim().is_empty() {
                return Err(invalid("the user name or id is empty"));
            }
            match shared.client.find_user(&name_or_id).await {
                Ok(user) => {
                    remember_peer(&shared.peers, &name_or_id, &user.id);
                    Ok(Some(User::from(user)))
                }
                Err(ClientError::UnknownUser { .. }) => Ok(None),
                Err(e) => Err(from_client(e)),
            }
        })
    }

    fn online_users(&self) -> PyResult<Vec<User>> {
        Ok(self
            .shared()?
            .client
            .online_users()
            .into_iter()
            .map(User::from)
            .collect())
    }

    fn is_online<'py>(&self, py: Python<'py>, peer: String) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&peer).await?;
            Ok(shared.client.is_online(&id))
        })
    }

    fn prekey_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let status = shared.client.prekey_status().await.map_err(from_client)?;
            Ok(PrekeyStatus::from(status))
        })
    }

    fn maintain_prekeys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            shared.client.maintain_prekeys().await.map_err(from_client)
        })
    }

    fn reset_e2ee<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            shared.client.reset_e2ee().await.map_err(from_client)
        })
    }

    /// Sends text, end-to-end encrypted (`encrypt=False`: in plaintext).
    #[pyo3(signature = (peer, text, encrypt=true))]
    fn send_text<'py>(
        &self,
        py: Python<'py>,
        peer: String,
        text: String,
        encrypt: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&peer).await?;
            let sent = if encrypt {
                shared.client.send_text(&id, &text).await
            } else {
                shared.client.send_plaintext(&id, &text).await
            }
            .map_err(from_client)?;
            Ok(Message::new(sent, shared.me().as_deref()))
        })
    }

    fn send_image<'py>(
        &self,
        py: Python<'py>,
        peer: String,
        data_url: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&peer).await?;
            let sent = shared
                .client
                .send_image(&id, &data_url)
                .await
                .map_err(from_client)?;
            Ok(Message::new(sent, shared.me().as_deref()))
        })
    }

    fn set_typing<'py>(
        &self,
        py: Python<'py>,
        peer: String,
        typing: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&peer).await?;
            shared
                .client
                .set_typing(&id, typing)
                .await
                .map_err(from_client)
        })
    }

    fn mark_read<'py>(
        &self,
        py: Python<'py>,
        peer: String,
        message_ids: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&peer).await?;
            shared
                .client
                .mark_read(&id, &message_ids)
                .await
                .map_err(from_client)
        })
    }

    fn catch_up<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            shared.client.catch_up().await.map_err(from_client)
        })
    }

    /// Up to `limit` messages with a peer older than `before` (ms), oldest first.
    #[pyo3(signature = (peer, limit, before=None))]
    fn history<'py>(
        &self,
        py: Python<'py>,
        peer: String,
        limit: usize,
        before: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&peer).await?;
            let records = shared
                .client
                .history(&ConversationId::Direct(id), before, limit)
                .await
                .map_err(from_client)?;
            Ok(shared.messages(records))
        })
    }

    fn conversations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let summaries = shared.client.conversations().await.map_err(from_client)?;
            let me = shared.me();
            Ok(summaries
                .into_iter()
                .map(|summary| Conversation::new(summary, me.as_deref()))
                .collect::<Vec<_>>())
        })
    }

    /// Messages containing `text` (case-insensitive), in one conversation with `peer`.
    #[pyo3(signature = (text, limit, peer=None))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        text: String,
        limit: usize,
        peer: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let records = match peer {
                Some(peer) => {
                    let id = shared.resolve(&peer).await?;
                    shared
                        .client
                        .search_in(&ConversationId::Direct(id), &text, limit)
                        .await
                }
                None => shared.client.search(&text, limit).await,
            }
            .map_err(from_client)?;
            Ok(shared.messages(records))
        })
    }

    fn message<'py>(&self, py: Python<'py>, message_id: String) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let record = shared
                .client
                .message(&message_id)
                .await
                .map_err(from_client)?;
            let me = shared.me();
            Ok(record.map(|record| Message::new(record, me.as_deref())))
        })
    }

    fn fingerprint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let fingerprint = shared.client.fingerprint().await.map_err(from_client)?;
            Ok(fingerprint.as_str().to_string())
        })
    }

    fn peer_fingerprint<'py>(&self, py: Python<'py>, peer: String) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&peer).await?;
            let fingerprint = shared
                .client
                .peer_fingerprint(&id)
                .await
                .map_err(from_client)?;
            Ok(fingerprint.as_str().to_string())
        })
    }

    /// Verifies the peer's current key, after checking it has the fingerprint `expected`
    /// (when given); returns the fingerprint.
    #[pyo3(signature = (peer, expected=None, method=None))]
    fn verify_peer<'py>(
        &self,
        py: Python<'py>,
        peer: String,
        expected: Option<String>,
        method: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let expected = expected.as_deref().map(parse_fingerprint).transpose()?;
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&peer).await?;
            if let Some(expected) = expected {
                let current = shared
                    .client
                    .peer_fingerprint(&id)
                    .await
                    .map_err(from_client)?;
                if current != expected {
                    return Err(crate::errors::raise(
                        "fingerprint_mismatch".into(),
                        format!(
                            "{peer}'s fingerprint is {}, not the one given ({})",
                            current.grouped(),
                            expected.grouped()
                        ),
                    ));
                }
            }
            let fingerprint = shared
                .client
                .verify_peer(&id, method.as_deref())
                .await
                .map_err(from_client)?;
            Ok(fingerprint.as_str().to_string())
        })
    }

    fn unverify_peer<'py>(&self, py: Python<'py>, peer: String) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&peer).await?;
            shared.client.unverify_peer(&id).await.map_err(from_client)
        })
    }

    /// Whether the peer's current key is verified (locally and as the server recorded).
    fn is_verified<'py>(&self, py: Python<'py>, peer: String) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&peer).await?;
            let verification = shared.client.verification(&id).await.map_err(from_client)?;
            Ok(verification.verified)
        })
    }

    fn accept_identity<'py>(&self, py: Python<'py>, peer: String) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&peer).await?;
            shared
                .client
                .accept_identity(&id)
                .await
                .map_err(from_client)
        })
    }

    /// The sessions in the store, one per peer.
    fn sessions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            sessions(&shared.client).await.map_err(from_client)
        })
    }

    /// Peer id → fingerprint of every peer whose current key this user verified.
    fn verified_fingerprints<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let sessions = sessions(&shared.client).await.map_err(from_client)?;
            Ok(sessions
                .into_iter()
                .filter(|session| session.verified)
                .map(|session| (session.peer_id, session.fingerprint))
                .collect::<BTreeMap<_, _>>())
        })
    }

    /// Makes sure there is a session with the peer (starting one from its published keys);
    /// returns the peer's fingerprint.
    fn ensure_session<'py>(&self, py: Python<'py>, peer: String) -> PyResult<Bound<'py, PyAny>> {
        self.peer_fingerprint(py, peer)
    }

    #[pyo3(signature = (name, members, description=None))]
    fn create_group<'py>(
        &self,
        py: Python<'py>,
        name: String,
        members: Vec<String>,
        description: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let ids = shared.resolve_all(&members).await?;
            let group = shared
                .client
                .create_group(&name, description.as_deref(), &ids, None)
                .await
                .map_err(from_client)?;
            Ok(Group::from(group))
        })
    }

    fn groups<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let groups = shared.client.groups().await.map_err(from_client)?;
            Ok(groups.into_iter().map(Group::from).collect::<Vec<_>>())
        })
    }

    fn group<'py>(&self, py: Python<'py>, group_id: String) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let group = shared.client.group(&group_id).await.map_err(from_client)?;
            Ok(Group::from(group))
        })
    }

    fn group_members<'py>(&self, py: Python<'py>, group_id: String) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let members = shared
                .client
                .group_members(&group_id)
                .await
                .map_err(from_client)?;
            Ok(members
                .into_iter()
                .map(GroupMember::from)
                .collect::<Vec<_>>())
        })
    }

    /// Adds members; returns the ids actually added (members already in are skipped).
    fn add_group_members<'py>(
        &self,
        py: Python<'py>,
        group_id: String,
        members: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let ids = shared.resolve_all(&members).await?;
            let added = shared
                .client
                .add_group_members(&group_id, &ids)
                .await
                .map_err(from_client)?;
            Ok(added.added)
        })
    }

    fn remove_group_member<'py>(
        &self,
        py: Python<'py>,
        group_id: String,
        member: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let id = shared.resolve(&member).await?;
            let done = shared
                .client
                .remove_group_member(&group_id, &id)
                .await
                .map_err(from_client)?;
            Ok(done.success)
        })
    }

    fn leave_group<'py>(&self, py: Python<'py>, group_id: String) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let done = shared
                .client
                .leave_group(&group_id)
                .await
                .map_err(from_client)?;
            Ok(done.success)
        })
    }

    #[pyo3(signature = (group_id, limit=None, before=None))]
    fn group_history<'py>(
        &self,
        py: Python<'py>,
        group_id: String,
        limit: Option<u32>,
        before: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let records = shared
                .client
                .group_history(&group_id, limit, before)
                .await
                .map_err(from_client)?;
            Ok(shared.messages(records))
        })
    }

    fn send_group_text<'py>(
        &self,
        py: Python<'py>,
        group_id: String,
        text: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let sent = shared
                .client
                .send_group_text(&group_id, &text)
                .await
                .map_err(from_client)?;
            Ok(Message::new(sent, shared.me().as_deref()))
        })
    }

    fn send_group_image<'py>(
        &self,
        py: Python<'py>,
        group_id: String,
        data_url: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            let sent = shared
                .client
                .send_group_image(&group_id, &data_url)
                .await
                .map_err(from_client)?;
            Ok(Message::new(sent, shared.me().as_deref()))
        })
    }

    fn set_group_typing<'py>(
        &self,
        py: Python<'py>,
        group_id: String,
        typing: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared()?;
        spawn(py, async move {
            shared
                .client
                .set_group_typing(&group_id, typing)
                .await
                .map_err(from_client)
        })
    }
}

/// The sessions in the store, with whether each runs on a verified key.
async fn sessions(client: &Client) -> Result<Vec<SessionInfo>, ClientError> {
    let store = client.store();
    let mut found = Vec::new();
    for peer_id in store.session_peer_ids().await? {
        let Some(sessions) = store.peer_sessions(&peer_id).await? else {
            continue;
        };
        let key = &sessions.current.remote_identity_key;
        let verified = store
            .known_identity(&peer_id)
            .await?
            .is_some_and(|known| known.verified && known.identity_key == *key);
        found.push(SessionInfo {
            fingerprint: Fingerprint::of(key).as_str().to_string(),
            verified,
            created_at: sessions.current.created_at,
            updated_at: sessions.current.updated_at,
            previous_sessions: sessions.previous.len(),
            peer_id,
        });
    }
    Ok(found)
}

fn parse_fingerprint(text: &str) -> PyResult<Fingerprint> {
    Fingerprint::parse(text).map_err(|e| invalid(format!("not a fingerprint: {e}")))
}

/// Whether two fingerprints are the same key's (compact or grouped form, either case).
#[pyfunction]
pub(crate) fn compare_fingerprints(first: &str, second: &str) -> PyResult<bool> {
    Ok(parse_fingerprint(first)? == parse_fingerprint(second)?)
}

fn duration(seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        invalid(format!(
            "timeout must be a non-negative number of seconds, not {seconds}"
        ))
    })
}
