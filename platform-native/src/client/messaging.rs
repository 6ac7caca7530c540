//! Sending to a peer (text, plaintext, images, typing, read receipts) and catching up.

use quickchat_core::client::ClientError;
use quickchat_core::store::MessageRecord;

use super::Client;

impl Client {
    /// Sends `text` to `peer_id`, end-to-end encrypted. The message is saved (with the
    /// session state it advanced) before anything goes out, so it is never lost: if the
    /// socket is down it waits in the outbox (status `Pending`) and goes out once connected,
    /// exactly once. A peer without a session gets one from its bundle, fetched once.
    ///
    /// Concurrent calls are combined: whoever gets to the session engine first encrypts
    /// everything queued so far and saves it in one commit (one disk sync), so throughput
    /// grows with the number of senders.
    pub async fn send_text(&self, peer_id: &str, text: &str) -> Result<MessageRecord, ClientError> {
        self.core().send_text(peer_id, text).await
    }

    /// Sends `text` to `peer_id` **without** end-to-end encryption: the backend (and
    /// anyone who can read its database) sees it. For peers that cannot decrypt, and for
    /// measuring what encryption costs. Saved and queued like encrypted text.
    pub async fn send_plaintext(
        &self,
        peer_id: &str,
        text: &str,
    ) -> Result<MessageRecord, ClientError> {
        self.core().send_plaintext(peer_id, text).await
    }

    /// Sends an image as the web client does: not encrypted (the web client cannot read
    /// encrypted images), the data URL in `imageData` and a caption as content. Queued in
    /// the outbox like text when offline.
    pub async fn send_image(
        &self,
        peer_id: &str,
        data_url: &str,
    ) -> Result<MessageRecord, ClientError> {
        self.core().send_image(peer_id, data_url).await
    }

    /// Tells `peer_id` this user is (or stopped) typing. Not queued: fails when offline.
    pub async fn set_typing(&self, peer_id: &str, typing: bool) -> Result<(), ClientError> {
        self.core().set_typing(peer_id, typing).await
    }

    /// Marks messages from `peer_id` as read: locally, on the backend, and (when connected)
    /// with a read receipt to the sender.
    pub async fn mark_read(
        &self,
        peer_id: &str,
        message_ids: &[String],
    ) -> Result<(), ClientError> {
        self.core().mark_read(peer_id, message_ids).await
    }

    /// Fetches and processes what was missed from everyone the configured
    /// [`CatchUpScope`](quickchat_core::client::CatchUpScope) covers; returns how many messages were new. The connection loop
    /// runs it after every (re)connect.
    pub async fn catch_up(&self) -> Result<usize, ClientError> {
        self.core().catch_up().await
    }

    /// Catch-up with one peer only.
    pub async fn catch_up_with(&self, peer_id: &str) -> Result<usize, ClientError> {
        self.core().catch_up_with(peer_id).await
    }
}
