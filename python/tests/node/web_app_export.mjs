// The web app moving its account out, for the Python suite: in Node, with fake-indexeddb as
// the browser's IndexedDB, the web app's crypto layer (js/bench/web-client-reference.mjs,
// which writes `quick-chat-e2ee` as the web app does) registers a user, starts a session with
// the Python bot named in argv and talks both ways (the bot echoes), then the npm package's
// top-level `exportAccount` seals that database into the account file at <out>. Prints
// `{userId, username, password, heard}` as one JSON line. Exits non-zero on any failure or
// after 60 s.
//
//   node web_app_export.mjs <server url> <bot user name> <out file> <file passphrase>
import '../../../js/node_modules/fake-indexeddb/auto/index.mjs';
import { writeFileSync } from 'node:fs';
import { exportAccount } from '../../../js/src/index.js';
import { WebClientReference } from '../../../js/bench/web-client-reference.mjs';
import WebSocket from '../../../js/node_modules/ws/wrapper.mjs';

const [server, botName, out, passphrase] = process.argv.slice(2);
if (!server || !botName || !out || !passphrase) {
  console.error('usage: node web_app_export.mjs <server url> <bot user name> <out file> <file passphrase>');
  process.exit(2);
}
setTimeout(() => {
  console.error('timed out');
  process.exit(3);
}, 60_000).unref();

async function json(path, init) {
  const answer = await fetch(`${server}${path}`, init);
  if (!answer.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${answer.status}`);
  return answer.json();
}

/** Sends `content` as the web app does: a `message` frame on the WebSocket, then its echo. */
function sendFrame(user, to, content) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${server.replace(/^http/, 'ws')}/ws`);
    const messageId = crypto.randomUUID();
    socket.on('open', () => {
      socket.send(JSON.stringify({ type: 'auth', payload: { userId: user.id, username: user.username } }));
      socket.send(JSON.stringify({ type: 'message', payload: { to, content, messageType: 'text', encrypted: true, messageId } }));
    });
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'error') reject(new Error(frame.payload?.message));
      if (frame.type === 'message' && frame.payload?.id === messageId) {
        socket.close();
        resolve();
      }
    });
    socket.on('error', reject);
  });
}

const username = `webapp_${process.pid}_${Date.now()}`;
const password = 'web app password';
const user = await json('/api/auth/register', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username, password }),
});
const bot = (await json('/api/users')).find((u) => u.username === botName);
if (!bot) throw new Error(`no user ${botName}`);

const app = new WebClientReference(user.id, { apiBase: server, token: user.token });
await app.initialize();
await json('/api/users/prekeys', {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
  body: JSON.stringify(app.getPendingBundle()),
});

const read = new Set();
/** The bot's next message to the web app, decrypted (the web app reads what the server keeps). */
async function nextFromBot() {
  for (;;) {
    for (const message of await json(`/api/messages/${bot.id}?user=${user.id}`)) {
      if (message.fromUser !== bot.id || read.has(message.id)) continue;
      read.add(message.id);
      return app.decryptMessage(bot.id, JSON.parse(message.content));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const heard = [];
for (const text of ['hello from the web app', 'still the web app']) {
  await sendFrame(user, bot.id, JSON.stringify(await app.encryptMessage(bot.id, text)));
  heard.push(await nextFromBot());
}
app.close();

const file = await exportAccount({ passphrase });
writeFileSync(out, file);
console.log(JSON.stringify({ userId: user.id, username, password, heard }));
process.exit(0);
