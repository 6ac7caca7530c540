//! Events: as a stream, or handed to a handler on a background task.

use std::future::Future;

use futures::StreamExt;
use quickchat_core::client::{Event, EventStream};
use quickchat_core::store::{Direction, MessageRecord};
use tokio::task::JoinHandle;

use super::Client;

impl Client {
    /// Events from now on, as an async stream (also [`Client::events`]).
    pub fn subscribe(&self) -> EventStream {
        self.core().subscribe()
    }

    /// All events from now on, as an async stream (same as [`Client::subscribe`]).
    pub fn events(&self) -> EventStream {
        self.subscribe()
    }

    /// Calls `handler` for every event, in order, on a background task. The task ends
    /// when the client is dropped or the returned handle is aborted.
    pub fn on_event<F, Fut>(&self, mut handler: F) -> JoinHandle<()>
    where
        F: FnMut(Event) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut events = self.subscribe();
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                handler(event).await;
            }
        })
    }

    /// Calls `handler` for every incoming 1:1 message (live or caught up), in order.
    pub fn on_message<F, Fut>(&self, mut handler: F) -> JoinHandle<()>
    where
        F: FnMut(MessageRecord) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_event(move |event| {
            let call = match event {
                Event::Message { message, .. } => Some(handler(message)),
                _ => None,
            };
            async move {
                if let Some(call) = call {
                    call.await;
                }
            }
        })
    }

    /// Calls `handler` for every incoming group message, in order.
    pub fn on_group_message<F, Fut>(&self, mut handler: F) -> JoinHandle<()>
    where
        F: FnMut(MessageRecord) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_event(move |event| {
            let call = match event {
                Event::GroupMessage { message, .. } if message.direction == Direction::Incoming => {
                    Some(handler(message))
                }
                _ => None,
            };
            async move {
                if let Some(call) = call {
                    call.await;
                }
            }
        })
    }
}
