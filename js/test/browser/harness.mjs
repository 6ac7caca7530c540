// What the browser test scripts (and the browser bench) share: named checks reported as
// TAP-like lines, and a static file server for a built app.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

/** Named checks: `check(name, body)` runs one and logs it; `finish()` exits 1 if any failed. */
export function checks(suite) {
  const results = [];
  return {
    async check(name, body) {
      const started = Date.now();
      try {
        await body();
        results.push({ name, ok: true });
        console.log(`ok - ${name} (${Date.now() - started} ms)`);
      } catch (error) {
        results.push({ name, ok: false });
        console.log(`not ok - ${name}\n${error.stack ?? error}`);
      }
    },
    finish() {
      const failed = results.filter((r) => !r.ok).length;
      console.log(`# ${suite}: ${results.length - failed} passed, ${failed} failed`);
      process.exit(failed ? 1 : 0);
    },
  };
}

const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/**
 * Serves the files of `dir` on 127.0.0.1 (a free port); `api(req, res)` may answer a
 * request first (returning true). Resolves with the server and its origin.
 */
export async function serveDirectory(dir, api = () => false) {
  const server = createServer((req, res) => {
    if (api(req, res)) return;
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(dir, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dir + sep) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}
