"""A bot that answers every 1:1 message with the same text, end-to-end encrypted both
ways, until Ctrl-C or SIGTERM.

    python examples/echo_bot.py

Without ``QUICKCHAT_SERVER`` it starts a test server in-process and prints its URL; point
the CLI there (``quickchat send echo_bot hello``) or set ``QUICKCHAT_SERVER`` to a real
server. See ``common.py`` for the settings.
"""

from __future__ import annotations

import asyncio
import sys

from quickchat import Message

from common import fail, make_client, server_url, sign_in

NAME = "echo_bot"


async def main() -> int:
    url, server = server_url()
    client = make_client(NAME, url)
    try:
        await sign_in(client, NAME)

        @client.on_message
        async def echo(message: Message) -> None:
            if message.kind != "text" or not message.content:
                return
            print(f"<- {message.from_user}: {message.content}", flush=True)
            await client.send_message(to=message.from_user, content=message.content)
            await client.mark_as_read(message.from_user, message)

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
