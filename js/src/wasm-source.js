// Where a browser gets a module's .wasm from, checked before it is compiled: a bundler that
// moves the package's JavaScript away from its .wasm (Vite 7's dev server pre-bundles
// dependencies into node_modules/.vite/deps/, so `new URL('../pkg/…', import.meta.url)` points
// at nothing and the server answers with its index.html) must not end in an opaque
// "expected magic word" — the package's own file is tried where the dev server serves it,
// and failing that the error names the fix.
import { quickChatError } from './errors.js';

// Every WebAssembly binary starts with "\0asm".
const MAGIC = [0x00, 0x61, 0x73, 0x6d];

function isWasm(buffer) {
  const head = new Uint8Array(buffer, 0, Math.min(4, buffer.byteLength));
  return head.length === 4 && MAGIC.every((byte, i) => head[i] === byte);
}

// A URL given as a string or a URL object (of any realm) is fetched and checked here;
// anything else (a Response, bytes, a compiled module) goes to wasm-bindgen as it is.
function isLocation(input) {
  return typeof input === 'string' || Object.prototype.toString.call(input) === '[object URL]';
}

/** The module's bytes or a `Response` of them from `url`, or why not (`{what}`). */
async function fetchWasm(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    return { what: `the fetch failed: ${error?.message ?? error}` };
  }
  if (!response.ok) return { what: `HTTP ${response.status}` };
  const type = response.headers.get('content-type') ?? '';
  // Served as WebAssembly: compiled while it streams in.
  if (/^application\/wasm\b/i.test(type)) return { source: response };
  const bytes = await response.arrayBuffer();
  if (isWasm(bytes)) return { source: bytes };
  return { what: `${type || 'no content type'}, not WebAssembly` };
}

/**
 * Where the package's own file is when the loader runs from a copy of its code elsewhere
 * under node_modules (a pre-bundled dependency): `<base>/node_modules/quickchat/pkg/<file>`,
 * which the dev server serves from the installed package. `null` when that does not apply.
 */
function packageCopy(primary, loaderUrl) {
  let here;
  try {
    here = new URL(loaderUrl);
  } catch {
    return null;
  }
  const at = here.pathname.indexOf('/node_modules/');
  if (at < 0) return null;
  const file = primary.pathname.slice(primary.pathname.lastIndexOf('/') + 1);
  const copy = new URL(`${here.pathname.slice(0, at)}/node_modules/quickchat/pkg/${file}`, here);
  return copy.href === primary.href ? null : copy;
}

function unavailable(tried) {
  const list = tried.map(({ url, what }) => `${url} (${what})`).join('; ');
  return quickChatError(
    'wasm_unavailable',
    `quickchat: its WebAssembly module could not be loaded from ${list}. A bundler moved the ` +
      "package's code away from its .wasm: Vite's dev server does so when it pre-bundles the " +
      "package — add `optimizeDeps: { exclude: ['quickchat'] }` to vite.config.js — or say " +
      "where the file is served: `init({ wasm: url })` (quickchat), `configure({ wasm: url })` " +
      '(quickchat/crypto).',
  );
}

/**
 * What to hand wasm-bindgen's `init`: `input` when it is not a location; else the module
 * fetched from it (or from `defaultSource()`, then from the package's copy under
 * node_modules) and checked to be WebAssembly. Rejects with a `QuickChatError` of code
 * `wasm_unavailable` naming the fix when no location gives WebAssembly.
 */
export async function wasmSource(input, defaultSource, loaderUrl) {
  if (input != null && !isLocation(input)) return input;
  const primary = input ?? defaultSource();
  const locations = [primary];
  if (input == null) {
    const copy = packageCopy(new URL(primary), loaderUrl);
    if (copy) locations.push(copy);
  }
  const tried = [];
  for (const url of locations) {
    const found = await fetchWasm(url);
    if (found.source) return found.source;
    tried.push({ url: String(url), what: found.what });
  }
  throw unavailable(tried);
}
