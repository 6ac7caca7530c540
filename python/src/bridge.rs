//! From a Rust future to an asyncio future: the work runs on the package's tokio runtime
//! without the GIL; the result is handed to the event loop with `call_soon_threadsafe`.
//!
//! Written here rather than taken from `pyo3_async_runtimes::tokio::future_into_py` for
//! one reason: at interpreter exit, a result delivered after Python began finalizing
//! would attach a tokio thread to a dying interpreter and abort the process ("Fatal Python
//! error: PyGILState_Release"), which happened to bots stopped while a call was still
//! completing. Every delivery holds [`GATE`] for reading; the package's `atexit` hook
//! closes it (taking it for writing, so deliveries in progress finish first), after which
//! results are dropped instead of delivered. Cancelling the asyncio future drops the Rust
//! future at its next poll.

use std::future::Future;
use std::sync::{Mutex, RwLock};

use futures::channel::oneshot;
use pyo3::prelude::*;
use pyo3::types::PyCFunction;
use pyo3::{IntoPyObjectExt, intern};

/// `true` once the interpreter is exiting: nothing attaches to it any more.
static GATE: RwLock<bool> = RwLock::new(false);

/// Runs `future` on the runtime; an asyncio future of its result on the running loop.
pub(crate) fn spawn<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = pyo3_async_runtimes::get_running_loop(py)?;
    let py_future = event_loop.call_method0(intern!(py, "create_future"))?;
    let (cancel, cancelled) = oneshot::channel::<()>();
    let on_done = Mutex::new(Some(cancel));
    let callback = PyCFunction::new_closure(py, None, None, move |args, _kwargs| {
        let future = args.get_item(0)?;
        if future
            .call_method0(intern!(args.py(), "cancelled"))?
            .is_truthy()?
        {
            let sender = on_done.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(sender) = sender {
                let _ = sender.send(());
            }
        }
        Ok::<(), PyErr>(())
    })?;
    py_future.call_method1(intern!(py, "add_done_callback"), (callback,))?;
    let target = (event_loop.unbind(), py_future.clone().unbind());
    pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
        let stopped = async {
            // Only a cancellation stops the work; the callback going away does not.
            if cancelled.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            result = future => {
                drop(tokio::task::spawn_blocking(move || deliver(target, result)));
            }
            () = stopped => {}
        }
    });
    Ok(py_future)
}

/// Hands `result` to the loop, unless the interpreter is exiting.
fn deliver<T>(target: (Py<PyAny>, Py<PyAny>), result: PyResult<T>)
where
    T: for<'a> IntoPyObject<'a>,
{
    let exiting = GATE.read().unwrap_or_else(|p| p.into_inner());
    if *exiting {
        return;
    }
    Python::attach(|py| {
        let (event_loop, py_future) = target;
        let (setter, value) = match result.and_then(|value| value.into_py_any(py)) {
            Ok(value) => ("set_result", value),
            Err(error) => ("set_exception", error.into_value(py).into_any()),
        };
        let settle = wrap_pyfunction!(settle, py);
        // A closed loop (the program ended without awaiting) has nobody to tell.
        if let Ok(settle) = settle {
            let _ = event_loop.call_method1(
                py,
                intern!(py, "call_soon_threadsafe"),
                (settle, py_future, setter, value),
            );
        }
    });
    drop(exiting);
}

/// Sets a future's result or exception, unless it was cancelled meanwhile.
#[pyfunction]
fn settle(future: &Bound<'_, PyAny>, setter: &str, value: Bound<'_, PyAny>) -> PyResult<()> {
    if future
        .call_method0(intern!(future.py(), "done"))?
        .is_truthy()?
    {
        return Ok(());
    }
    future.call_method1(setter, (value,))?;
    Ok(())
}

/// Called by the package's `atexit` hook: from now on no result is delivered, so no tokio
/// thread attaches to the interpreter while it finalizes.
#[pyfunction]
pub(crate) fn close_gate(py: Python<'_>) {
    // Without the GIL while waiting: a delivery in progress needs it to finish.
    py.detach(|| {
        let mut exiting = GATE.write().unwrap_or_else(|p| p.into_inner());
        *exiting = true;
    });
}
