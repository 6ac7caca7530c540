//! Fuzzes the account-file reader (`archive::open_archive`): any bytes, however shaped, must
//! give a clean error or an account, never a panic, a hang or an allocation the header asks
//! for beyond the bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickchat_core::archive::open_archive;

fuzz_target!(|data: &[u8]| {
    let _ = open_archive(data, "fuzz passphrase");
});
