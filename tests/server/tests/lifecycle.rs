//! Starting, stopping and restarting the server in-process, the database it keeps, making
//! admins, and the `quickchat-server` binary.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use quickchat_testserver::{Config, ServerError, TestServer};
use serde_json::json;
use support::client::{Http, Ws, fast_server};

#[tokio::test]
async fn stop_closes_every_socket_and_releases_the_port() {
    let mut server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (mut authed, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    let mut anonymous = Ws::connect(&server.ws_url()).await;
    let addr = server.addr();

    server.stop().await;
    assert!(!server.is_running());
    for ws in [&mut authed, &mut anonymous] {
        let (before, code) = ws.closed().await.expect("socket closed by the server");
        assert!(before.is_empty(), "{before:?}");
        assert_eq!(code, Some(1001));
    }
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens any more"
    );
    let rebound = std::net::TcpListener::bind(addr).expect("the port is free again");
    drop(rebound);
    server.stop().await; // stopping twice is harmless
}

#[tokio::test]
async fn restart_comes_back_on_the_same_port_with_the_same_data() {
    let mut server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (alice, token) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    let (mut a, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    for i in 0..20 {
        a.send_json(&json!({"type": "message", "payload": {
            "to": bob, "content": format!("m{i}"), "messageType": "text", "messageId": format!("id{i}")
        }}))
        .await;
        let echo = a.next_json().await.expect("echo");
        assert_eq!(echo["payload"]["id"], format!("id{i}"));
    }
    let (url, ws_url, path) = (
        server.base_url(),
        server.ws_url(),
        server.db_path().to_owned(),
    );

    server.restart().await.expect("restart");
    assert!(server.is_running());
    assert_eq!((server.base_url(), server.ws_url()), (url, ws_url.clone()));
    assert_eq!(server.db_path(), path);
    a.closed()
        .await
        .expect("the old socket was closed by the restart");

    // Everything accepted before the restart is there, and tokens still verify.
    let history = http
        .get(&format!("/api/messages/{bob}?user={alice}"), None)
        .await
        .json();
    let ids: Vec<String> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(ids, (0..20).map(|i| format!("id{i}")).collect::<Vec<_>>());
    let status = http
        .get(
            "/api/users/prekeys/status",
            Some(&format!("Bearer {token}")),
        )
        .await;
    assert_eq!(status.status, 200);
    let login = http
        .json(
            "POST",
            "/api/auth/login",
            None,
            &json!({"username": "alice", "password": "secret123"}),
        )
        .await;
    assert_eq!(login.status, 200);
    // Reconnecting to the old URL works.
    let (_a, list) = Ws::connect_as(&ws_url, &alice, "alice").await;
    assert_eq!(list["payload"]["users"][0]["userId"], json!(alice));

    // A stopped server can be restarted too.
    server.stop().await;
    server.restart().await.expect("restart after stop");
    assert_eq!(
        http.get("/api/users", None)
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn make_admin_works_whether_running_or_not() {
    let mut server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    let auth = format!("Bearer {alice}");
    assert_eq!(http.get("/api/admin/users", Some(&auth)).await.status, 403);
    server.make_admin("alice").await.expect("make admin");
    assert_eq!(http.get("/api/admin/users", Some(&auth)).await.status, 200);

    server.stop().await;
    server
        .make_admin("bob")
        .await
        .expect("make admin while stopped");
    assert!(matches!(
        server.make_admin("nobody").await,
        Err(ServerError::UnknownUser(name)) if name == "nobody"
    ));
    server.restart().await.expect("restart");
    assert_eq!(
        http.get("/api/admin/users", Some(&format!("Bearer {bob}")))
            .await
            .status,
        200
    );
    assert!(matches!(
        server.make_admin("nobody").await,
        Err(ServerError::UnknownUser(_))
    ));
}

#[tokio::test]
async fn a_database_file_outlives_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("chat.db");
    let config = Config::default()
        .with_bcrypt_cost(4)
        .with_database_file(&path);
    let mut first = TestServer::start(config.clone()).await.expect("first");
    Http::new(&first.base_url()).register("alice").await;
    first.stop().await;
    drop(first);
    assert!(path.exists());

    let second = TestServer::start(config).await.expect("second");
    let users = Http::new(&second.base_url())
        .get("/api/users", None)
        .await
        .json();
    assert_eq!(users[0]["username"], "alice");
}

#[tokio::test]
async fn dropping_a_server_deletes_its_temporary_database() {
    let server = fast_server().await;
    let path = server.db_path().to_owned();
    Http::new(&server.base_url()).register("alice").await;
    assert!(path.exists());
    drop(server);
    assert!(!path.exists());
}

#[tokio::test]
async fn a_taken_port_is_a_bind_error() {
    let server = fast_server().await;
    let taken = TestServer::start(Config::default().with_bind(server.addr())).await;
    assert!(matches!(taken, Err(ServerError::Bind { addr, .. }) if addr == server.addr()));
}

/// Runs the binary with `args` and returns it with the base URL it printed.
fn spawn_binary(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quickchat-server"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, url)
}

#[tokio::test]
async fn the_binary_serves_and_makes_admins() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("chat.db");
    let db = db.to_str().expect("utf-8 path");
    let serve = [
        "--port",
        "0",
        "--db",
        db,
        "--bcrypt-cost",
        "4",
        "--jwt-secret",
        "s3cret",
    ];

    let (mut child, url) = spawn_binary(&serve);
    let http = Http::new(&url);
    let (alice, _) = http.register("alice").await;
    assert_eq!(
        http.get("/api/admin/users", Some(&format!("Bearer {alice}")))
            .await
            .status,
        403
    );
    child.kill().expect("kill");
    child.wait().expect("wait");

    let bin = env!("CARGO_BIN_EXE_quickchat-server");
    let made = Command::new(bin)
        .args(["--db", db, "make-admin", "alice"])
        .output()
        .expect("run");
    assert!(made.status.success(), "{made:?}");
    assert_eq!(
        String::from_utf8_lossy(&made.stdout).trim(),
        "alice is now an admin"
    );
    let unknown = Command::new(bin)
        .args(["--db", db, "make-admin", "nobody"])
        .output()
        .expect("run");
    assert!(!unknown.status.success());

    let (mut child, url) = spawn_binary(&serve);
    let reply = Http::new(&url)
        .get("/api/admin/users", Some(&format!("Bearer {alice}")))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    child.kill().expect("kill");
    child.wait().expect("wait");
}
