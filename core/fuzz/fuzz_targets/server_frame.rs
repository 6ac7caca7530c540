//! Fuzzes what a backend (or anything posing as one) can send over the WebSocket: any text
//! must give a clean error or a frame, never a panic, and the content of a `message` frame
//! goes on to the envelope parser as the client would hand it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickchat_core::envelope::Envelope;
use quickchat_core::protocol::ws::ServerFrame;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ServerFrame::Message(message)) = ServerFrame::parse(text) {
        if let Ok(envelope) = Envelope::parse(&message.content) {
            assert_eq!(Envelope::parse(&envelope.to_json()).as_ref(), Ok(&envelope));
        }
    }
});
