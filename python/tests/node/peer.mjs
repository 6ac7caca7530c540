// A user of the npm package (js/, the WebAssembly build of the same SDK) in Node, for the
// Python suite: registers, sends one text to the Python bot named in argv, waits for the
// bot's answer and prints it as one JSON line. Exits non-zero on any failure or after 30 s.
//
//   node peer.mjs <server url> <bot user name> <text>
import { QuickChatClient } from '../../../js/src/index.js';
import WebSocket from '../../../js/node_modules/ws/wrapper.mjs';

const [server, botName, text] = process.argv.slice(2);
if (!server || !botName || !text) {
  console.error('usage: node peer.mjs <server url> <bot user name> <text>');
  process.exit(2);
}
setTimeout(() => {
  console.error('timed out waiting for the bot');
  process.exit(3);
}, 30_000).unref();

const client = await QuickChatClient.create({
  server,
  WebSocket,
  storage: 'memory',
  backoff: { initialMs: 100, maxMs: 1000 },
});
const me = await client.register(`node_${process.pid}_${Date.now()}`, 'secret123');
const events = client.events();
await client.connectAndWait(15_000);
const bot = await client.findUser(botName);
const sent = await client.sendText(bot.id, text);
for await (const event of events) {
  if (event.type === 'message' && event.message.senderId === bot.id) {
    console.log(JSON.stringify({ me: me.userId, sentId: sent.id, sentEncrypted: sent.encrypted, message: event.message }));
    break;
  }
}
await client.close();
process.exit(0);
