// Starts the protocol-faithful test server (tests/server, `quickchat-server`) for the
// JavaScript tests: built with cargo if needed, on a free port, with a throw-away database.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The server binary (built with cargo unless QC_SERVER_BIN names one). */
export function serverBinary() {
  if (process.env.QC_SERVER_BIN) return process.env.QC_SERVER_BIN;
  const built = spawnSync(
    'cargo',
    ['build', '--quiet', '-p', 'quickchat-testserver', '--bin', 'quickchat-server'],
    { cwd: root, stdio: 'inherit' },
  );
  if (built.status !== 0) throw new Error('cannot build quickchat-server');
  return join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'debug', 'quickchat-server');
}

/** Gives `username` the admin role in the server database `db`. */
export function makeAdmin(bin, db, username) {
  const result = spawnSync(bin, ['--db', db, 'make-admin', username], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`make-admin failed: ${result.stderr}`);
}

export async function startServer() {
  const bin = serverBinary();
  const dir = mkdtempSync(join(tmpdir(), 'quickchat-js-'));
  const child = spawn(bin, ['--port', '0', '--db', join(dir, 'chat.db'), '--bcrypt-cost', '4'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 20_000);
    const look = (chunk) => {
      out += chunk;
      const match = /listening on (http\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
  });
  const db = join(dir, 'chat.db');
  return {
    url,
    db,
    bin,
    /** Gives `username` the admin role (the server's own `make-admin` command). */
    makeAdmin(username) {
      makeAdmin(bin, db, username);
    },
    async stop() {
      child.kill();
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
