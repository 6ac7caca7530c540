//! Moving an account (`quickchat_core::archive`): the moved account continues its
//! conversations where it left off (no new X3DH, no identity change for the peer), the
//! source is marked moved, and bad files (wrong passphrase, cut short, tampered with, newer
//! format, not an account file) are refused without changing the target store.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod engines;

use engines::{bundle, engine, receive, send};
use futures_executor::block_on;
use quickchat_core::archive::{
    ArchiveError, ExportOptions, FORMAT_VERSION, ImportOptions, MAGIC, export_account,
    import_account, open_archive, reactivate_account,
};
use quickchat_core::rand_core::SeedableRng;
use quickchat_core::session::{SessionConfig, SessionEngine};
use quickchat_core::store::sealing::KdfStrength;
use quickchat_core::store::{MemoryStore, Store};
use rand_chacha::ChaCha20Rng;

const FAST: ExportOptions = ExportOptions {
    history: false,
    strength: KdfStrength::InsecureForTests,
};

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Alice and Bob with a session both ways and a few messages; Alice's store exported.
fn conversation_then_export(rng: &mut ChaCha20Rng) -> (engines::Engine, Vec<u8>, MemoryStore) {
    let mut alice = engine("alice", rng);
    let mut bob = engine("bob", rng);
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, rng)).unwrap();
    let first = send(&mut alice, "bob", "hi bob", rng);
    assert_eq!(
        receive(&mut bob, "alice", &first, rng).unwrap().plaintext,
        "hi bob"
    );
    let reply = send(&mut bob, "alice", "hi alice", rng);
    receive(&mut alice, "bob", &reply, rng).unwrap();
    let store = alice.into_store();
    let file = block_on(export_account(&store, "move it", FAST, 1_000, rng)).unwrap();
    (bob, file, store)
}

#[test]
fn the_moved_account_continues_its_sessions_without_a_new_x3dh() {
    let mut rng = rng(1);
    let (mut bob, file, source) = conversation_then_export(&mut rng);
    // The source is marked moved; the mark is not carried to the new place.
    let meta = block_on(source.account_meta()).unwrap().unwrap();
    assert_eq!(meta.moved_at, Some(1_000));

    let target = MemoryStore::new();
    let imported = block_on(import_account(
        &target,
        &file,
        "move it",
        ImportOptions::default(),
    ))
    .unwrap();
    assert_eq!(imported.user_id(), "alice");
    assert_eq!(imported.sessions.len(), 1);
    assert_eq!(
        block_on(target.account_meta()).unwrap().unwrap().moved_at,
        None
    );
    let mut moved = block_on(SessionEngine::open(target, SessionConfig::default())).unwrap();

    // Bob's next message decrypts at the new place, and the answer reaches Bob on the
    // existing session: a normal message, not a first message with X3DH data.
    let next = send(&mut bob, "alice", "still there?", &mut rng);
    assert_eq!(
        receive(&mut moved, "bob", &next, &mut rng)
            .unwrap()
            .plaintext,
        "still there?"
    );
    let answer = send(&mut moved, "bob", "yes, moved", &mut rng);
    let got = receive(&mut bob, "alice", &answer, &mut rng).unwrap();
    assert_eq!(got.plaintext, "yes, moved");
    assert!(!got.new_session, "no new X3DH");
    assert!(got.identity_change.is_none());
}

#[test]
fn bad_files_are_refused_and_change_nothing() {
    let mut rng = rng(2);
    let (_bob, file, _source) = conversation_then_export(&mut rng);
    let target = MemoryStore::new();
    let attempt = |bytes: &[u8], passphrase: &str| {
        block_on(import_account(
            &target,
            bytes,
            passphrase,
            ImportOptions::default(),
        ))
        .unwrap_err()
    };
    assert_eq!(attempt(&file, "wrong"), ArchiveError::WrongPassphrase);
    for cut in [0, 5, MAGIC.len() + 3, file.len() / 2, file.len() - 1] {
        assert!(
            matches!(
                attempt(&file[..cut], "move it"),
                ArchiveError::Damaged { .. }
            ),
            "cut at {cut}"
        );
    }
    let mut tampered = file.clone();
    let last = tampered.len() - 20;
    tampered[last] ^= 1;
    assert!(matches!(
        attempt(&tampered, "move it"),
        ArchiveError::Damaged { .. }
    ));
    let mut newer = file.clone();
    newer[MAGIC.len()..MAGIC.len() + 2].copy_from_slice(&(FORMAT_VERSION + 1).to_be_bytes());
    assert_eq!(
        attempt(&newer, "move it"),
        ArchiveError::NewerVersion {
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION
        }
    );
    // A header's costs beyond the bounds (memory for a denial of service) are damage, before
    // any derivation runs.
    let text = String::from_utf8_lossy(&file).into_owned();
    let greedy = text.replacen("\"memoryKib\":64", "\"memoryKib\":4000000000", 1);
    assert_ne!(greedy, text);
    assert!(matches!(
        open_archive(greedy.as_bytes(), "move it"),
        Err(ArchiveError::Damaged { .. })
    ));
    assert!(matches!(
        attempt(b"PK\x03\x04 a zip", "x"),
        ArchiveError::Damaged { .. }
    ));
    // Nothing reached the target.
    assert!(block_on(target.identity()).unwrap().is_none());
    assert!(block_on(target.account_meta()).unwrap().is_none());
}

#[test]
fn a_store_with_an_account_is_replaced_only_when_asked() {
    let mut rng = rng(3);
    let (_bob, file, _source) = conversation_then_export(&mut rng);
    let carol = engine("carol", &mut rng).into_store();
    let refused = block_on(import_account(
        &carol,
        &file,
        "move it",
        ImportOptions::default(),
    ));
    assert_eq!(
        refused.unwrap_err(),
        ArchiveError::StoreHoldsAccount {
            user_id: "carol".into()
        }
    );
    assert_eq!(
        block_on(carol.identity()).unwrap().unwrap().user_id,
        "carol"
    );
    block_on(import_account(
        &carol,
        &file,
        "move it",
        ImportOptions { replace: true },
    ))
    .unwrap();
    assert_eq!(
        block_on(carol.identity()).unwrap().unwrap().user_id,
        "alice"
    );
    assert_eq!(block_on(carol.session_peer_ids()).unwrap(), ["bob"]);
}

#[test]
fn reactivation_clears_the_moved_mark() {
    let mut rng = rng(4);
    let (_bob, _file, source) = conversation_then_export(&mut rng);
    block_on(reactivate_account(&source)).unwrap();
    assert_eq!(
        block_on(source.account_meta()).unwrap().unwrap().moved_at,
        None
    );
    assert_eq!(
        block_on(reactivate_account(&MemoryStore::new())).unwrap_err(),
        ArchiveError::NoAccount
    );
}
