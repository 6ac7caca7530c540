"""A bot that answers commands in 1:1 messages: ``/help``, ``/time``, ``/echo <text>``,
``/whoami``, ``/fingerprint``, ``/users``. Runs until Ctrl-C or SIGTERM.

    python examples/command_bot.py

Settings: see ``common.py`` (without ``QUICKCHAT_SERVER`` a test server runs in-process).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Awaitable, Callable, Dict

from quickchat import Message, WhatsAppClient

from common import fail, make_client, server_url, sign_in

NAME = "command_bot"

HELP = "commands: /help, /time, /echo <text>, /whoami, /fingerprint, /users"


def commands(client: WhatsAppClient) -> Dict[str, Callable[[Message, str], Awaitable[str]]]:
    async def help_(message: Message, argument: str) -> str:
        return HELP

    async def time_(message: Message, argument: str) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())

    async def echo(message: Message, argument: str) -> str:
        return argument or "(nothing to echo)"

    async def whoami(message: Message, argument: str) -> str:
        user = await client.find_user(message.from_user)
        name = user.username if user is not None else message.from_user
        return f"you are {name} ({message.from_user}); this conversation is end-to-end encrypted"

    async def fingerprint(message: Message, argument: str) -> str:
        mine = client.get_fingerprint()
        yours = await client.get_peer_fingerprint(message.from_user)
        return f"mine: {mine}\nyours: {yours}"

    async def users(message: Message, argument: str) -> str:
        online = await client.get_online_users()
        return "online: " + ", ".join(sorted(user.username for user in online))

    return {
        "/help": help_,
        "/time": time_,
        "/echo": echo,
        "/whoami": whoami,
        "/fingerprint": fingerprint,
        "/users": users,
    }


async def main() -> int:
    url, server = server_url()
    client = make_client(NAME, url)
    table = commands(client)
    try:
        await sign_in(client, NAME)

        @client.on_message
        async def answer(message: Message) -> None:
            text = message.content.strip()
            command, _, argument = text.partition(" ")
            handler = table.get(command.lower())
            reply = await handler(message, argument.strip()) if handler else f"unknown command. {HELP}"
            await client.send_message(message.from_user, reply)

        await client.connect()
        user = client.user
        assert user is not None
        print(f"ready: {user.username} ({user.id}) on {url}", flush=True)
        await client.run()
        print("stopped", flush=True)
        return 0
    except Exception as error:
        return fail(error)
    finally:
        await client.close()
        if server is not None:
            server.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
