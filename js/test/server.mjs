// Starts the protocol-faithful test server (tests/server, `quickchat-server`) for the
// JavaScript tests: built with cargo if needed, on a free port, with a throw-away database.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export async function startServer() {
  let bin = process.env.QC_SERVER_BIN;
  if (!bin) {
    const built = spawnSync(
      'cargo',
      ['build', '--quiet', '-p', 'quickchat-testserver', '--bin', 'quickchat-server'],
      { cwd: root, stdio: 'inherit' },
    );
    if (built.status !== 0) throw new Error('cannot build quickchat-server');
    bin = join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'debug', 'quickchat-server');
  }
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
  return {
    url,
    async stop() {
      child.kill();
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
