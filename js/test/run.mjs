// The JavaScript-side tests, as `npm test` runs them (after `npm run build`): starts the test
// server once, then runs
//   1. the Node suites (node:test, test/node/): the drop-in against the vectors, the
//      low-level Ratchet and the benchmark baseline against the vectors, the full client in
//      Node through the server;
//   2. the TypeScript declarations, compiled against test/types/usage.ts;
//   3. the browser suite (test/browser/run.mjs): the packed tarball in Node and in a Vite app
//      in headless Chromium.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServer } from './server.mjs';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(new URL('../pkg/quickchat_wasm_bg.wasm', import.meta.url))) {
  console.error('js/pkg is missing: run `npm run build` (scripts/build-js.sh) first');
  process.exit(1);
}

const server = await startServer();
const env = {
  ...process.env,
  QC_TEST_SERVER: server.url,
  QC_TEST_SERVER_DB: server.db,
  QC_SERVER_BIN: server.bin,
};
const steps = [
  ['Node suites', process.execPath, ['--test', '--test-reporter=spec', 'test/node/']],
  ['TypeScript declarations', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'test/types']],
  ['browser suite', process.execPath, ['test/browser/run.mjs']],
];
const failed = [];
try {
  for (const [name, command, args] of steps) {
    console.log(`\n== ${name}`);
    // A suite whose failure left a socket open would otherwise never exit: 20 minutes each.
    const result = spawnSync(command, args, { cwd: packageDir, env, stdio: 'inherit', timeout: 20 * 60 * 1000 });
    if (result.status !== 0) failed.push(name);
    else if (name === 'TypeScript declarations') console.log('ok - the declarations compile against test/types/usage.ts');
  }
} finally {
  await server.stop();
}
if (failed.length) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
console.log('\nall JavaScript tests passed');
