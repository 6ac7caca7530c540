//! Local history: decrypted, paginated, searchable.

use std::collections::BTreeMap;

use rand_core::CryptoRng;

use super::{Client, ClientError};
use crate::platform::MaybeSend;
use crate::store::{Conversation as ConversationId, MessageQuery, MessageRecord, Store};
use crate::transport::{Clock, Transport};

/// A conversation and its latest message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// Who or which group.
    pub id: ConversationId,
    /// The latest message.
    pub last_message: MessageRecord,
    /// Incoming messages not marked read.
    pub unread: usize,
}

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Up to `limit` messages of a conversation older than `before` (ms), oldest first —
    /// pass the oldest timestamp of a page as `before` to get the page before it.
    pub async fn history(
        &self,
        conversation: &ConversationId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, ClientError> {
        Ok(self
            .store
            .messages(&MessageQuery {
                conversation: Some(conversation.clone()),
                before,
                limit: Some(limit),
                ..MessageQuery::default()
            })
            .await?)
    }

    /// The page of up to `limit` messages before `oldest` (the first message of the page
    /// already shown), oldest first. Unlike paging by time alone, nothing is skipped when
    /// several messages share a millisecond.
    pub async fn history_before(
        &self,
        conversation: &ConversationId,
        oldest: &MessageRecord,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, ClientError> {
        Ok(self
            .store
            .messages(&MessageQuery {
                conversation: Some(conversation.clone()),
                before: Some(oldest.timestamp),
                before_id: Some(oldest.id.clone()),
                limit: Some(limit),
                ..MessageQuery::default()
            })
            .await?)
    }

    /// Every conversation with local history, the most recent first.
    pub async fn conversations(&self) -> Result<Vec<Conversation>, ClientError> {
        let all = self.store.messages(&MessageQuery::default()).await?;
        let mut by_id: BTreeMap<ConversationId, Conversation> = BTreeMap::new();
        for message in all {
            let unread = usize::from(
                message.direction == crate::store::Direction::Incoming
                    && message.status != crate::store::MessageStatus::Read,
            );
            let entry = by_id
                .entry(message.conversation.clone())
                .or_insert_with(|| Conversation {
                    id: message.conversation.clone(),
                    last_message: message.clone(),
                    unread: 0,
                });
            entry.unread += unread;
            entry.last_message = message;
        }
        let mut list: Vec<Conversation> = by_id.into_values().collect();
        list.sort_by_key(|c| std::cmp::Reverse(c.last_message.timestamp));
        Ok(list)
    }

    /// Messages whose text contains `text` (case-insensitive), newest `limit`, oldest first.
    pub async fn search(
        &self,
        text: &str,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, ClientError> {
        if text.trim().is_empty() {
            return Err(ClientError::InvalidInput {
                what: "search text",
                why: "empty".into(),
            });
        }
        Ok(self
            .store
            .messages(&MessageQuery {
                text: Some(text.to_string()),
                limit: Some(limit),
                ..MessageQuery::default()
            })
            .await?)
    }

    /// Messages of one conversation whose text contains `text` (case-insensitive), newest
    /// `limit`, oldest first.
    pub async fn search_in(
        &self,
        conversation: &ConversationId,
        text: &str,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, ClientError> {
        if text.trim().is_empty() {
            return Err(ClientError::InvalidInput {
                what: "search text",
                why: "empty".into(),
            });
        }
        Ok(self
            .store
            .messages(&MessageQuery {
                conversation: Some(conversation.clone()),
                text: Some(text.to_string()),
                limit: Some(limit),
                ..MessageQuery::default()
            })
            .await?)
    }

    /// One message by id.
    pub async fn message(&self, id: &str) -> Result<Option<MessageRecord>, ClientError> {
        Ok(self.store.message(id).await?)
    }
}
