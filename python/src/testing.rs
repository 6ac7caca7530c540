//! `TestServer`: the protocol-faithful test server (`quickchat-testserver`) in-process,
//! on the package's runtime, for users' own tests and the examples.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use quickchat_testserver::Config;

use crate::errors::raise;

fn server_error(error: impl std::fmt::Display) -> PyErr {
    raise("server_failed".into(), format!("test server: {error}"))
}

/// A running test server with its own database (a temporary one unless `db_path` names a
/// file). Its methods block (without the GIL) for at most a few seconds.
#[pyclass(module = "quickchat._quickchat", name = "TestServer")]
pub(crate) struct TestServer {
    server: Mutex<Option<quickchat_testserver::TestServer>>,
    base_url: String,
    ws_url: String,
    port: u16,
    db_path: PathBuf,
}

impl TestServer {
    fn with_server<T>(
        &self,
        py: Python<'_>,
        work: impl AsyncFnOnce(&mut quickchat_testserver::TestServer) -> T + Send,
    ) -> PyResult<T>
    where
        T: Send,
    {
        py.detach(|| {
            let runtime = pyo3_async_runtimes::tokio::get_runtime();
            let mut server = self.server.lock().unwrap_or_else(|p| p.into_inner());
            match server.as_mut() {
                Some(server) => Ok(runtime.block_on(work(server))),
                None => Err(server_error("closed")),
            }
        })
    }
}

#[pymethods]
impl TestServer {
    /// Starts a server on `host:port` (port 0: a free one). `bcrypt_cost` 4 makes
    /// registering cheap for tests (the backend's own cost is 10).
    #[new]
    #[pyo3(signature = (*, host="127.0.0.1", port=0, db_path=None, bcrypt_cost=4))]
    fn new(
        py: Python<'_>,
        host: &str,
        port: u16,
        db_path: Option<PathBuf>,
        bcrypt_cost: u32,
    ) -> PyResult<Self> {
        let ip: IpAddr = host
            .parse()
            .map_err(|_| crate::errors::invalid(format!("not an IP address: {host:?}")))?;
        let mut config = Config::default()
            .with_bind(SocketAddr::new(ip, port))
            .with_bcrypt_cost(bcrypt_cost);
        if let Some(path) = db_path {
            config = config.with_database_file(path);
        }
        let server = py.detach(|| {
            pyo3_async_runtimes::tokio::get_runtime()
                .block_on(quickchat_testserver::TestServer::start(config))
        });
        let server = server.map_err(server_error)?;
        Ok(Self {
            base_url: server.base_url(),
            ws_url: server.ws_url(),
            port: server.addr().port(),
            db_path: server.db_path().to_path_buf(),
            server: Mutex::new(Some(server)),
        })
    }

    /// `http://HOST:PORT`: what `WhatsAppClient(server_url=...)` takes.
    #[getter]
    fn url(&self) -> &str {
        &self.base_url
    }

    /// `ws://HOST:PORT/ws`.
    #[getter]
    fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// The port it listens on.
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    /// The SQLite database file.
    #[getter]
    fn db_path(&self) -> String {
        self.db_path.to_string_lossy().into_owned()
    }

    /// Whether it serves.
    #[getter]
    fn is_running(&self) -> bool {
        self.server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|server| server.is_running())
    }

    /// Stops serving (sockets closed, port released); the data stays for `restart`.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        self.with_server(py, async |server| server.stop().await)
    }

    /// Starts again on the same port with the same data.
    fn restart(&self, py: Python<'_>) -> PyResult<()> {
        self.with_server(py, async |server| server.restart().await)?
            .map_err(server_error)
    }

    /// Gives a user the `admin` role.
    fn make_admin(&self, py: Python<'_>, username: String) -> PyResult<()> {
        self.with_server(py, async move |server| server.make_admin(&username).await)?
            .map_err(server_error)
    }

    /// Closes all connections of a user, as a network failure would.
    fn disconnect_user(&self, py: Python<'_>, user_id: String) -> PyResult<()> {
        self.with_server(py, async move |server| {
            server.disconnect_user(&user_id).await
        })
    }

    /// Stops the server for good (its temporary database is deleted).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut server) = server {
            py.detach(|| {
                let runtime = pyo3_async_runtimes::tokio::get_runtime();
                runtime.block_on(server.stop());
                // Dropped inside the runtime: its tasks belong there.
                let _runtime = runtime.enter();
                drop(server);
            });
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("TestServer(url={:?})", self.base_url)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let server = self
            .server
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(server) = server {
            let _runtime = pyo3_async_runtimes::tokio::get_runtime().enter();
            drop(server);
        }
    }
}
