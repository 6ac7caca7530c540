// Shared by `npm run dev` and the tests: building what the page needs, running the test
// server, serving the built page.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const demoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoDir = path.resolve(demoDir, '..');

export function log(...parts) {
  process.stderr.write(`\x1b[1m[web-demo]\x1b[0m ${parts.join(' ')}\n`);
}

function run(command, args, options = {}) {
  log('$', command, ...args);
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: repoDir, ...options });
  if (result.error) {
    throw result.error;
  }
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status})`);
  }
}

/** Builds the npm package (js/pkg) when it has not been built yet. */
export function ensureSdkPackage() {
  const pkg = path.join(repoDir, 'js', 'pkg');
  // All three modules (the whole SDK's, quickchat/crypto's and its importer's); a js/pkg from
  // before a split lacks the later ones.
  const files = [
    'quickchat_wasm_bg.wasm',
    'quickchat_wasm.js',
    'quickchat_crypto_bg.wasm',
    'quickchat_crypto.js',
    'quickchat_import_bg.wasm',
    'quickchat_import.js',
  ];
  if (files.every((file) => fs.existsSync(path.join(pkg, file)))) {
    return;
  }
  log('js/pkg is missing: building the quickchat package');
  if (!fs.existsSync(path.join(repoDir, 'js', 'node_modules'))) {
    run('npm', ['ci', '--prefix', 'js', '--no-audit', '--no-fund']);
  }
  run('npm', ['--prefix', 'js', 'run', 'build']);
}

function targetDir() {
  const configured = process.env.CARGO_TARGET_DIR;
  if (!configured) {
    return path.join(repoDir, 'target');
  }
  return path.isAbsolute(configured) ? configured : path.join(repoDir, configured);
}

/**
 * Builds Rust binaries (debug profile) and returns their paths: `{name: path}`. A binary can
 * be given instead through the environment (`QC_SERVER_BIN`, `QC_CLI_BIN`), then it is not built.
 */
export function buildBinaries(binaries) {
  const env = { quickchat: 'QC_CLI_BIN', 'quickchat-server': 'QC_SERVER_BIN' };
  const packages = { quickchat: 'quickchat-cli', 'quickchat-server': 'quickchat-testserver' };
  const result = {};
  const toBuild = [];
  for (const name of binaries) {
    const given = process.env[env[name]];
    if (given) {
      result[name] = path.resolve(given);
    } else {
      toBuild.push(name);
      result[name] = path.join(targetDir(), 'debug', name);
    }
  }
  if (toBuild.length) {
    const args = ['build', '--quiet'];
    for (const name of toBuild) {
      args.push('-p', packages[name], '--bin', name);
    }
    run('cargo', args);
  }
  return result;
}

/**
 * The test server as a child process. `port` 0 picks a free port once; `restart()` comes
 * back on the same port with the same database.
 */
export class ServerProcess {
  constructor(binary, { db, port = 0, bcryptCost = 4, host = '127.0.0.1', quiet = true } = {}) {
    this.binary = binary;
    this.db = db;
    this.port = port;
    this.bcryptCost = bcryptCost;
    this.host = host;
    this.quiet = quiet;
    this.child = null;
  }

  get url() {
    return `http://${this.host}:${this.port}`;
  }

  async start() {
    const args = [
      '--host', this.host,
      '--port', String(this.port),
      '--db', this.db,
      '--bcrypt-cost', String(this.bcryptCost),
      // A fixed secret: logins stay valid across restarts.
      '--jwt-secret', 'quickchat-web-demo-not-a-secret',
    ];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', this.quiet ? 'ignore' : 'inherit'] });
    this.child = child;
    const address = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('the test server did not start within 30 s')), 30_000);
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the test server exited (${code}) before listening`));
      });
      child.once('error', reject);
    });
    this.port = Number(new URL(address).port);
    child.stdout.resume();
    return this.url;
  }

  /** SIGTERM and wait for the exit (sockets get a 1001 close). */
  async stop() {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async restart() {
    await this.stop();
    // The port was just released; binding it again may need a moment.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.start();
      } catch (e) {
        if (attempt >= 20) {
          throw e;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

/** A tiny static server for the built page (`dist/`); resolves to its origin. */
export async function serveStatic(dir, port = 0) {
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    let file = path.resolve(root, `.${pathname}`);
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    if (pathname.endsWith('/')) {
      file = path.join(file, 'index.html');
    }
    fs.readFile(file, (error, data) => {
      if (error) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(data);
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
