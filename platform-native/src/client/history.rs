//! Local history: conversations, pages, search.

use quickchat_core::client::{ClientError, ConversationSummary};
use quickchat_core::store::{Conversation, MessageRecord};

use super::Client;

impl Client {
    /// Up to `limit` messages of a conversation older than `before` (ms), oldest first —
    /// pass the oldest timestamp of a page as `before` to get the page before it.
    pub async fn history(
        &self,
        conversation: &Conversation,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, ClientError> {
        self.core().history(conversation, before, limit).await
    }

    /// The page of up to `limit` messages before `oldest` (the first message of the page
    /// already shown), oldest first. Unlike paging by time alone, nothing is skipped when
    /// several messages share a millisecond.
    pub async fn history_before(
        &self,
        conversation: &Conversation,
        oldest: &MessageRecord,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, ClientError> {
        self.core()
            .history_before(conversation, oldest, limit)
            .await
    }

    /// Every conversation with local history, the most recent first.
    pub async fn conversations(&self) -> Result<Vec<ConversationSummary>, ClientError> {
        self.core().conversations().await
    }

    /// Messages whose text contains `text` (case-insensitive), newest `limit`, oldest first.
    pub async fn search(
        &self,
        text: &str,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, ClientError> {
        self.core().search(text, limit).await
    }

    /// Messages of one conversation whose text contains `text` (case-insensitive), newest
    /// `limit`, oldest first.
    pub async fn search_in(
        &self,
        conversation: &Conversation,
        text: &str,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, ClientError> {
        self.core().search_in(conversation, text, limit).await
    }

    /// One message by id.
    pub async fn message(&self, id: &str) -> Result<Option<MessageRecord>, ClientError> {
        self.core().message(id).await
    }
}
