//! The browser's IndexedDB as futures, straight over web-sys: a request's result, a
//! transaction's outcome, opening a database with its upgrade step, deleting one, and a
//! backwards cursor scan. What the store, the drop-in's device secrets and the importer use,
//! and no more: in place of the rexie and idb crates, whose generic builders, error types and
//! per-request machinery were about 11 KB of each gzipped module.
//!
//! Every future here wakes its task from an IndexedDB event, so the task runs in a microtask
//! of that event, while the transaction is still active: a request made then belongs to the
//! same transaction (as with every promise wrapper of IndexedDB).

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    IdbDatabase, IdbFactory, IdbObjectStore, IdbOpenDbRequest, IdbRequest, IdbTransaction,
    IdbTransactionMode, IdbVersionChangeEvent,
};

/// Why an IndexedDB operation failed: the `DOMException`'s name (`VersionError`,
/// `ConstraintError`, `QuotaExceededError`…) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdbError {
    /// The exception's name.
    pub(crate) name: String,
    /// What it says.
    pub(crate) message: String,
}

impl IdbError {
    /// The error a JavaScript exception (a `DOMException`, or anything thrown) stands for.
    pub(crate) fn of(value: &JsValue) -> Self {
        let name = if value.is_object() {
            Reflect::get(value, &"name".into())
                .ok()
                .and_then(|name| name.as_string())
        } else {
            None
        };
        Self {
            name: name.unwrap_or_else(|| "Error".into()),
            message: crate::transport::js_error_text(value),
        }
    }

    fn new(name: &str, message: &str) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for IdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for IdbError {}

/// `indexedDB` of this global (window, worker or Node with a shim).
pub(crate) fn factory() -> Result<IdbFactory, IdbError> {
    Reflect::get(&js_sys::global(), &"indexedDB".into())
        .ok()
        .filter(|f| !f.is_undefined() && !f.is_null())
        .map(JsCast::unchecked_into)
        .ok_or_else(|| IdbError::new("NotFoundError", "this environment has no IndexedDB"))
}

/// Runs its function when dropped: takes the event handlers off a request when its wait
/// ends, also when the waiting future is dropped before the event (a cancelled wait must
/// leave no handler whose closure is gone).
pub(crate) struct OnDrop<F: FnMut()>(pub(crate) F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Where an event handler puts its one answer.
type Slot = Rc<RefCell<Option<oneshot::Sender<bool>>>>;

/// A handler that answers `value` the first time it is called.
fn answer(slot: &Slot, value: bool) -> Closure<dyn FnMut(JsValue)> {
    let slot = Rc::clone(slot);
    Closure::new(move |_: JsValue| {
        if let Some(sender) = slot.borrow_mut().take() {
            let _ = sender.send(value);
        }
    })
}

fn answered() -> (Slot, oneshot::Receiver<bool>) {
    let (sender, receiver) = oneshot::channel();
    (Rc::new(RefCell::new(Some(sender))), receiver)
}

/// Waits for `request` to succeed (its result) or fail (its error).
pub(crate) async fn request(request: &IdbRequest) -> Result<JsValue, IdbError> {
    let (slot, receiver) = answered();
    settled(
        request,
        &answer(&slot, true),
        &answer(&slot, false),
        receiver,
    )
    .await?;
    request.result().map_err(|e| IdbError::of(&e))
}

/// Waits, with `on_success` and `on_error` set on `request`, for the answer they give
/// `receiver`: `Err` with the request's error when it failed.
async fn settled(
    request: &IdbRequest,
    on_success: &Closure<dyn FnMut(JsValue)>,
    on_error: &Closure<dyn FnMut(JsValue)>,
    receiver: oneshot::Receiver<bool>,
) -> Result<(), IdbError> {
    request.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
    request.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    let detach = OnDrop(|| {
        request.set_onsuccess(None);
        request.set_onerror(None);
    });
    let succeeded = receiver.await.unwrap_or(false);
    drop(detach);
    if succeeded {
        return Ok(());
    }
    Err(request
        .error()
        .ok()
        .flatten()
        .map(|e| IdbError::of(&e.into()))
        .unwrap_or_else(|| IdbError::new("UnknownError", "the request failed")))
}

/// A request just made, waited for.
pub(crate) async fn call(made: Result<IdbRequest, JsValue>) -> Result<JsValue, IdbError> {
    request(&made.map_err(|e| IdbError::of(&e))?).await
}

/// A request made (to be waited for with its transaction), or why it could not be.
pub(crate) fn issued(made: Result<IdbRequest, JsValue>) -> Result<(), IdbError> {
    made.map(drop).map_err(|e| IdbError::of(&e))
}

/// A transaction whose outcome is watched from its start: one whose requests are all done
/// commits on its own, and its end must not be missed.
pub(crate) struct Transaction {
    inner: IdbTransaction,
    outcome: Option<oneshot::Receiver<bool>>,
    _handlers: [Closure<dyn FnMut(JsValue)>; 2],
}

impl Transaction {
    /// Starts a transaction over `stores` of `db`.
    pub(crate) fn start(
        db: &IdbDatabase,
        stores: &[&str],
        mode: IdbTransactionMode,
    ) -> Result<Self, IdbError> {
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        let inner = db
            .transaction_with_str_sequence_and_mode(&names, mode)
            .map_err(|e| IdbError::of(&e))?;
        let (slot, outcome) = answered();
        let handlers = [answer(&slot, true), answer(&slot, false)];
        inner.set_oncomplete(Some(handlers[0].as_ref().unchecked_ref()));
        inner.set_onabort(Some(handlers[1].as_ref().unchecked_ref()));
        Ok(Self {
            inner,
            outcome: Some(outcome),
            _handlers: handlers,
        })
    }

    /// The object store `name` in this transaction.
    pub(crate) fn store(&self, name: &str) -> Result<IdbObjectStore, IdbError> {
        self.inner.object_store(name).map_err(|e| IdbError::of(&e))
    }

    /// Waits for the transaction to commit: `Err` with why it was aborted (the failed
    /// request's error, or an abort).
    pub(crate) async fn done(mut self) -> Result<(), IdbError> {
        let committed = match self.outcome.take() {
            Some(outcome) => outcome.await.unwrap_or(false),
            None => false,
        };
        if committed {
            return Ok(());
        }
        Err(self
            .inner
            .error()
            .map(|e| IdbError::of(&e.into()))
            .unwrap_or_else(|| IdbError::new("AbortError", "the transaction was aborted")))
    }

    /// Aborts the transaction (nothing it wrote stays); a transaction already finished is
    /// left as it is.
    pub(crate) fn abort(&self) {
        let _ = self.inner.abort();
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        // The handlers go with this value: the transaction must not call them afterwards.
        self.inner.set_oncomplete(None);
        self.inner.set_onabort(None);
    }
}

/// Opens the database `name` at `version`. When it is new or older, `upgrade` runs in the
/// upgrade transaction with the open request (its `result` is the database, its
/// `transaction` the upgrade) and the version the database had (0 for a new one); an error
/// there aborts the upgrade, and the opening fails. The connection closes itself when
/// another one asks to upgrade or delete the database, as a tab should.
pub(crate) async fn open<F>(name: &str, version: u32, upgrade: F) -> Result<IdbDatabase, IdbError>
where
    F: Fn(&IdbOpenDbRequest, u32) -> Result<(), JsValue> + 'static,
{
    let request = factory()?
        .open_with_u32(name, version)
        .map_err(|e| IdbError::of(&e))?;
    let failure: Rc<RefCell<Option<IdbError>>> = Rc::default();
    let on_upgrade = {
        let request = request.clone();
        let failure = Rc::clone(&failure);
        Closure::<dyn FnMut(IdbVersionChangeEvent)>::new(move |event: IdbVersionChangeEvent| {
            if let Err(e) = upgrade(&request, event.old_version() as u32) {
                *failure.borrow_mut() = Some(IdbError::of(&e));
                if let Some(transaction) = request.transaction() {
                    let _ = transaction.abort();
                }
            }
        })
    };
    request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let detach = OnDrop(|| request.set_onupgradeneeded(None));
    let result = self::request(&request).await;
    drop(detach);
    if let Some(failure) = failure.borrow_mut().take() {
        if let Ok(db) = result {
            db.unchecked_into::<IdbDatabase>().close();
        }
        return Err(failure);
    }
    let db: IdbDatabase = result?.unchecked_into();
    let on_version_change = {
        let db = db.clone();
        Closure::once_into_js(move |_: JsValue| db.close())
    };
    db.set_onversionchange(Some(on_version_change.unchecked_ref()));
    Ok(db)
}

/// Deletes the database `name`; resolves once every connection to it has closed.
pub(crate) async fn delete(name: &str) -> Result<(), IdbError> {
    let made = factory()?.delete_database(name);
    call(made.map(Into::into)).await.map(drop)
}

/// The values of `index` in `range`, last first, at most `limit` of them.
#[cfg(feature = "client")]
pub(crate) async fn scan_back(
    index: &web_sys::IdbIndex,
    range: &JsValue,
    limit: u32,
) -> Result<Vec<JsValue>, IdbError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let request = index
        .open_cursor_with_range_and_direction(range, web_sys::IdbCursorDirection::Prev)
        .map_err(|e| IdbError::of(&e))?;
    let found: Rc<RefCell<Vec<JsValue>>> = Rc::default();
    let (slot, receiver) = answered();
    let on_success = {
        let request = request.clone();
        let found = Rc::clone(&found);
        let slot = Rc::clone(&slot);
        Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
            let finish = |ok: bool| {
                if let Some(sender) = slot.borrow_mut().take() {
                    let _ = sender.send(ok);
                }
            };
            let cursor = match request.result() {
                Ok(cursor) if !cursor.is_null() && !cursor.is_undefined() => cursor,
                Ok(_) => return finish(true),
                Err(_) => return finish(false),
            };
            let cursor: web_sys::IdbCursorWithValue = cursor.unchecked_into();
            let mut found = found.borrow_mut();
            match cursor.value() {
                Ok(value) => found.push(value),
                Err(_) => return finish(false),
            }
            if found.len() as u32 >= limit {
                return finish(true);
            }
            if cursor.continue_().is_err() {
                finish(false);
            }
        })
    };
    settled(&request, &on_success, &answer(&slot, false), receiver).await?;
    Ok(found.take())
}
