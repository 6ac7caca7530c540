// Speed of the drop-in against the web client's crypto layer as the app runs it, in headless
// Chromium: both with IndexedDB (the web client's through `idb`, a read and an awaited write
// per message; the drop-in's encrypted store, a commit per message), the web client fetching
// the peer's bundle before every send (PROTOCOL §8) from the bundle endpoint this script
// serves (GET /api/users/{id}/prekeys, a plain local HTTP server on the page's origin), the
// drop-in fetching it once per peer. One page, one run, interleaved rounds; × is the median of the rounds' ratios.
//
//   node bench/browser.mjs [--quick] [--json]      (npm run bench:browser)
//
// Per round: `messages` encryptions Alice → Bob on one chain, one after the other; their
// decryptions; and a conversation of `conversation` messages in bursts of 10, alternating
// sender, each burst sent and then received one message at a time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { serveDirectory } from '../test/browser/harness.mjs';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const options = quick ? { rounds: 3, messages: 100, conversation: 200 } : { rounds: 7, messages: 300, conversation: 1000 };

/**
 * The backend's two bundle endpoints, as far as the bench needs them (the token is the user
 * id): POST /api/users/prekeys stores a user's bundle, GET /api/users/{id}/prekeys answers
 * with it and, as the backend does, hands out (uses up) one one-time prekey per fetch.
 */
function bundleEndpoints() {
  const bundles = new Map();
  return (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const json = (status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'POST' && path === '/api/users/prekeys') {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const bundle = JSON.parse(body);
        bundles.set(token, { ...bundle, oneTimePrekeys: [...(bundle.oneTimePrekeys ?? [])] });
        json(200, { success: true });
      });
      return true;
    }
    const match = req.method === 'GET' && /^\/api\/users\/([^/]+)\/prekeys$/.exec(path);
    if (!match) return false;
    const bundle = bundles.get(decodeURIComponent(match[1]));
    if (!token) json(401, { error: 'no token' });
    else if (!bundle) json(404, { error: 'no bundle' });
    else {
      const { identityKey, signingKey, fingerprint, signedPrekey } = bundle;
      json(200, { identityKey, signingKey, fingerprint, signedPrekey, oneTimePrekey: bundle.oneTimePrekeys.shift() ?? null });
    }
    return true;
  };
}

// The page as an app ships it (`vite build`), and one plain HTTP server for the page and the
// API on the same origin (as the web app and its backend: no CORS preflight).
const work = mkdtempSync(join(tmpdir(), 'quickchat-bench-'));
const dist = join(work, 'dist');
await build({
  root: fileURLToPath(new URL('browser', import.meta.url)),
  configFile: false,
  logLevel: 'warn',
  build: { outDir: dist, emptyOutDir: true, target: 'es2022' },
});
const api = bundleEndpoints();
const { server: http, origin } = await serveDirectory(dist, api);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let samples;
try {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error}`));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
  samples = await page.evaluate((o) => window.runBench(o), options);
} finally {
  await browser.close();
  http.close();
  rmSync(work, { recursive: true, force: true });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const rows = [
  ['encrypt, 100 B, same chain', 'encrypt', 10],
  ['decrypt, 100 B, same chain', 'decrypt', 10],
  [`conversation of ${options.conversation} messages, bursts of 10`, 'conversation', 20],
  ['encrypt, an answer right after a receipt (a new chain)', 'answer', null],
].map(([label, key, target]) => {
  const ratios = samples.web.map((w, i) => w[key] / samples.dropIn[i][key]);
  return {
    label,
    key,
    target,
    webClient: median(samples.web.map((s) => s[key])),
    dropIn: median(samples.dropIn.map((s) => s[key])),
    speedup: median(ratios),
    range: [Math.min(...ratios), Math.max(...ratios)],
  };
});
if (args.has('--json')) {
  console.log(JSON.stringify({ options, rows, samples }, null, 2));
} else {
  const f = (value, key) =>
    key === 'conversation' ? `${value.toFixed(0)} ms` : value >= 1000 ? `${(value / 1000).toFixed(2)} ms` : `${value.toFixed(1)} µs`;
  console.log('| in headless Chromium, IndexedDB on both sides | web client (JS) | drop-in | × | target |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    const target = r.target === null ? '—' : `≥ ${r.target}`;
    console.log(`| ${r.label} | ${f(r.webClient, r.key)} | ${f(r.dropIn, r.key)} | ${r.speedup.toFixed(1)} | ${target} |`);
  }
  console.log(`\nmedians of ${options.rounds} interleaved rounds (after a warm-up round); range of the rounds' ratios:`);
  for (const r of rows) console.log(`  ${r.label}: ${r.range[0].toFixed(1)}–${r.range[1].toFixed(1)}×`);
}
