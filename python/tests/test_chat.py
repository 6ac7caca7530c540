"""Two Python clients chat end to end through the test server."""

from __future__ import annotations

import asyncio

from quickchat import Message, WhatsAppClient

from conftest import MakeClient, within


async def test_echo_bot_answers_end_to_end_encrypted(make_client: MakeClient) -> None:
    bot = await make_client("bot")
    alice = await make_client("alice")
    assert bot.user is not None and alice.user is not None

    @bot.on_message
    async def echo(message: Message) -> None:
        await bot.send_message(to=message.from_user, content=f"Echo: {message.content}")

    replies: asyncio.Queue[Message] = asyncio.Queue()
    alice.on_message(replies.put_nowait)

    sent = await alice.send_message(bot.user.username, "hello bot")
    assert sent.content == "hello bot"
    assert sent.encrypted is True
    assert sent.from_user == alice.user_id
    assert sent.to_user == bot.user_id
    assert sent.status in ("pending", "sent", "delivered")

    reply = await within(replies.get(), "the echo")
    assert reply.content == "Echo: hello bot"
    assert reply.encrypted is True
    assert reply.from_user == bot.user_id
    assert reply.to_user == alice.user_id
    assert not reply.is_outgoing
    assert isinstance(reply.timestamp, int) and reply.timestamp > 0
