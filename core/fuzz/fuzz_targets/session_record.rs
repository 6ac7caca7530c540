//! Fuzzes the reader of stored session records (core's binary form and the JSON one): any
//! bytes must give a clean error or sessions, never a panic, and sessions read back must be
//! written and read again unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickchat_core::session::binary;

fuzz_target!(|data: &[u8]| {
    let Ok(sessions) = binary::decode(data) else {
        return;
    };
    let encoded = binary::encode(&sessions);
    assert_eq!(binary::decode(&encoded).as_ref(), Ok(&sessions));
});
