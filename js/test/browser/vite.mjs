// The package in a Vite app without any Vite configuration (no vite.config, no
// `optimizeDeps.exclude`): the packed tarball installed into test/browser/minimal-app, served
// by Vite's dev server (which pre-bundles the package into node_modules/.vite/deps/, away
// from its .wasm files) and by `vite build` + `vite preview`, and loaded in headless
// Chromium. Both entry points must load their module and work: the drop-in encrypts and
// decrypts a first message, the whole SDK makes an identity. A location that serves no
// WebAssembly gives the `wasm_unavailable` error that names the fix.
//
//   node test/browser/vite.mjs
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { installPackedApp } from './packed-app.mjs';
import { checks } from './harness.mjs';
import { build, createServer, preview } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

const { check, finish } = checks('vite');

/** What the page computed (`window.quickchatResult`), with the .wasm responses it got. */
async function visit(browser, url) {
  const page = await browser.newPage();
  const wasmResponses = [];
  page.on('response', (response) => {
    if (response.url().includes('.wasm')) {
      wasmResponses.push(`${response.status()} ${response.headers()['content-type']} ${new URL(response.url()).pathname}`);
    }
  });
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.quickchatResult !== undefined, null, { timeout: 30_000 });
    const result = await page.evaluate(() => window.quickchatResult);
    return { result, wasmResponses };
  } finally {
    await page.close();
  }
}

function assertWorks({ result, wasmResponses }) {
  assert.equal(result.error, undefined, `${result.error} (.wasm responses: ${wasmResponses.join(', ')})`);
  assert.match(result.crypto.fingerprint, /^[0-9A-F]{60}$/);
  assert.equal(result.crypto.encrypted, true);
  assert.equal(result.crypto.decrypted, 'hello through Vite');
  assert.match(result.whole.fingerprint, /^[0-9A-F]{60}$/);
}

const work = mkdtempSync(join(tmpdir(), 'quickchat-vite-'));
let browser;
let server;
try {
  const app = installPackedApp({ packageDir, work, template: join(here, 'minimal-app'), name: 'quickchat-minimal-app' });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  // As `vite` and `vite build && vite preview` run it: the app's root, no configuration file.
  const bare = { root: app, configFile: false, logLevel: 'warn' };

  server = await createServer({ ...bare, server: { port: 0, host: '127.0.0.1' } });
  await server.listen();
  const devUrl = server.resolvedUrls.local[0];

  await check('Vite dev server, no configuration: both entry points load their .wasm and work', async () => {
    const visited = await visit(browser, devUrl);
    // The case at hand: the package was pre-bundled, its code now runs from node_modules/.vite.
    const deps = readdirSync(join(app, 'node_modules', '.vite', 'deps'));
    assert.ok(deps.some((file) => file.startsWith('quickchat')), `pre-bundled: ${deps.join(', ')}`);
    assertWorks(visited);
  });

  await check('Vite dev server: a location that serves no WebAssembly fails with the fix in the message', async () => {
    const { result } = await visit(browser, `${devUrl}?wasm=/no/such/module.wasm`);
    assert.equal(result.code, 'wasm_unavailable', result.error);
    assert.match(result.error, /\/no\/such\/module\.wasm \((text\/html[^)]*|HTTP 404)\)/);
    assert.ok(result.error.includes("optimizeDeps: { exclude: ['quickchat'] }"), result.error);
  });
  await server.close();
  server = undefined;

  await check('vite build + vite preview, no configuration: both entry points work', async () => {
    await build({ ...bare, build: { outDir: join(app, 'dist'), emptyOutDir: true } });
    server = await preview({ ...bare, preview: { port: 0, host: '127.0.0.1' } });
    assertWorks(await visit(browser, server.resolvedUrls.local[0]));
  });
} finally {
  await browser?.close();
  await (server?.close?.() ?? server?.httpServer?.close());
  rmSync(work, { recursive: true, force: true });
}

finish();
