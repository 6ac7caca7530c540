// `npm test`: the end-to-end tests of the demo page in Chromium.
//
// 1. builds what they need: the quickchat package (js/pkg, only when missing), the test
//    server and the native CLI (cargo, debug profile; QC_SERVER_BIN / QC_CLI_BIN skip that),
//    and the page (`tsc --noEmit`, then `vite build` into dist/);
// 2. serves the built page on a free port;
// 3. runs test/e2e/*.test.mjs with node:test, one file after the other; each file starts its
//    own test server (free port, temporary database) and its own Chromium.
//
// Screenshots go to QC_SCREENSHOTS_DIR (default web-demo/test-output/screenshots).
// Extra arguments are passed to `node --test` (e.g. a single file:
// `npm test -- test/e2e/native.test.mjs`).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'vite';

import { buildBinaries, demoDir, ensureSdkPackage, log, serveStatic } from '../scripts/lib.mjs';

const started = Date.now();
ensureSdkPackage();
const binaries = buildBinaries(['quickchat-server', 'quickchat']);

log('tsc --noEmit');
const tsc = spawnSync(process.execPath, [path.join(demoDir, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', demoDir], { stdio: 'inherit' });
if (tsc.status !== 0) {
  log('the page does not type-check');
  process.exit(1);
}
log('vite build');
const dist = path.join(demoDir, 'dist');
await build({ root: demoDir, logLevel: 'warn', build: { outDir: dist, emptyOutDir: true } });

const screenshots = path.resolve(process.env.QC_SCREENSHOTS_DIR ?? path.join(demoDir, 'test-output', 'screenshots'));
fs.mkdirSync(screenshots, { recursive: true });

const page = await serveStatic(dist);
log(`page served on ${page.url}; screenshots in ${screenshots}; prepared in ${((Date.now() - started) / 1000).toFixed(1)} s`);

const requested = process.argv.slice(2);
const files = requested.length
  ? requested
  : fs
      .readdirSync(path.join(demoDir, 'test', 'e2e'))
      .filter((f) => f.endsWith('.test.mjs'))
      .sort()
      .map((f) => path.join('test', 'e2e', f));

const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  cwd: demoDir,
  stdio: 'inherit',
  env: {
    ...process.env,
    QC_DEMO_URL: page.url,
    QC_SERVER_BIN: binaries['quickchat-server'],
    QC_CLI_BIN: binaries.quickchat,
    QC_SCREENSHOTS_DIR: screenshots,
  },
});
const forward = (signal) => child.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const code = await new Promise((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await page.close();
log(`end-to-end tests ${code === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(code);
