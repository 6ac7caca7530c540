"""A bot for groups: add it to a group, then write ``!ping``, ``!members`` or
``!echo <text>`` there. Until Ctrl-C or SIGTERM.

    python examples/group_bot.py

Group messages are not end-to-end encrypted on this platform (the web app sends them in
plaintext). Settings: see ``common.py``.
"""

from __future__ import annotations

import asyncio
import sys

from quickchat import Message

from common import fail, make_client, server_url, sign_in

NAME = "group_bot"


async def main() -> int:
    url, server = server_url()
    client = make_client(NAME, url)
    try:
        await sign_in(client, NAME)

        @client.on_group_message
        async def answer(message: Message) -> None:
            group = message.group_id
            text = message.content.strip()
            if group is None or message.kind != "text":
                return
            if text == "!ping":
                await client.send_group_message(group, "pong")
            elif text == "!members":
                members = await client.get_group_members(group)
                names = ", ".join(sorted(f"{m.username} ({m.role})" for m in members))
                await client.send_group_message(group, f"members: {names}")
            elif text.startswith("!echo "):
                await client.send_group_message(group, text[len("!echo ") :])

        await client.connect()
        user = client.user
        assert user is not None
        groups = await client.get_groups()
        print(f"ready: {user.username} ({user.id}) on {url}, in {len(groups)} groups", flush=True)
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
