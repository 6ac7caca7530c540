"""Keys and trust, self-contained: two users with their own encrypted stores compare and
verify fingerprints, look at their sessions and prekeys, and one of them restarts from
its store with the same identity. Prints what it does and exits 0.

    python examples/key_management.py

Against a real server set ``QUICKCHAT_SERVER`` (two accounts with random names are
registered there). Stores live in a temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
from pathlib import Path

from quickchat import WhatsAppClient

from common import fail, server_url


def grouped(fingerprint: str) -> str:
    """The form people compare: 12 groups of 5."""
    return " ".join(fingerprint[i : i + 5] for i in range(0, len(fingerprint), 5))


async def main() -> int:
    url, server = server_url()
    kdf = "insecure-for-tests" if os.environ.get("QUICKCHAT_INSECURE_FAST_KDF") == "1" else "recommended"
    suffix = secrets.token_hex(3)
    try:
        with tempfile.TemporaryDirectory() as directory:
            store = Path(directory)
            alice = WhatsAppClient(url, store / "alice.redb", "alice passphrase", kdf=kdf)
            bob = WhatsAppClient(url, store / "bob.redb", "bob passphrase", kdf=kdf)
            async with alice, bob:
                await alice.register(f"alice_{suffix}", "alice-password")
                await bob.register(f"bob_{suffix}", "bob-password")
                print(f"alice's fingerprint: {grouped(alice.get_fingerprint())}")
                print(f"bob's fingerprint:   {grouped(bob.get_fingerprint())}")

                prekeys = await alice.get_prekey_status()
                print(
                    f"alice's prekeys on the server: signed #{prekeys.signed_prekey_id}, "
                    f"{prekeys.one_time_prekeys} one-time"
                )

                # Bob starts a session with alice and reads her fingerprint from it.
                seen = await bob.ensure_session(f"alice_{suffix}")
                same = WhatsAppClient.compare_fingerprints(seen, alice.get_fingerprint())
                print(f"bob sees alice's fingerprint {grouped(seen)}: matches what alice shows: {same}")
                assert same

                # Compared out of band (read aloud, a QR code): bob records the verification.
                await bob.verify_fingerprint(f"alice_{suffix}", grouped(alice.get_fingerprint()))
                print(f"bob verified alice: {await bob.is_fingerprint_verified(f'alice_{suffix}')}")
                for session in await bob.list_sessions():
                    print(f"bob's session with {session.peer_id}: verified={session.verified}")

                # A wrong fingerprint is refused.
                try:
                    await bob.verify_fingerprint(f"alice_{suffix}", bob.get_fingerprint())
                except Exception as error:
                    print(f"verifying a wrong fingerprint: {type(error).__name__} ({getattr(error, 'code', '')})")

                bob_fingerprint = bob.get_fingerprint()

            # Bob restarts from his store: same identity, sessions and verification.
            again = WhatsAppClient(url, store / "bob.redb", "bob passphrase", kdf=kdf)
            async with again:
                assert again.get_fingerprint() == bob_fingerprint
                verified = await again.get_verified_fingerprints()
                print(f"bob after a restart: same fingerprint, verified peers: {len(verified)}")
                assert len(verified) == 1
        print("done")
        return 0
    except Exception as error:
        return fail(error)
    finally:
        if server is not None:
            server.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
