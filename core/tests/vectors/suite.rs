// The vector suite's tests, included unchanged by core/tests/vectors.rs (natively) and by
// platform-wasm/tests/core_vectors.rs (wasm32 in Node): `test` and `host` come from the
// includer.
use std::collections::HashMap;
use std::path::Path;

use futures_executor::block_on;
use quickchat_core::encoding::b64_encode;
use quickchat_core::keys::{
    IdentityKeyPair, KeyPair, OneTimePrekey, PublicKey, SecretKey, SignedPrekey,
};
use quickchat_core::protocol::rest::BundleResponse;
use quickchat_core::ratchet::RatchetState;
use quickchat_core::reference::WebStorageSnapshot;
use quickchat_core::testing::ReplayRng;
use quickchat_core::session::{SessionConfig, SessionEngine};
use quickchat_core::store::{
    AccountMeta, IdentityRecord, MemoryStore, OneTimePrekeyRecord, SignedPrekeyRecord, Store,
    StoreOp, WriteBatch,
};
use quickchat_core::x3dh::{self, OneTimePrekeyUse, PrekeyBundle};
use serde_json::Value;

use common::{Kind, draws, files_of, hex, hex32, kind_of, s};

#[test]
fn every_vector_file_is_understood() {
    let files = common::all_files();
    let mut kinds = Vec::new();
    for (path, value) in &files {
        let kind = kind_of(value)
            .unwrap_or_else(|| panic!("{} is not a vector file this suite knows", path.display()));
        kinds.push(kind);
    }
    if common::using_default_dir() {
        for kind in [
            Kind::Identity,
            Kind::X3dh,
            Kind::Conversation,
            Kind::WebStorageImport,
        ] {
            assert!(
                kinds.contains(&kind),
                "the in-repo vectors lack a {kind:?} file"
            );
        }
    }
}

// ---------------------------------------------------------------- identity

#[test]
fn identity_vectors() {
    let files = files_of(Kind::Identity);
    if common::using_default_dir() {
        assert!(!files.is_empty());
    }
    for (path, file) in files {
        let cases = file["cases"].as_array().expect("cases");
        assert!(!cases.is_empty(), "{}: no cases", path.display());
        for (i, case) in cases.iter().enumerate() {
            check_identity_case(&path, i, case);
        }
    }
}

fn check_identity_case(path: &Path, i: usize, case: &Value) {
    let at = format!("{} case {i}", path.display());
    let mut rng = ReplayRng::new(draws(case));
    let identity = IdentityKeyPair::generate(&mut rng);
    rng.finish()
        .unwrap_or_else(|e| panic!("{at}: identity draws: {e}"));
    assert_eq!(
        identity.seed().as_slice(),
        hex(s(case, "seed")),
        "{at}: seed"
    );
    assert_eq!(
        identity.public().signing.as_bytes().as_slice(),
        hex(s(case, "signingPublicKey")),
        "{at}: signing public key"
    );
    assert_eq!(
        identity.signing_secret_bytes().as_slice(),
        hex(s(case, "signingSecretKey")),
        "{at}: signing secret key"
    );
    assert_eq!(
        identity.public().dh.as_bytes().as_slice(),
        hex(s(case, "x25519PublicKey")),
        "{at}: x25519 public key"
    );
    assert_eq!(
        identity.dh().secret().as_bytes().as_slice(),
        hex(s(case, "x25519SecretKey")),
        "{at}: x25519 secret key"
    );
    assert_eq!(
        identity.fingerprint().as_str(),
        s(case, "fingerprint"),
        "{at}: fingerprint"
    );

    let spk = &case["signedPrekey"];
    let mut rng = ReplayRng::new(draws(spk));
    let key_id = spk["keyId"].as_u64().expect("keyId") as u32;
    let prekey = SignedPrekey::generate(&identity, key_id, 0, &mut rng);
    rng.finish()
        .unwrap_or_else(|e| panic!("{at}: signed prekey draws: {e}"));
    assert_eq!(prekey.id(), key_id);
    assert_eq!(
        prekey.pair().secret().as_bytes().as_slice(),
        hex(s(spk, "secretKey")),
        "{at}: signed prekey secret"
    );
    assert_eq!(
        prekey.pair().public().as_bytes().as_slice(),
        hex(s(spk, "publicKey")),
        "{at}: signed prekey public"
    );
    assert_eq!(
        prekey.signature().as_slice(),
        hex(s(spk, "signature")),
        "{at}: signed prekey signature"
    );

    for otk in case["oneTimePrekeys"].as_array().expect("oneTimePrekeys") {
        let mut rng = ReplayRng::new(draws(otk));
        let key_id = otk["keyId"].as_u64().expect("keyId") as u32;
        let prekey = OneTimePrekey::generate(key_id, &mut rng);
        rng.finish()
            .unwrap_or_else(|e| panic!("{at}: one-time prekey draws: {e}"));
        assert_eq!(
            prekey.pair().secret().as_bytes().as_slice(),
            hex(s(otk, "secretKey")),
            "{at}: one-time prekey {key_id} secret"
        );
        assert_eq!(
            prekey.pair().public().as_bytes().as_slice(),
            hex(s(otk, "publicKey")),
            "{at}: one-time prekey {key_id} public"
        );
    }
}

// ---------------------------------------------------------------- x3dh

/// The identity cases an x3dh file refers to: those of `identity.json` beside it, or of
/// the only identity file there.
fn identity_cases_beside(path: &Path) -> Vec<Value> {
    let identity_files = files_of(Kind::Identity);
    let chosen = identity_files
        .iter()
        .find(|(p, _)| p.file_name().is_some_and(|n| n == "identity.json"))
        .or_else(|| (identity_files.len() == 1).then(|| &identity_files[0]))
        .unwrap_or_else(|| {
            panic!(
                "{}: needs identity.json (or a single identity file) beside it",
                path.display()
            )
        });
    chosen.1["cases"].as_array().expect("cases").clone()
}

#[test]
fn x3dh_vectors() {
    let files = files_of(Kind::X3dh);
    if common::using_default_dir() {
        assert!(!files.is_empty());
    }
    for (path, file) in files {
        let identities = identity_cases_beside(&path);
        for (i, case) in file["cases"].as_array().expect("cases").iter().enumerate() {
            check_x3dh_case(&format!("{} case {i}", path.display()), case, &identities);
        }
    }
}

fn check_x3dh_case(at: &str, case: &Value, identities: &[Value]) {
    let initiator_case = &identities[case["initiator"].as_u64().expect("initiator") as usize];
    let responder_case = &identities[case["responder"].as_u64().expect("responder") as usize];
    let initiator = IdentityKeyPair::from_seed(hex32(s(initiator_case, "seed")));
    let responder = IdentityKeyPair::from_seed(hex32(s(responder_case, "seed")));
    let bundle_json: BundleResponse =
        serde_json::from_value(case["bundle"].clone()).expect("bundle");
    let bundle = bundle_json.to_bundle().expect("bundle keys");

    // Initiator, as the reference does it: no one-time prekey.
    let mut rng = ReplayRng::new(
        case["initiatorDraws"]
            .as_array()
            .map_or_else(Vec::new, |a| {
                a.iter().map(|d| hex(d.as_str().expect("hex"))).collect()
            }),
    );
    let initiated = x3dh::initiate(&initiator, &bundle, OneTimePrekeyUse::Never, &mut rng)
        .unwrap_or_else(|e| panic!("{at}: initiate: {e}"));
    rng.finish()
        .unwrap_or_else(|e| panic!("{at}: initiator draws: {e}"));
    assert_eq!(
        initiated.ephemeral_public.as_bytes().as_slice(),
        hex(s(case, "ephemeralPublicKey")),
        "{at}: ephemeral public key"
    );
    assert_eq!(
        initiated.shared_secret.as_bytes().as_slice(),
        hex(s(case, "sharedSecret")),
        "{at}: initiator secret"
    );
    assert_eq!(initiated.used_one_time_prekey_id, None);

    // Responder, with and without the one-time prekey.
    let spk_case = &responder_case["signedPrekey"];
    let spk_id = bundle.signed_prekey.expect("signed prekey").id;
    assert_eq!(
        spk_case["keyId"].as_u64(),
        Some(u64::from(spk_id)),
        "{at}: spk id"
    );
    let spk_secret = SecretKey::from_bytes(hex32(s(spk_case, "secretKey")));
    let otk = bundle.one_time_prekey.expect("one-time prekey in bundle");
    let otk_case = responder_case["oneTimePrekeys"]
        .as_array()
        .expect("oneTimePrekeys")
        .iter()
        .find(|o| o["keyId"].as_u64() == Some(u64::from(otk.id)))
        .unwrap_or_else(|| panic!("{at}: responder lacks one-time prekey {}", otk.id));
    let otk_secret = SecretKey::from_bytes(hex32(s(otk_case, "secretKey")));
    let sender_identity = initiator.public().dh;
    let without = x3dh::respond(
        &responder,
        &spk_secret,
        None,
        &sender_identity,
        &initiated.ephemeral_public,
    )
    .expect("x3dh respond");
    assert_eq!(
        without.as_bytes().as_slice(),
        hex(s(case, "responderSharedSecret")),
        "{at}: responder secret"
    );
    let with = x3dh::respond(
        &responder,
        &spk_secret,
        Some(&otk_secret),
        &sender_identity,
        &initiated.ephemeral_public,
    )
    .expect("x3dh respond");
    assert_eq!(
        with.as_bytes().as_slice(),
        hex(s(case, "responderSharedSecretWithOneTimePrekey")),
        "{at}: responder secret with DH4"
    );

    // This SDK's initiator with DH4 meets the reference responder's DH4 secret.
    let mut rng = ReplayRng::new(draws(&serde_json::json!({"draws": case["initiatorDraws"]})));
    let with_otk = x3dh::initiate(
        &initiator,
        &bundle,
        OneTimePrekeyUse::WhenAvailable,
        &mut rng,
    )
    .unwrap_or_else(|e| panic!("{at}: initiate with DH4: {e}"));
    assert_eq!(with_otk.used_one_time_prekey_id, Some(otk.id));
    assert_eq!(
        with_otk.shared_secret.as_bytes().as_slice(),
        hex(s(case, "responderSharedSecretWithOneTimePrekey")),
        "{at}: initiator secret with DH4"
    );

    // The reference's error cases.
    let mut tampered = bundle.clone();
    if let Some(spk) = tampered.signed_prekey.as_mut() {
        spk.signature[7] ^= 0x20;
    }
    let err = x3dh::initiate(
        &initiator,
        &tampered,
        OneTimePrekeyUse::Never,
        &mut ReplayRng::new([]),
    )
    .expect_err("tampered signature must fail");
    assert_eq!(err.to_string(), s(case, "tamperedSignatureError"), "{at}");
    let mut missing = bundle;
    missing.signed_prekey = None;
    let err = x3dh::initiate(
        &initiator,
        &missing,
        OneTimePrekeyUse::Never,
        &mut ReplayRng::new([]),
    )
    .expect_err("missing signed prekey must fail");
    assert_eq!(err.to_string(), "Recipient is missing signed prekey");
}

// ---------------------------------------------------------------- conversation

struct Party {
    engine: SessionEngine<MemoryStore>,
    bundle: PrekeyBundle,
}

fn party(user_id: &str, spec: &Value) -> Party {
    let identity = IdentityKeyPair::from_seed(hex32(s(spec, "identitySeed")));
    assert_eq!(
        identity.public().dh.as_bytes().as_slice(),
        hex(s(spec, "x25519PublicKey")),
        "{user_id}: identity key"
    );
    assert_eq!(identity.fingerprint().as_str(), s(spec, "fingerprint"));
    let spk_spec = &spec["signedPrekey"];
    let spk_pair = KeyPair::from_parts(
        SecretKey::from_bytes(hex32(s(spk_spec, "secretKey"))),
        PublicKey::from_bytes(hex32(s(spk_spec, "publicKey"))),
    )
    .expect("signed prekey pair");
    let signature: [u8; 64] = hex(s(spk_spec, "signature")).try_into().expect("64 bytes");
    let spk_id = spk_spec["keyId"].as_u64().expect("keyId") as u32;
    let spk = SignedPrekey::from_parts(spk_id, spk_pair, signature, 0);
    let store = MemoryStore::new();
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutIdentity(IdentityRecord {
        user_id: user_id.to_string(),
        identity: identity.clone(),
        created_at: 0,
    }));
    batch.push(StoreOp::PutSignedPrekey(SignedPrekeyRecord {
        prekey: spk.clone(),
        uploaded: true,
        retired_at: None,
    }));
    let mut max_id = spk_id;
    for otk in spec["oneTimePrekeys"].as_array().into_iter().flatten() {
        let id = otk["keyId"].as_u64().expect("keyId") as u32;
        max_id = max_id.max(id);
        let pair = KeyPair::from_parts(
            SecretKey::from_bytes(hex32(s(otk, "secretKey"))),
            PublicKey::from_bytes(hex32(s(otk, "publicKey"))),
        )
        .expect("one-time prekey pair");
        batch.push(StoreOp::PutOneTimePrekey(OneTimePrekeyRecord {
            prekey: OneTimePrekey::from_parts(id, pair),
            uploaded: true,
        }));
    }
    batch.push(StoreOp::PutAccountMeta(AccountMeta {
        next_prekey_id: max_id + 1,
        current_signed_prekey_id: Some(spk_id),
        last_upload_at: None,
        login: None,
        ..AccountMeta::default()
    }));
    block_on(store.commit(batch)).expect("commit");
    let bundle = PrekeyBundle {
        identity: *identity.public(),
        signed_prekey: Some(spk.public()),
        one_time_prekey: None,
    };
    let config = SessionConfig {
        one_time_prekey_use: OneTimePrekeyUse::Never,
        ..SessionConfig::default()
    };
    let engine = block_on(SessionEngine::open(store, config)).expect("open engine");
    Party { engine, bundle }
}

fn exported_state(party: &Party, peer: &str) -> String {
    let sessions = block_on(party.engine.store().peer_sessions(peer))
        .expect("store")
        .expect("session exists");
    sessions.current.ratchet.to_reference_json().to_string()
}

fn import_state(party: &Party, peer: &str, state_json: &str) {
    let store = party.engine.store();
    let mut sessions = block_on(store.peer_sessions(peer))
        .expect("store")
        .expect("session exists");
    sessions.current.ratchet =
        RatchetState::from_reference_json(state_json).expect("stateAfter imports");
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutSessions(sessions));
    block_on(store.commit(batch)).expect("commit");
}

/// Replays a conversation file. With `from_reference_states`, every operation of a party
/// starts from the reference's `stateAfter` of that party's previous operation instead of
/// the state this SDK computed, proving each one imports and continues.
fn replay_conversation(path: &Path, file: &Value, from_reference_states: bool) {
    let parties_spec = file["parties"].as_object().expect("parties");
    let mut parties: HashMap<String, Party> = parties_spec
        .values()
        .map(|spec| {
            let id = s(spec, "userId").to_string();
            (id.clone(), party(&id, spec))
        })
        .collect();
    // Last reference state per (party, peer).
    let mut reference_states: HashMap<(String, String), String> = HashMap::new();
    let steps = file["steps"].as_array().expect("steps");
    assert!(!steps.is_empty(), "{}: no steps", path.display());
    for (i, step) in steps.iter().enumerate() {
        let at = format!(
            "{} step {i} ({}){}",
            path.display(),
            s(step, "op"),
            if from_reference_states {
                " from reference state"
            } else {
                ""
            }
        );
        let by = s(step, "by").to_string();
        let peer = step
            .get("to")
            .or_else(|| step.get("from"))
            .and_then(Value::as_str)
            .expect("to/from")
            .to_string();
        if from_reference_states
            && let Some(state) = reference_states.get(&(by.clone(), peer.clone()))
        {
            import_state(&parties[&by], &peer, state);
        }
        let mut rng = ReplayRng::new(draws(step));
        let error = step.get("error").filter(|e| !e.is_null());
        match s(step, "op") {
            "encrypt" => {
                let peer_bundle = parties[&peer].bundle.clone();
                let sender = parties.get_mut(&by).expect("sender");
                if !block_on(sender.engine.has_session(&peer)).expect("store") {
                    block_on(
                        sender
                            .engine
                            .start_session(&peer, &peer_bundle, 0, &mut rng),
                    )
                    .unwrap_or_else(|e| panic!("{at}: start session: {e}"));
                }
                let outgoing = block_on(async {
                    sender
                        .engine
                        .encrypt(&peer, s(step, "plaintext"), 0, &mut rng)
                        .await?
                        .commit()
                        .await
                })
                .unwrap_or_else(|e| panic!("{at}: encrypt: {e}"));
                assert_eq!(outgoing.wire, s(step, "wire"), "{at}: wire");
            }
            "decrypt" => {
                let receiver = parties.get_mut(&by).expect("receiver");
                let result = block_on(async {
                    receiver
                        .engine
                        .decrypt(&peer, s(step, "wire"), 0, &mut rng)
                        .await?
                        .commit()
                        .await
                });
                match (error, step.get("plaintext").and_then(Value::as_str)) {
                    (Some(err), None) => {
                        assert!(
                            result.is_err(),
                            "{at}: the reference failed ({err}), we did not"
                        );
                        continue;
                    }
                    (_, Some(plaintext)) => {
                        let incoming = result.unwrap_or_else(|e| panic!("{at}: decrypt: {e}"));
                        assert_eq!(incoming.plaintext, plaintext, "{at}: plaintext");
                    }
                    (None, None) => panic!("{at}: decrypt step without plaintext or error"),
                }
            }
            other => panic!("{at}: unknown op {other}"),
        }
        rng.finish().unwrap_or_else(|e| panic!("{at}: draws: {e}"));
        if error.is_none()
            && let Some(state) = step.get("stateAfter").and_then(Value::as_str)
        {
            assert_eq!(
                exported_state(&parties[&by], &peer),
                state,
                "{at}: state after"
            );
            reference_states.insert((by, peer), state.to_string());
        }
    }
}

#[test]
fn conversation_vectors() {
    let files = files_of(Kind::Conversation);
    if common::using_default_dir() {
        assert!(!files.is_empty());
    }
    for (path, file) in &files {
        replay_conversation(path, file, false);
    }
}

#[test]
fn conversation_continues_from_every_reference_state() {
    for (path, file) in &files_of(Kind::Conversation) {
        replay_conversation(path, file, true);
    }
}

// ---------------------------------------------------------------- web storage import

#[test]
fn web_storage_import_vectors() {
    let files = files_of(Kind::WebStorageImport);
    if common::using_default_dir() {
        assert!(!files.is_empty());
    }
    for (path, file) in files {
        let at = path.display().to_string();
        let user_id = s(&file, "userId");
        let snapshot =
            WebStorageSnapshot::from_value(file["snapshot"].clone()).expect("snapshot layout");
        let account = snapshot
            .import(user_id)
            .unwrap_or_else(|e| panic!("{at}: import: {e}"));
        let identity_row = snapshot_identity_row(&file, user_id);
        assert_eq!(
            account.identity.fingerprint().as_str(),
            s(identity_row, "fingerprint"),
            "{at}: fingerprint"
        );
        assert_eq!(
            b64_encode(account.identity.public().dh.as_bytes()),
            s(identity_row, "x25519PublicKey")
        );
        let store = MemoryStore::new();
        block_on(quickchat_core::account::import_account(&store, &account, 0))
            .unwrap_or_else(|e| panic!("{at}: save import: {e}"));
        let mut engine =
            block_on(SessionEngine::open(store, SessionConfig::default())).expect("open engine");
        let messages = file["afterSnapshot"].as_array().expect("afterSnapshot");
        assert!(!messages.is_empty(), "{at}: nothing to decrypt");
        for (i, message) in messages.iter().enumerate() {
            let mut rng = ReplayRng::new(draws(message));
            let incoming = block_on(async {
                engine
                    .decrypt(s(message, "from"), s(message, "wire"), 0, &mut rng)
                    .await?
                    .commit()
                    .await
            })
            .unwrap_or_else(|e| panic!("{at}: afterSnapshot {i}: {e}"));
            assert_eq!(
                incoming.plaintext,
                s(message, "plaintext"),
                "{at}: message {i}"
            );
            assert!(
                !incoming.new_session,
                "{at}: message {i} must continue the imported session"
            );
        }
    }
}

fn snapshot_identity_row<'a>(file: &'a Value, user_id: &str) -> &'a Value {
    file["snapshot"]["stores"]["identity"]
        .as_array()
        .expect("identity store")
        .iter()
        .map(|row| &row["value"])
        .find(|v| v["userId"].as_str() == Some(user_id))
        .expect("identity row")
}
