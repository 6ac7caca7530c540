// The JavaScript-side tests, as `npm test` runs them (after `npm run build`): starts the test
// server once, then runs
//   1. the Node suites (node:test, test/node/): the drop-in against the vectors, the
//      low-level Ratchet and the benchmark baseline against the vectors, the full client in
//      Node through the server;
//   2. the drop-in in a React app's test setup (test/vitest/: vitest, jsdom, fake-indexeddb,
//      a mocked fetch), which must run at least one test;
//   3. the TypeScript declarations, compiled against test/types/ (usage.ts, and webclient.ts:
//      an app typed with the web client's own types);
//   4. the browser suite (test/browser/run.mjs): the packed tarball in Node and in a Vite app
//      in headless Chromium;
//   5. the package in a Vite app without configuration (test/browser/vite.mjs): the dev
//      server (which pre-bundles it) and `vite build` + `vite preview`, in headless Chromium;
//   5b. moving an account between the web app, the package in Chromium and the native CLI
//      (test/browser/moving.mjs);
//   6. a short run of the browser bench (bench/browser.mjs --quick), for its printed ratios.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './server.mjs';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(new URL('../pkg/quickchat_wasm_bg.wasm', import.meta.url))) {
  console.error('js/pkg is missing: run `npm run build` (scripts/build-js.sh) first');
  process.exit(1);
}

// dist/ (src/ bundled and minified, what browsers load) from the src/ under test.
const dist = spawnSync(process.execPath, ['scripts/dist.mjs'], { cwd: packageDir, stdio: 'inherit' });
if (dist.status !== 0) {
  console.error('scripts/dist.mjs failed');
  process.exit(1);
}

const server = await startServer();
const env = {
  ...process.env,
  QC_TEST_SERVER: server.url,
  QC_TEST_SERVER_DB: server.db,
  QC_SERVER_BIN: server.bin,
};
const vitestReport = join(mkdtempSync(join(tmpdir(), 'quickchat-vitest-')), 'report.json');
const steps = [
  ['Node suites', process.execPath, ['--test', '--test-reporter=spec', 'test/node/']],
  [
    'vitest suite (jsdom, fake-indexeddb, mocked fetch)',
    process.execPath,
    ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestReport}`],
  ],
  ['TypeScript declarations', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'test/types']],
  ['browser suite', process.execPath, ['test/browser/run.mjs']],
  ['Vite without configuration (dev server, build + preview)', process.execPath, ['test/browser/vite.mjs']],
  ['moving an account (web app, browser, native CLI)', process.execPath, ['test/browser/moving.mjs']],
  // Prints the speed ratios against the web client in Chromium; fails only if the bench does.
  ['browser bench, short (ratios printed, not asserted)', process.execPath, ['bench/browser.mjs', '--quick']],
];
const failed = [];
try {
  for (const [name, command, args] of steps) {
    console.log(`\n== ${name}`);
    // A suite whose failure left a socket open would otherwise never exit: 20 minutes each.
    const result = spawnSync(command, args, { cwd: packageDir, env, stdio: 'inherit', timeout: 20 * 60 * 1000 });
    if (result.status !== 0) failed.push(name);
    else if (name === 'TypeScript declarations') console.log('ok - the declarations compile against test/types/');
    else if (name.startsWith('vitest')) {
      // Loudly wrong when nothing ran (a filter or config that matches no test).
      let report = null;
      try {
        report = JSON.parse(readFileSync(vitestReport, 'utf8'));
      } catch (error) {
        console.error(`no vitest report: ${error.message}`);
      }
      if (!report || report.numTotalTests === 0 || report.numPassedTests !== report.numTotalTests) {
        console.error(`vitest: ${report?.numPassedTests ?? 0} of ${report?.numTotalTests ?? 0} tests passed`);
        failed.push(name);
      } else {
        console.log(`ok - vitest: ${report.numPassedTests} of ${report.numTotalTests} tests passed`);
      }
    }
  }
} finally {
  await server.stop();
  rmSync(join(vitestReport, '..'), { recursive: true, force: true });
}
if (failed.length) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
console.log('\nall JavaScript tests passed');
