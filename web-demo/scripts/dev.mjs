// `npm run dev`: builds and starts the test server, then Vite with the server's address
// passed to the page; Ctrl-C stops both.
//
// Environment: QC_DEMO_SERVER_PORT (8787), QC_DEMO_PORT (5173), QC_DEMO_DB
// (web-demo/.dev/chat.db), QC_SERVER_BIN (use this server binary instead of building one).

import fs from 'node:fs';
import path from 'node:path';
import { createServer } from 'vite';

import { buildBinaries, demoDir, ensureSdkPackage, log, ServerProcess } from './lib.mjs';

ensureSdkPackage();
const { 'quickchat-server': binary } = buildBinaries(['quickchat-server']);

const db = path.resolve(process.env.QC_DEMO_DB ?? path.join(demoDir, '.dev', 'chat.db'));
fs.mkdirSync(path.dirname(db), { recursive: true });
const server = new ServerProcess(binary, {
  db,
  port: Number(process.env.QC_DEMO_SERVER_PORT ?? 8787),
  bcryptCost: 10,
  quiet: false,
});
await server.start();
log(`test server on ${server.url} (database ${path.relative(process.cwd(), db) || db})`);

process.env.VITE_QUICKCHAT_SERVER = server.url;
const vite = await createServer({
  root: demoDir,
  server: { host: '127.0.0.1', port: Number(process.env.QC_DEMO_PORT ?? 5173) },
});
await vite.listen();
vite.printUrls();
log('open the page in two browsers (or a normal and a private window) to chat; Ctrl-C stops everything');

let stopping = false;
async function stop(code) {
  if (stopping) {
    return;
  }
  stopping = true;
  log('stopping');
  await Promise.allSettled([vite.close(), server.stop()]);
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
process.on('SIGHUP', () => void stop(0));
server.child.once('exit', (code) => {
  if (!stopping) {
    log(`the test server exited (${code})`);
    void stop(1);
  }
});
