//! From a Rust future to an asyncio future: the work runs on the package's tokio runtime
//! without the GIL, and its result reaches the event loop through one delivery thread.
//!
//! Written here rather than taken from `pyo3_async_runtimes::tokio::future_into_py` for
//! two reasons:
//!
//! - **Exit.** A result delivered after Python began finalizing would attach a thread to a
//!   dying interpreter and abort the process ("Fatal Python error: PyGILState_Release"),
//!   which happened to bots stopped while a call was completing. Every delivery holds
//!   [`GATE`] for reading; the package's `atexit` hook closes it (taking it for writing,
//!   so a delivery in progress finishes first), after which results are dropped.
//! - **Cost.** `future_into_py` hands each result to a blocking-pool thread that attaches
//!   to the interpreter (creating and deleting a Python thread state) and wakes the loop,
//!   per call. Here one long-lived thread keeps its thread state, takes every result that
//!   is ready at once, and wakes each loop once per batch: under load, a bot's replies and
//!   events share the GIL acquisitions and the loop wake-ups.
//!
//! Cancelling the asyncio future drops the Rust future at its next poll.

use std::future::Future;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, OnceLock, RwLock};

use futures::channel::oneshot;
use pyo3::prelude::*;
use pyo3::types::PyList;
use pyo3::{IntoPyObjectExt, intern};

use crate::errors::raise;

/// `true` once the interpreter is exiting: nothing attaches to it any more.
static GATE: RwLock<bool> = RwLock::new(false);

/// Most results handed to a loop in one wake-up.
const MAX_DELIVERY: usize = 1024;

/// How long the delivery thread lets a burst of results gather while under load.
const GATHER: std::time::Duration = std::time::Duration::from_micros(300);

/// Converts a finished operation's result under the GIL.
type Convert = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// A result on its way to its loop.
struct Delivery {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
    convert: Convert,
}

/// The delivery thread's inbox (started on first use).
fn inbox() -> PyResult<&'static Sender<Delivery>> {
    static INBOX: OnceLock<Sender<Delivery>> = OnceLock::new();
    if let Some(inbox) = INBOX.get() {
        return Ok(inbox);
    }
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("quickchat-deliver".into())
        .spawn(move || deliver_forever(receiver))
        .map_err(|e| raise("runtime".into(), format!("cannot start a thread: {e}")))?;
    Ok(INBOX.get_or_init(|| sender))
}

/// Runs `future` on the runtime; an asyncio future of its result on the running loop.
pub(crate) fn spawn<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let sender = inbox()?;
    let event_loop = pyo3_async_runtimes::get_running_loop(py)?;
    let py_future = event_loop.call_method0(intern!(py, "create_future"))?;
    let (cancel, cancelled) = oneshot::channel::<()>();
    let on_done = Bound::new(
        py,
        CancelOnDone {
            sender: Mutex::new(Some(cancel)),
        },
    )?;
    py_future.call_method1(intern!(py, "add_done_callback"), (on_done,))?;
    let event_loop = event_loop.unbind();
    let target = py_future.clone().unbind();
    pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
        let stopped = async {
            // Only a cancellation stops the work; the callback going away does not.
            if cancelled.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            result = future => {
                let convert: Convert = Box::new(move |py| result.and_then(|v| v.into_py_any(py)));
                // The thread only ends with the process.
                let _ = sender.send(Delivery { event_loop, future: target, convert });
            }
            () = stopped => {}
        }
    });
    Ok(py_future)
}

/// The done-callback of every future: tells the Rust side when Python cancelled it.
#[pyclass(frozen, module = "quickchat._quickchat")]
struct CancelOnDone {
    sender: Mutex<Option<oneshot::Sender<()>>>,
}

#[pymethods]
impl CancelOnDone {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future
            .call_method0(intern!(future.py(), "cancelled"))?
            .is_truthy()?
        {
            let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(sender) = sender {
                let _ = sender.send(());
            }
        }
        Ok(())
    }
}

/// The delivery thread: waits without the GIL for results, then hands over every result
/// ready by then, one `call_soon_threadsafe` per loop.
fn deliver_forever(inbox: Receiver<Delivery>) {
    // Attached once and then detached for good: the thread keeps its Python thread state,
    // so each later attach only takes the GIL.
    Python::attach(move |py| {
        py.detach(move || {
            let mut busy = false;
            while let Ok(first) = inbox.recv() {
                // Under load (the last batch had company), results come in bursts a few
                // microseconds apart: waiting a moment lets one wake-up of the loop carry
                // the burst. A lone result (sequential awaits) goes at once.
                if busy {
                    std::thread::sleep(GATHER);
                }
                let mut batch = vec![first];
                while batch.len() < MAX_DELIVERY {
                    match inbox.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                busy = batch.len() > 1;
                deliver(batch);
            }
        })
    });
}

fn deliver(batch: Vec<Delivery>) {
    let exiting = GATE.read().unwrap_or_else(|p| p.into_inner());
    if *exiting {
        // Dropped without the GIL: PyO3 defers the reference counts.
        return;
    }
    Python::attach(|py| {
        let mut loops: Vec<(Py<PyAny>, Bound<'_, PyList>)> = Vec::new();
        for delivery in batch {
            let (ok, value) = match (delivery.convert)(py) {
                Ok(value) => (true, value),
                Err(error) => (false, error.into_value(py).into_any()),
            };
            let index = loops
                .iter()
                .position(|(l, _)| l.as_ptr() == delivery.event_loop.as_ptr());
            let list = match index {
                Some(index) => &loops[index].1,
                None => {
                    loops.push((delivery.event_loop, PyList::empty(py)));
                    match loops.last() {
                        Some((_, list)) => list,
                        None => continue,
                    }
                }
            };
            let _ = list.append((delivery.future, ok, value));
        }
        let Ok(settle) = wrap_pyfunction!(settle_all, py) else {
            return;
        };
        for (event_loop, list) in loops {
            // A closed loop (the program ended without awaiting) has nobody to tell.
            let _ = event_loop.call_method1(
                py,
                intern!(py, "call_soon_threadsafe"),
                (settle.clone(), list),
            );
        }
    });
    drop(exiting);
}

/// On the loop: sets each future's result or exception, unless it was cancelled meanwhile.
#[pyfunction]
fn settle_all(results: &Bound<'_, PyList>) -> PyResult<()> {
    let py = results.py();
    for item in results.iter() {
        let (future, ok, value): (Bound<'_, PyAny>, bool, Bound<'_, PyAny>) = item.extract()?;
        if future.call_method0(intern!(py, "done"))?.is_truthy()? {
            continue;
        }
        let setter = if ok {
            intern!(py, "set_result")
        } else {
            intern!(py, "set_exception")
        };
        future.call_method1(setter, (value,))?;
    }
    Ok(())
}

/// Called by the package's `atexit` hook: from now on no result is delivered, so no thread
/// attaches to the interpreter while it finalizes.
#[pyfunction]
pub(crate) fn close_gate(py: Python<'_>) {
    // Without the GIL while waiting: a delivery in progress needs it to finish.
    py.detach(|| {
        let mut exiting = GATE.write().unwrap_or_else(|p| p.into_inner());
        *exiting = true;
    });
}
