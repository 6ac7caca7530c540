//! The web-app test peer (`support::web_peer`): its crypto replays the web client's vectors
//! byte for byte, it chats with itself and with the SDK over the test server, and it
//! reproduces the web app's loss modes (PROTOCOL §8).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::join_all;
use quickchat::Client;
use quickchat_core::envelope::Envelope;
use quickchat_core::hazmat::RootKey;
use quickchat_core::keys::{IdentityKeyPair, KeyPair, PublicKey, SecretKey};
use quickchat_core::protocol::rest::BundleResponse;
use quickchat_core::testing::ReplayRng;
use quickchat_core::x3dh::PrekeyBundle;
use serde_json::Value;
use support::web_peer::{
    Failure, SessionAccess, WebFailure, WebPeer, WebPeerOptions, WebRatchetError, WebSession,
    assert_all_decrypted,
};
use support::*;

// ---------------------------------------------------------------- vectors

fn vectors_dir() -> PathBuf {
    std::env::var_os("QC_VECTORS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/vectors"),
        PathBuf::from,
    )
}

fn vector_files() -> Vec<(PathBuf, Value)> {
    let mut files: Vec<(PathBuf, Value)> = std::fs::read_dir(vectors_dir())
        .expect("vectors dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read vector file");
            let value = serde_json::from_str(&text).expect("vector JSON");
            (p, value)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex32(text: &str) -> [u8; 32] {
    hex(text).try_into().expect("32 bytes")
}

fn s<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("string field {key}"))
}

fn draws_of(value: &Value) -> Vec<Vec<u8>> {
    value.as_array().map_or_else(Vec::new, |a| {
        a.iter().map(|d| hex(d.as_str().expect("hex"))).collect()
    })
}

/// `(rootKey, chainKey)` of a fresh session from a shared secret, base64 as in the state.
fn first_keys(shared_secret: &str) -> (String, String) {
    let (root, chain) = RootKey::from_shared_secret(&hex32(shared_secret));
    (
        quickchat_core::encoding::b64_encode(root.as_bytes()),
        quickchat_core::encoding::b64_encode(chain.as_bytes()),
    )
}

struct VectorParty {
    identity: IdentityKeyPair,
    signed_prekey: SecretKey,
    bundle: PrekeyBundle,
    sessions: HashMap<String, WebSession>,
}

fn vector_party(spec: &Value) -> VectorParty {
    let identity = IdentityKeyPair::from_seed(hex32(s(spec, "identitySeed")));
    let spk = &spec["signedPrekey"];
    let pair = KeyPair::from_parts(
        SecretKey::from_bytes(hex32(s(spk, "secretKey"))),
        PublicKey::from_bytes(hex32(s(spk, "publicKey"))),
    )
    .expect("signed prekey pair");
    let bundle = BundleResponse {
        identity_key: identity.public().dh.to_base64(),
        signing_key: identity.public().signing.to_base64(),
        fingerprint: Some(identity.fingerprint().as_str().to_string()),
        signed_prekey: Some(quickchat_core::protocol::rest::BundleSignedPrekey {
            key_id: spk["keyId"].as_u64().expect("keyId") as u32,
            public_key: pair.public().to_base64(),
            signature: quickchat_core::encoding::b64_encode(&hex(s(spk, "signature"))),
            created_at: None,
        }),
        one_time_prekey: None,
    }
    .to_bundle()
    .expect("bundle");
    VectorParty {
        identity,
        signed_prekey: pair.secret().clone(),
        bundle,
        sessions: HashMap::new(),
    }
}

/// Every step of the web client's recorded conversation, through the peer's own session
/// and ratchet code: same draws in, same wire strings, plaintexts and states out.
fn replay_conversation(path: &Path, file: &Value) -> usize {
    let mut parties: HashMap<String, VectorParty> = file["parties"]
        .as_object()
        .expect("parties")
        .values()
        .map(|spec| (s(spec, "userId").to_string(), vector_party(spec)))
        .collect();
    let steps = file["steps"].as_array().expect("steps");
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{} step {i} ({})", path.display(), s(step, "op"));
        let by = s(step, "by").to_string();
        let peer = step
            .get("to")
            .or_else(|| step.get("from"))
            .and_then(Value::as_str)
            .expect("to/from")
            .to_string();
        let mut rng = ReplayRng::new(draws_of(&step["draws"]));
        let failed = step.get("error").is_some_and(|e| !e.is_null());
        match s(step, "op") {
            "encrypt" => {
                let peer_bundle = parties[&peer].bundle.clone();
                let me = parties.get_mut(&by).expect("sender");
                if !me.sessions.contains_key(&peer) {
                    let session = WebSession::initiate(&me.identity, &peer_bundle, &mut rng)
                        .unwrap_or_else(|e| panic!("{at}: initiate: {e}"));
                    me.sessions.insert(peer.clone(), session);
                }
                let session = me.sessions.get_mut(&peer).expect("session");
                let envelope = session
                    .encrypt(s(step, "plaintext"), &mut rng)
                    .unwrap_or_else(|e| panic!("{at}: encrypt: {e}"));
                assert_eq!(envelope.to_json(), s(step, "wire"), "{at}: wire");
            }
            "decrypt" => {
                let envelope = Envelope::parse(s(step, "wire")).expect("wire parses");
                let me = parties.get_mut(&by).expect("receiver");
                if let Some(x3dh) = &envelope.x3dh {
                    assert_eq!(
                        x3dh.used_one_time_prekey_id, None,
                        "{at}: web never uses DH4"
                    );
                    let session = WebSession::accept(
                        &me.identity,
                        &me.signed_prekey,
                        None,
                        x3dh,
                        &envelope.header,
                        x3dh.used_signed_prekey_id,
                    );
                    me.sessions.insert(peer.clone(), session);
                }
                let session = me.sessions.get_mut(&peer).expect("session");
                let result = session.decrypt(&envelope, &mut rng);
                if failed {
                    assert!(
                        result.is_err(),
                        "{at}: the web client failed, the peer did not"
                    );
                } else {
                    let plaintext = result.unwrap_or_else(|e| panic!("{at}: decrypt: {e}"));
                    assert_eq!(plaintext, s(step, "plaintext"), "{at}: plaintext");
                }
            }
            other => panic!("{at}: unknown op {other}"),
        }
        rng.finish().unwrap_or_else(|e| panic!("{at}: draws: {e}"));
        // The web client's state after the step, even after a failure (it saves it).
        if let Some(state) = step.get("stateAfter").and_then(Value::as_str) {
            let session = &parties[&by].sessions[&peer];
            assert_eq!(
                session.ratchet().to_reference_json(),
                state,
                "{at}: state after"
            );
        }
    }
    steps.len()
}

/// The x3dh cases through the peer's session code: the initiator's ephemeral key and the
/// secret (seen as the first root and chain keys it yields), the responder with and
/// without DH4, and the web client's error for a bad signature.
fn replay_x3dh(path: &Path, file: &Value, identities: &[Value]) -> usize {
    let cases = file["cases"].as_array().expect("cases");
    for (i, case) in cases.iter().enumerate() {
        let at = format!("{} case {i}", path.display());
        let party = |key: &str| {
            let index = case[key].as_u64().expect("party index") as usize;
            IdentityKeyPair::from_seed(hex32(s(&identities[index], "seed")))
        };
        let (initiator, responder) = (party("initiator"), party("responder"));
        let responder_case = &identities[case["responder"].as_u64().expect("responder") as usize];
        let bundle_json: BundleResponse =
            serde_json::from_value(case["bundle"].clone()).expect("bundle");
        let bundle = bundle_json.to_bundle().expect("bundle keys");

        // The draws X3DH recorded, then one more for the ratchet key the session draws.
        let mut draws = draws_of(&case["initiatorDraws"]);
        draws.push(vec![0x42; 32]);
        let mut rng = ReplayRng::new(draws);
        let session = WebSession::initiate(&initiator, &bundle, &mut rng)
            .unwrap_or_else(|e| panic!("{at}: initiate: {e}"));
        rng.finish().unwrap_or_else(|e| panic!("{at}: draws: {e}"));
        let x3dh = *session.pending_x3dh().expect("first message carries x3dh");
        assert_eq!(
            x3dh.sender_ephemeral_key.as_bytes().as_slice(),
            hex(s(case, "ephemeralPublicKey")),
            "{at}: ephemeral key"
        );
        assert_eq!(x3dh.used_one_time_prekey_id, None, "{at}: never DH4");
        let state: Value =
            serde_json::from_str(&session.ratchet().to_reference_json()).expect("state JSON");
        let (root, chain) = first_keys(s(case, "sharedSecret"));
        assert_eq!(s(&state, "rootKey"), root, "{at}: initiator secret");
        assert_eq!(
            s(&state, "sendingChainKey"),
            chain,
            "{at}: initiator secret"
        );

        // Responder: with the one-time prekey named, and without.
        let spk_secret =
            SecretKey::from_bytes(hex32(s(&responder_case["signedPrekey"], "secretKey")));
        let otk = bundle.one_time_prekey.expect("one-time prekey in bundle");
        let otk_secret = responder_case["oneTimePrekeys"]
            .as_array()
            .expect("oneTimePrekeys")
            .iter()
            .find(|o| o["keyId"].as_u64() == Some(u64::from(otk.id)))
            .map(|o| SecretKey::from_bytes(hex32(s(o, "secretKey"))))
            .expect("responder holds the bundle's one-time prekey");
        let header = quickchat_core::ratchet::Header {
            ratchet_key: PublicKey::from_bytes([9; 32]),
            previous_chain_length: 0,
            message_number: 0,
        };
        for (one_time, expected) in [
            (None, "responderSharedSecret"),
            (Some(&otk_secret), "responderSharedSecretWithOneTimePrekey"),
        ] {
            let session = WebSession::accept(&responder, &spk_secret, one_time, &x3dh, &header, 0);
            let state: Value =
                serde_json::from_str(&session.ratchet().to_reference_json()).expect("state");
            let (root, chain) = first_keys(s(case, expected));
            assert_eq!(s(&state, "rootKey"), root, "{at}: {expected}");
            assert_eq!(s(&state, "receivingChainKey"), chain, "{at}: {expected}");
        }

        let mut tampered = bundle;
        if let Some(spk) = tampered.signed_prekey.as_mut() {
            spk.signature[7] ^= 0x20;
        }
        let err = WebSession::initiate(&initiator, &tampered, &mut ReplayRng::new([]))
            .expect_err("a tampered signature must fail");
        assert_eq!(err.to_string(), s(case, "tamperedSignatureError"), "{at}");
    }
    cases.len()
}

#[test]
fn vectors_replay_byte_for_byte_through_the_web_peer() {
    let files = vector_files();
    let identities: Vec<Value> = files
        .iter()
        .find(|(p, _)| p.file_name().is_some_and(|n| n == "identity.json"))
        .map(|(_, v)| v["cases"].as_array().expect("cases").clone())
        .unwrap_or_default();
    let (mut steps, mut cases) = (0, 0);
    for (path, file) in &files {
        if file.get("steps").is_some() && file.get("parties").is_some() {
            steps += replay_conversation(path, file);
        } else if file["cases"]
            .as_array()
            .and_then(|c| c.first())
            .is_some_and(|c| c.get("initiatorDraws").is_some())
        {
            cases += replay_x3dh(path, file, &identities);
        }
    }
    assert!(steps > 0, "no conversation steps replayed");
    assert!(cases > 0, "no x3dh cases replayed");
}

/// The web client's in-place ratchet: a message that fails to open leaves the chain
/// advanced, so the next message of that chain fails too (PROTOCOL §4 weakness 2, §8).
#[test]
fn a_failed_decryption_breaks_the_rest_of_the_chain() {
    let alice = IdentityKeyPair::from_seed([1; 32]);
    let bob = IdentityKeyPair::from_seed([2; 32]);
    let mut rng = quickchat_core::rand_core::UnwrapErr(getrandom::SysRng);
    let spk = quickchat_core::keys::SignedPrekey::generate(&bob, 1, 0, &mut rng);
    let bundle = PrekeyBundle {
        identity: *bob.public(),
        signed_prekey: Some(spk.public()),
        one_time_prekey: None,
    };
    let mut sender = WebSession::initiate(&alice, &bundle, &mut rng).unwrap();
    let sent: Vec<Envelope> = (0..3)
        .map(|i| sender.encrypt(&format!("m{i}"), &mut rng).unwrap())
        .collect();
    let x3dh = sent[0].x3dh.expect("first message has x3dh");
    let mut receiver =
        WebSession::accept(&bob, spk.pair().secret(), None, &x3dh, &sent[0].header, 1);
    assert_eq!(receiver.decrypt(&sent[0], &mut rng).unwrap(), "m0");
    let mut forged = sent[1].clone();
    forged.ciphertext[30] ^= 1;
    assert_eq!(
        receiver.decrypt(&forged, &mut rng),
        Err(WebFailure::Ratchet(WebRatchetError::Authentication))
    );
    // The genuine message 1 and everything after it in the chain are lost.
    assert!(receiver.decrypt(&sent[1], &mut rng).is_err());
    assert!(receiver.decrypt(&sent[2], &mut rng).is_err());
}

/// The web client ignores `previousChainLength` and looks up skipped keys only after a DH
/// step (PROTOCOL §4 weakness 1): a message of an older chain that arrives after the
/// peer's next chain is lost, and its stale ratchet key sends the session through a bogus
/// DH step that breaks the current chain too.
#[test]
fn a_late_message_from_an_old_chain_is_lost_and_breaks_the_session() {
    let alice = IdentityKeyPair::from_seed([3; 32]);
    let bob = IdentityKeyPair::from_seed([4; 32]);
    let mut rng = quickchat_core::rand_core::UnwrapErr(getrandom::SysRng);
    let spk = quickchat_core::keys::SignedPrekey::generate(&bob, 1, 0, &mut rng);
    let bundle = PrekeyBundle {
        identity: *bob.public(),
        signed_prekey: Some(spk.public()),
        one_time_prekey: None,
    };
    let mut a = WebSession::initiate(&alice, &bundle, &mut rng).unwrap();
    let m0 = a.encrypt("m0", &mut rng).unwrap();
    let late = a.encrypt("late", &mut rng).unwrap();
    let x3dh = m0.x3dh.expect("x3dh");
    let mut b = WebSession::accept(&bob, spk.pair().secret(), None, &x3dh, &m0.header, 1);
    assert_eq!(b.decrypt(&m0, &mut rng).unwrap(), "m0");
    let reply = b.encrypt("reply", &mut rng).unwrap();
    assert_eq!(a.decrypt(&reply, &mut rng).unwrap(), "reply");
    let next_chain = a.encrypt("next chain", &mut rng).unwrap();
    let after = a.encrypt("after", &mut rng).unwrap();
    assert_eq!(b.decrypt(&next_chain, &mut rng).unwrap(), "next chain");
    assert_eq!(
        b.decrypt(&late, &mut rng),
        Err(WebFailure::Ratchet(WebRatchetError::Authentication))
    );
    assert!(
        b.decrypt(&after, &mut rng).is_err(),
        "the current chain is broken too"
    );
}

// ---------------------------------------------------------------- web peer ↔ web peer

/// One message and its outcome at the receiver, as a person types: one at a time.
async fn web_says(from: &WebPeer, to: &WebPeer, text: &str) -> bool {
    let before = to.outcome_count();
    from.send_text(to.user_id(), text).await.expect("web send");
    to.wait_for_outcomes(before + 1, WAIT)
        .await
        .expect("outcome");
    let received = to.received();
    let last = received.last().expect("received");
    assert_eq!(last.plaintext, text);
    assert_eq!(last.from, from.user_id());
    last.new_session
}

async fn web_peers_chat(options: WebPeerOptions) {
    let server = server().await;
    let alice = WebPeer::register_with(&server, "web_alice", options.clone())
        .await
        .unwrap();
    let bob = WebPeer::register_with(&server, "web_bob", options)
        .await
        .unwrap();
    assert_eq!(alice.signed_prekey_id(), 1);

    // Alice starts the session; only her first message carries x3dh.
    let mut new_sessions = Vec::new();
    for text in ["hi bob", "second", "third 👋"] {
        new_sessions.push(web_says(&alice, &bob, text).await);
    }
    // Bob answers on the same session (its signed-prekey id is unchanged): a DH step.
    for text in ["hi alice", "reply two"] {
        new_sessions.push(web_says(&bob, &alice, text).await);
    }
    // And back again: another DH step each way.
    for text in ["after the turn", ""] {
        new_sessions.push(web_says(&alice, &bob, text).await);
    }
    new_sessions.push(web_says(&bob, &alice, "last").await);
    assert_eq!(
        new_sessions,
        [true, false, false, false, false, false, false, false]
    );
    assert_all_decrypted(&bob, 5).await;
    assert_all_decrypted(&alice, 3).await;
    assert_eq!(
        bob.session(alice.user_id())
            .expect("session")
            .remote_signed_prekey_id(),
        1
    );
    alice.close().await;
    bob.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_web_peers_chat_both_ways_concurrent() {
    web_peers_chat(WebPeerOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_web_peers_chat_both_ways_sequential() {
    web_peers_chat(WebPeerOptions::sequential()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_web_peers_chat_both_ways_on_shared_sessions() {
    web_peers_chat(shared_sessions(false)).await;
}

/// `resetE2EE` keeps the id counter: the new signed prekey is 102, and the peer notices
/// only through that id on its next send, which starts a new session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_keeps_the_counter_and_the_peer_starts_over() {
    let server = server().await;
    let alice = WebPeer::register(&server, "web_alice").await.unwrap();
    let bob = WebPeer::register(&server, "web_bob").await.unwrap();
    assert!(web_says(&alice, &bob, "before").await);
    assert!(!web_says(&bob, &alice, "reply").await);
    bob.reset_e2ee().await.unwrap();
    assert_eq!(bob.signed_prekey_id(), 102);
    assert!(bob.session(alice.user_id()).is_none());
    assert!(web_says(&alice, &bob, "after reset").await, "new session");
    assert!(!web_says(&bob, &alice, "reply after reset").await);

    bob.reinstall().await.unwrap();
    assert_eq!(bob.signed_prekey_id(), 1);
    alice.close().await;
    bob.close().await;
}

/// An unchanged signed-prekey id means "same session" to the web app, whatever the
/// identity key: after a reinstall (ids from 1 again) the peer keeps its old session, and
/// the new install cannot read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinstall_with_the_same_signed_prekey_id_goes_unnoticed() {
    let server = server().await;
    let alice = WebPeer::register(&server, "web_alice").await.unwrap();
    let bob = WebPeer::register(&server, "web_bob").await.unwrap();
    assert!(web_says(&alice, &bob, "before").await);
    bob.reinstall().await.unwrap();
    assert_eq!(bob.signed_prekey_id(), 1);
    alice
        .send_text(bob.user_id(), "after reinstall")
        .await
        .unwrap();
    bob.wait_for_outcomes(2, WAIT).await.unwrap();
    let failures = bob.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].reason, WebFailure::NoSession);

    // A login on a new browser is a fresh install of the same account.
    bob.close().await;
    let carol = WebPeer::register(&server, "web_carol").await.unwrap();
    let bob_again = WebPeer::login_with(
        &server,
        bob.username(),
        support::web_peer::PASSWORD,
        WebPeerOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(bob_again.user_id(), bob.user_id());
    assert_eq!(bob_again.signed_prekey_id(), 1);
    assert!(web_says(&carol, &bob_again, "hello new browser").await);
    alice.close().await;
    carol.close().await;
    bob_again.close().await;
}

// ---------------------------------------------------------------- SDK ↔ web peer

async fn sdk_says(client: &Client, web: &WebPeer, text: &str) -> bool {
    let before = web.outcome_count();
    client
        .send_text(web.user_id(), text)
        .await
        .expect("sdk send");
    web.wait_for_outcomes(before + 1, WAIT)
        .await
        .expect("outcome");
    let received = web.received();
    let last = received.last().expect("web peer decrypted it");
    assert_eq!(last.plaintext, text);
    assert_eq!(last.from, id(client));
    last.new_session
}

/// The web peer sends `text` to the SDK user `sdk_id`, whose events are `events`.
async fn web_says_to_sdk(
    web: &WebPeer,
    sdk_id: &str,
    events: &mut quickchat::EventStream,
    text: &str,
) {
    let message_id = web.send_text(sdk_id, text).await.expect("web send");
    let got = next_message(events).await;
    assert_eq!(got.body, text);
    assert!(got.encrypted);
    assert_eq!(got.id, message_id);
    assert_eq!(got.sender_id, web.user_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_client_and_web_peer_chat_both_ways() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let web = WebPeer::register(&server, "web").await.unwrap();
    let mut events = alice.events();

    // The SDK starts the session (with the web peer's one-time prekey mixed in).
    assert!(sdk_says(&alice, &web, "hello web").await);
    assert!(!sdk_says(&alice, &web, "still me").await);
    web_says_to_sdk(&web, &id(&alice), &mut events, "hello sdk").await;
    web_says_to_sdk(&web, &id(&alice), &mut events, "web again").await;
    assert!(!sdk_says(&alice, &web, "after the turn").await);
    web_says_to_sdk(&web, &id(&alice), &mut events, "and back").await;
    assert_all_decrypted(&web, 3).await;

    // The web peer starts a session with another SDK user.
    let bob = registered(&server, &dir, "bob").await;
    let mut bob_events = bob.events();
    web_says_to_sdk(&web, &id(&bob), &mut bob_events, "hello bob, from the web").await;
    assert!(!sdk_says(&bob, &web, "hi web, from bob").await);
    web_says_to_sdk(&web, &id(&bob), &mut bob_events, "web to bob").await;
    assert!(!sdk_says(&bob, &web, "bob to web").await);
    assert_all_decrypted(&web, 5).await;
    alice.close().await;
    bob.close().await;
    web.close().await;
}

/// The message number and previous chain length of an SDK message's wire.
fn numbers_of(sent: &quickchat::MessageRecord) -> (u32, u32) {
    let wire = sent
        .wire
        .as_deref()
        .expect("an encrypted message has a wire");
    let header = Envelope::parse(wire).expect("wire").header;
    (header.message_number, header.previous_chain_length)
}

/// Sends `texts` to the web peer one at a time, each once the peer has handled the one
/// before; their message numbers.
async fn send_one_by_one(client: &Client, web: &WebPeer, texts: &[String]) -> Vec<u32> {
    let mut numbers = Vec::new();
    for text in texts {
        let before = web.outcome_count();
        let sent = client.send_text(web.user_id(), text).await.unwrap();
        numbers.push(numbers_of(&sent).0);
        web.wait_for_outcomes(before + 1, WAIT).await.unwrap();
    }
    numbers
}

/// An SDK client that keeps its sending chains stored ahead of what it sent
/// (`SessionConfig::send_ahead`) restarts in the middle of a chain: it resumes past every
/// number it sent, the web peer passes over the numbers in between (it keeps their keys, as
/// the web client does) and reads everything, and after the next turn the SDK tells it how
/// long the chain really was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_client_sending_ahead_restarts_mid_chain_and_the_web_peer_reads_on() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = || quickchat::ClientConfig {
        session: quickchat_core::session::SessionConfig {
            send_ahead: 16,
            ..Default::default()
        },
        ..fast_config()
    };
    let alice = client_with(&server, &dir, "alice", config()).await;
    alice
        .register(&unique("alice"), "secret123", None)
        .await
        .unwrap();
    alice.connect_and_wait(WAIT).await.unwrap();
    let web = WebPeer::register(&server, "web").await.unwrap();
    let peer = web.user_id().to_string();
    let texts: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    let numbers = send_one_by_one(&alice, &web, &texts).await;
    assert_eq!(
        numbers,
        (0..10).collect::<Vec<_>>(),
        "nothing passed over while running"
    );

    alice.close().await;
    drop(alice);
    let alice = reopened(&server, &dir, "alice", config()).await;
    let mut events = alice.events();
    let texts: Vec<String> = (0..3).map(|i| format!("after {i}")).collect();
    let after = send_one_by_one(&alice, &web, &texts).await;
    // Ten messages: the chain was last written at its 8th, stored 7 ahead (Ns = 15).
    assert_eq!(after, vec![15, 16, 17], "resumed at the stored number");
    assert_all_decrypted(&web, 13).await;
    let texts: Vec<String> = web.received().into_iter().map(|r| r.plaintext).collect();
    assert_eq!(&texts[10..], ["after 0", "after 1", "after 2"]);

    web_says_to_sdk(&web, &id(&alice), &mut events, "your turn").await;
    let answer = alice.send_text(&peer, "the answer").await.unwrap();
    assert_eq!(numbers_of(&answer), (0, 18), "the chain's true length");
    assert_all_decrypted(&web, 14).await;
    alice.close().await;
    web.close().await;
}

// ---------------------------------------------------------------- loss modes (PROTOCOL §8)

fn describe(failures: &[Failure]) -> String {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for failure in failures {
        *counts.entry(failure.reason.to_string()).or_default() += 1;
    }
    format!("{counts:?}")
}

/// A first message and nine more at once.
async fn first_then_nine(options: WebPeerOptions) {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let web = WebPeer::register_with(&server, "web", options)
        .await
        .unwrap();
    let peer = web.user_id().to_string();
    alice.send_text(&peer, "first").await.unwrap();
    let sends = (2..=10).map(|i| {
        let alice = &alice;
        let peer = peer.clone();
        async move { alice.send_text(&peer, &format!("burst {i}")).await }
    });
    for sent in join_all(sends).await {
        sent.unwrap();
    }
    web.wait_for_outcomes(10, WAIT).await.unwrap();
    eprintln!(
        "first + 9: {}/10 decrypted, failures {}",
        web.received().len(),
        describe(&web.failures())
    );
    assert_all_decrypted(&web, 10).await;
    alice.close().await;
    web.close().await;
}

/// The concurrent web app handles the nine while the first still waits for its bundle
/// fetch; they find no session and are lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_after_a_first_message_reaches_a_web_peer_whole() {
    first_then_nine(WebPeerOptions::default()).await;
}

/// The control: handled one at a time, all ten decrypt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_after_a_first_message_reaches_a_sequential_web_peer_whole() {
    first_then_nine(WebPeerOptions::sequential()).await;
}

/// The web app's race model the loss test below needs: handlers share the in-memory
/// session and each awaited KDF lets another handler in (see `SessionAccess`).
fn shared_sessions(sequential: bool) -> WebPeerOptions {
    WebPeerOptions {
        sequential,
        access: SessionAccess::SharedAwaitingKdf {
            kdf_delay: Duration::from_millis(1),
        },
        ..WebPeerOptions::default()
    }
}

/// Thirty at once in an established session (the SDK's sends start a new chain, so the
/// web peer takes a DH step on the first of them).
async fn burst_of_thirty(options: WebPeerOptions) {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let web = WebPeer::register_with(&server, "web", options)
        .await
        .unwrap();
    let mut events = alice.events();
    let peer = web.user_id().to_string();
    assert!(sdk_says(&alice, &web, "hello").await);
    web_says_to_sdk(&web, &id(&alice), &mut events, "hi").await;

    let sends = (1..=30).map(|i| {
        let alice = &alice;
        let peer = peer.clone();
        async move { alice.send_text(&peer, &format!("burst {i}")).await }
    });
    for sent in join_all(sends).await {
        sent.unwrap();
    }
    web.wait_for_outcomes(31, WAIT).await.unwrap();
    eprintln!(
        "burst of 30: {}/30 decrypted, failures {}",
        web.received().len() - 1,
        describe(&web.failures())
    );
    assert_all_decrypted(&web, 31).await;
    alice.close().await;
    web.close().await;
}

/// Concurrent handlers on the shared session overlap in the ratchet's awaited KDF steps:
/// keys get filed under the wrong number and the chain falls out of step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_thirty_reaches_a_concurrent_web_peer_whole() {
    burst_of_thirty(shared_sessions(false)).await;
}

/// The control: the same peer handling one message at a time decrypts all thirty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_thirty_reaches_a_sequential_web_peer_whole() {
    burst_of_thirty(shared_sessions(true)).await;
}

/// Load-copy / save-whole handlers (last save wins) race too, but that alone loses no
/// message of one chain: a message's key leaves the state only through its own handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_thirty_survives_last_save_wins_alone() {
    burst_of_thirty(WebPeerOptions::default()).await;
}
