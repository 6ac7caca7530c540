//! Backend behaviours beyond the golden recording: each quirk of PROTOCOL §7 in isolation,
//! the permission checks, and the HTTP edges (CORS, 404, 426, invalid JSON, auth kinds).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use quickchat_testserver::{Config, Quirks, TestServer};
use serde_json::{Value, json};
use support::client::{Http, NoFrame, Ws, fast_server};

fn message(to: &str, content: &str, id: &str) -> Value {
    json!({"type": "message", "payload": {
        "to": to, "content": content, "messageType": "text", "encrypted": false, "messageId": id
    }})
}

fn presence(id: &str, name: &str, online: bool) -> Value {
    json!({"type": "online", "payload": {"userId": id, "username": name, "online": online}})
}

#[tokio::test]
async fn reconnect_race_leaves_the_user_unreachable_until_it_connects_again() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    let (mut a1, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    let (mut b, _) = Ws::connect_as(&server.ws_url(), &bob, "bob").await;
    assert_eq!(a1.next_json().await, Ok(presence(&bob, "bob", true)));

    let (mut a2, list) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    assert_eq!(list["payload"]["users"].as_array().map(Vec::len), Some(2));
    let (before, code) = a1.closed().await.expect("old socket closed");
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(code, Some(1000));
    assert_eq!(b.next_json().await, Ok(presence(&alice, "alice", true)));
    // The old socket's close handler removed the new connection.
    assert_eq!(b.next_json().await, Ok(presence(&alice, "alice", false)));

    b.send_json(&message(&alice, "lost?", "m1")).await;
    let echo = b.next_json().await.expect("echo");
    assert_eq!(echo["payload"]["status"], "sent", "not relayed: {echo}");
    assert!(a2.barrier().await.is_empty(), "alice2 must receive nothing");

    // Only a fresh connection makes alice reachable again; she catches up over REST.
    a2.close().await;
    // Its close handler, like every one, announces alice offline (again).
    assert_eq!(b.next_json().await, Ok(presence(&alice, "alice", false)));
    let (mut a3, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    let history = http
        .get(&format!("/api/messages/{bob}?user={alice}"), None)
        .await;
    assert_eq!(history.json()[0]["id"], "m1");
    assert_eq!(b.next_json().await, Ok(presence(&alice, "alice", true)));
    b.send_json(&message(&alice, "now?", "m2")).await;
    assert_eq!(a3.next_json().await.expect("relay")["payload"]["id"], "m2");
    assert_eq!(
        b.next_json().await.expect("echo")["payload"]["status"],
        "delivered"
    );
}

#[tokio::test]
async fn without_the_reconnect_race_the_new_connection_stays() {
    let config = Config::default()
        .with_bcrypt_cost(4)
        .with_quirks(Quirks::fixed());
    let server = TestServer::start(config).await.expect("server");
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    let (mut a1, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    let (mut b, _) = Ws::connect_as(&server.ws_url(), &bob, "bob").await;
    a1.next_json().await.expect("bob online");
    let (mut a2, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    a1.closed().await.expect("old socket closed");
    assert_eq!(b.next_json().await, Ok(presence(&alice, "alice", true)));
    b.send_json(&message(&alice, "hi", "m1")).await;
    assert_eq!(a2.next_json().await.expect("relay")["payload"]["id"], "m1");
    assert_eq!(
        b.next_json().await.expect("echo")["payload"]["status"],
        "delivered"
    );
    assert!(b.barrier().await.is_empty(), "no offline announcement");
}

#[tokio::test]
async fn messages_to_offline_users_are_stored_and_never_pushed() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    let (mut a, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    a.send_json(&message(&bob, "while you were out", "m1"))
        .await;
    let echo = a.next_json().await.expect("echo");
    assert_eq!(echo["payload"]["status"], "sent");

    let (mut b, list) = Ws::connect_as(&server.ws_url(), &bob, "bob").await;
    assert_eq!(list["payload"]["users"].as_array().map(Vec::len), Some(2));
    assert!(
        b.barrier().await.is_empty(),
        "nothing is replayed on connect"
    );
    let history = http
        .get(&format!("/api/messages/{alice}?user={bob}"), None)
        .await;
    let history = history.json();
    assert_eq!(history.as_array().map(Vec::len), Some(1));
    assert_eq!(history[0]["content"], "while you were out");
    assert_eq!(history[0]["status"], "sent");
}

#[tokio::test]
async fn every_bundle_fetch_consumes_a_one_time_prekey() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (bob, bob_token) = http.register("bob").await;
    let (_, alice_token) = http.register("alice").await;
    let upload = json!({
        "identityKey": "AQ==", "signingKey": "Ag==", "fingerprint": "AB",
        "signedPrekey": {"keyId": 1, "publicKey": "BA==", "signature": "BQ=="},
        "oneTimePrekeys": [{"keyId": 7, "publicKey": "Bw=="}, {"keyId": 3, "publicKey": "Aw=="}]
    });
    let bob_auth = format!("Bearer {bob_token}");
    let alice_auth = format!("Bearer {alice_token}");
    let reply = http
        .json("POST", "/api/users/prekeys", Some(&bob_auth), &upload)
        .await;
    assert_eq!(reply.json()["oneTimePrekeysUploaded"], 2);
    let mut handed_out = Vec::new();
    for _ in 0..3 {
        let bundle = http
            .get(&format!("/api/users/{bob}/prekeys"), Some(&alice_auth))
            .await;
        assert_eq!(bundle.status, 200);
        handed_out.push(bundle.json()["oneTimePrekey"]["keyId"].clone());
    }
    // Lowest id first, each once, then none.
    assert_eq!(handed_out, [json!(3), json!(7), Value::Null]);
    let status = http.get("/api/users/prekeys/status", Some(&bob_auth)).await;
    assert_eq!(status.json()["oneTimePrekeyCount"], 0);
}

#[tokio::test]
async fn the_encrypted_flag_needs_both_the_flag_and_the_shape() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    let (mut a, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    let sealed_box = r#"{"ciphertext":"AA==","iv":"AQ==","ephemeralPublicKey":"Ag=="}"#;
    let ratchet = r#"{"header":{"ratchetKey":"AA=="},"ciphertext":"AQ=="}"#;
    let cases = [
        (sealed_box, true, true),
        (ratchet, true, true),
        (ratchet, false, false),
        ("plain text", true, false),
        (r#"{"ciphertext":"AQ=="}"#, true, false),
    ];
    for (i, (content, flag, expected)) in cases.iter().enumerate() {
        a.send_json(&json!({"type": "message", "payload": {
            "to": bob, "content": content, "messageType": "text", "encrypted": flag
        }}))
        .await;
        let echo = a.next_json().await.expect("echo");
        assert_eq!(echo["payload"]["encrypted"], json!(expected), "case {i}");
    }
    let history = http
        .get(&format!("/api/messages/{bob}?user={alice}"), None)
        .await;
    let flags: Vec<Value> = history
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["encrypted"].clone())
        .collect();
    assert_eq!(flags, [json!(1), json!(1), json!(0), json!(0), json!(0)]);
}

#[tokio::test]
async fn unknown_frame_types_get_no_answer_and_malformed_frames_an_error() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let mut ws = Ws::connect(&server.ws_url()).await;
    let invalid = json!({"type": "error", "payload": {"message": "Invalid message format"}});
    // Before authenticating, known frame types are refused, unknown ones ignored.
    ws.send_json(&json!({"type": "typing", "payload": {"to": alice, "typing": true}}))
        .await;
    assert_eq!(
        ws.next_json().await,
        Ok(json!({"type": "error", "payload": {"message": "Not authenticated"}}))
    );
    for bad in [
        r#"{"type":"message"}"#,
        "[1,2]",
        "42",
        r#"{"payload":{}}"#,
        r#"{"type":"auth","payload":"x"}"#,
    ] {
        ws.send_text(bad).await;
        assert_eq!(ws.next_json().await, Ok(invalid.clone()), "{bad}");
    }
    for ignored in [
        r#"{"type":"unknown_type","payload":{}}"#,
        r#"{"type":"ping","payload":{"x":1}}"#,
    ] {
        ws.send_text(ignored).await;
    }
    assert!(ws.barrier().await.is_empty());
    ws.send_message(tokio_tungstenite::tungstenite::Message::binary(vec![
        1u8, 2, 3,
    ]))
    .await
    .expect("send binary");
    assert_eq!(ws.next_json().await, Ok(invalid.clone()));
    // Still usable afterwards.
    ws.send_json(&json!({"type": "auth", "payload": {"userId": alice, "username": "alice"}}))
        .await;
    assert_eq!(ws.next_json().await.expect("online")["type"], "online");
}

#[tokio::test]
async fn unknown_users_are_refused_and_disconnected_on_auth() {
    let server = fast_server().await;
    let mut ws = Ws::connect(&server.ws_url()).await;
    ws.send_json(&json!({"type": "auth", "payload": {"userId": "no-such-user", "username": "x"}}))
        .await;
    let (before, code) = ws.closed().await.expect("closed");
    assert_eq!(
        before,
        [r#"{"type":"error","payload":{"message":"User not found. Please log in again."}}"#]
    );
    assert_eq!(code, Some(1008));
}

#[tokio::test]
async fn group_messages_follow_membership_and_permissions() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (owner, _) = http.register("owner").await;
    let (member, _) = http.register("member").await;
    let (outsider, _) = http.register("outsider").await;
    let owner_auth = format!("Bearer {owner}");
    let created = http
        .json(
            "POST",
            "/api/groups",
            Some(&owner_auth),
            &json!({"name": "G", "memberIds": [member]}),
        )
        .await;
    assert_eq!(created.status, 201);
    let group = created.json()["id"].as_str().expect("id").to_owned();
    let (mut o, _) = Ws::connect_as(&server.ws_url(), &owner, "owner").await;
    let (mut m, _) = Ws::connect_as(&server.ws_url(), &member, "member").await;
    let (mut x, _) = Ws::connect_as(&server.ws_url(), &outsider, "outsider").await;
    o.next_json().await.expect("member online");
    o.next_json().await.expect("outsider online");
    m.next_json().await.expect("outsider online");
    let say = |text: &str| json!({"type": "group_message", "payload": {"groupId": group, "content": text, "messageType": "text"}});

    x.send_json(&say("let me in")).await;
    assert_eq!(
        x.next_json().await.expect("error")["payload"]["message"],
        "You are not a member of this group"
    );

    m.send_json(&say("hello")).await;
    for ws in [&mut m, &mut o] {
        let frame = ws.next_json().await.expect("group message");
        assert_eq!(frame["payload"]["content"], "hello");
        assert_eq!(frame["payload"]["from_username"], "member");
    }

    // Owner restricts sending to admins; the member is refused, the owner is not.
    let settings = json!({"settings": {"messagePermission": "admins_only"}});
    let reply = http
        .json(
            "PUT",
            &format!("/api/groups/{group}"),
            Some(&owner_auth),
            &settings,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    m.send_json(&say("still there?")).await;
    assert_eq!(
        m.next_json().await.expect("error")["payload"]["message"],
        "Only admins can send messages in this group"
    );
    o.send_json(&say("admins only now")).await;
    assert_eq!(
        m.next_json().await.expect("relay")["payload"]["content"],
        "admins only now"
    );
    let first_id = o.next_json().await.expect("own copy")["payload"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // A read of a real message reaches the other members, not the reader.
    m.send_json(
        &json!({"type": "group_read", "payload": {"groupId": group, "messageId": first_id}}),
    )
    .await;
    let read = o.next_json().await.expect("read receipt");
    assert_eq!(read["type"], "group_read");
    assert_eq!(read["payload"]["userId"], json!(member));
    assert!(m.barrier().await.is_empty());

    // Revoked image permission applies to groups too.
    let admin_auth = {
        let (admin, _) = http.register("boss").await;
        server.make_admin("boss").await.expect("make admin");
        format!("Bearer {admin}")
    };
    let reply = http
        .json(
            "PUT",
            &format!("/api/admin/users/{owner}/permissions"),
            Some(&admin_auth),
            &json!({"can_send_images": 0}),
        )
        .await;
    assert_eq!(reply.status, 200);
    o.send_json(&json!({"type": "group_message", "payload": {"groupId": group, "content": "img", "messageType": "image", "imageData": "data:,"}})).await;
    assert_eq!(
        o.next_json().await.expect("error")["payload"]["message"],
        "You do not have permission to send images."
    );

    let history = http
        .get(
            &format!("/api/groups/{group}/messages"),
            Some(&format!("Bearer {member}")),
        )
        .await;
    let contents: Vec<Value> = history
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["content"].clone())
        .collect();
    assert_eq!(
        contents,
        [
            json!("Group created"),
            json!("hello"),
            json!("Group metadata updated"),
            json!("admins only now")
        ]
    );
}

#[tokio::test]
async fn http_edges_answer_as_the_worker_does() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());

    let reply = http.get("/api/users/nope/x/y", None).await;
    assert_eq!((reply.status, reply.text.as_str()), (404, "Not found"));
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain;charset=UTF-8")
    );
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let reply = http.send("DELETE", "/api/users", None, None).await;
    assert_eq!((reply.status, reply.text.as_str()), (404, "Not found"));
    let reply = http.get("/", None).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("access-control-allow-origin"), None);

    let reply = http
        .send("OPTIONS", "/api/groups/x/members", None, None)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("Content-Type, Authorization")
    );

    let reply = http.get("/ws", None).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (426, "Expected WebSocket")
    );

    for body in ["{not json", "", "[1,"] {
        let reply = http
            .send("POST", "/api/auth/login", None, Some(body.to_owned()))
            .await;
        assert_eq!(reply.status, 500, "{body:?}");
        assert!(reply.json()["error"].is_string(), "{}", reply.text);
    }
}

#[tokio::test]
async fn each_endpoint_takes_only_its_own_kind_of_credential() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (alice, token) = http.register("alice").await;
    let jwt = format!("Bearer {token}");
    let raw = format!("Bearer {alice}");

    // JWT endpoints refuse a raw user id.
    assert_eq!(
        http.get("/api/users/prekeys/status", Some(&raw))
            .await
            .status,
        401
    );
    assert_eq!(
        http.get("/api/users/prekeys/status", Some(&jwt))
            .await
            .status,
        200
    );
    // Raw-id endpoints take a JWT as an (unknown) user id.
    let reply = http
        .json(
            "POST",
            "/api/groups",
            Some(&jwt),
            &json!({"name": "G", "memberIds": []}),
        )
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.json()["owner_id"], json!(token));
    let mine = http.get("/api/groups", Some(&raw)).await;
    assert_eq!(mine.json(), json!([]));
    // Unauthenticated endpoints need nothing.
    assert_eq!(http.get("/api/users", None).await.status, 200);
    // A tampered token is refused.
    let tampered = format!("{jwt}x");
    assert_eq!(
        http.get("/api/users/prekeys/status", Some(&tampered))
            .await
            .status,
        401
    );
    // A token signed with another secret is refused.
    let other = TestServer::start(
        Config::default()
            .with_bcrypt_cost(4)
            .with_jwt_secret("other"),
    )
    .await
    .expect("server");
    let other_http = Http::new(&other.base_url());
    assert_eq!(
        other_http
            .get("/api/users/prekeys/status", Some(&jwt))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn disabled_accounts_cannot_send_but_can_still_connect() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (carol, _) = http.register("carol").await;
    let (admin, _) = http.register("admin").await;
    server.make_admin("admin").await.expect("admin");
    let reply = http
        .json(
            "PUT",
            &format!("/api/admin/users/{carol}/status"),
            Some(&format!("Bearer {admin}")),
            &json!({"is_active": 0}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let users = http
        .get("/api/admin/users", Some(&format!("Bearer {admin}")))
        .await
        .json();
    let carol_row = users
        .as_array()
        .expect("array")
        .iter()
        .find(|u| u["id"] == json!(carol))
        .cloned()
        .expect("carol");
    assert_eq!(carol_row["is_active"], 0);
    assert_eq!(carol_row["disabled_by"], json!(admin));
    assert!(carol_row["disabled_at"].is_i64());

    let (mut c, _) = Ws::connect_as(&server.ws_url(), &carol, "carol").await;
    c.send_json(&message(&admin, "hi", "m1")).await;
    let (before, code) = c.closed().await.expect("closed");
    assert_eq!(
        before,
        [
            r#"{"type":"error","payload":{"message":"Your account has been disabled by an administrator."}}"#
        ]
    );
    assert_eq!(code, Some(1008));
    let history = http
        .get(&format!("/api/messages/{admin}?user={carol}"), None)
        .await;
    assert_eq!(history.json(), json!([]), "nothing stored");
    assert_eq!(c.next_text().await, Err(NoFrame::Ended));
}
