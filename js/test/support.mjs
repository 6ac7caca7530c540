// Helpers shared by the Node suites (test/node/): unique user names and full clients on
// in-memory storage, connected to the test server over real sockets.
import WebSocket from 'ws';
import { QuickChatClient } from 'quickchat';

let n = 0;

/** A user name no other test of this run (or an earlier run on the same server) uses. */
export const unique = (name) => `${name}_${process.pid}_${Date.now()}_${n++}`;

/** A full client on in-memory storage for the server at `url`; `options` add to the defaults. */
export function memoryClient(url, options = {}) {
  return QuickChatClient.create({
    server: url,
    WebSocket,
    storage: 'memory',
    backoff: { initialMs: 100, maxMs: 1000 },
    ...options,
  });
}
