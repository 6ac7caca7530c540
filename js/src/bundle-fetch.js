// A peer's bundle from the backend (`GET <server>/api/users/{id}/prekeys`), for a
// SessionManager given no `fetchBundle`. Done here rather than in the drop-in's WebAssembly:
// the module then carries no HTTP client (js/README.md, "Size").
//
// `fetch` is often not the browser's: the web app's tests replace the global with a mock that
// resolves to a plain object (`{ok: true, json: async () => bundle}`, no `status`) or
// rejects, and under jsdom a `Response` may come from another realm. So the answer is read by
// what it has, never by its class, and every failure is a QuickChatError with the code and
// message the engine gives it (the SDK's whole client reads answers the same way, in
// platform-wasm/src/body.rs).

import { quickChatError } from './errors.js';

/** Bodies of this endpoint larger than this are refused (core's `MAX_SMALL_RESPONSE`). */
const MAX_RESPONSE_BYTES = 1 << 20;
/** A request that has not answered by then fails (the whole client's REST timeout). */
const REQUEST_TIMEOUT_MS = 30_000;
const PATH = '/api/users/{id}/prekeys';

function errorText(error) {
  if (typeof error === 'string') return error;
  const message = typeof error === 'object' && error !== null ? error.message : undefined;
  return typeof message === 'string' ? message : 'unknown error';
}

// A path segment as the backend's other clients encode it: everything but ASCII letters,
// digits and `-_.~` percent-encoded (encodeURIComponent also leaves `!'()*`).
function segment(value) {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The server's base URL from the `server` option, else the page's origin. Throws as the engine does. */
function serverBase(server) {
  if (server !== undefined && server !== null && typeof server !== 'string') {
    throw quickChatError('invalid_argument', 'invalid options: server must be a string');
  }
  const base = typeof server === 'string' ? server.replace(/\/+$/, '') : '';
  if (base === '') {
    const origin = globalThis.location?.origin;
    if (typeof origin === 'string' && origin.startsWith('http')) return origin;
    throw quickChatError(
      'unsupported',
      'unsupported environment: no page origin to default to (outside a browser): give the server URL',
    );
  }
  if (!base.startsWith('http://') && !base.startsWith('https://')) {
    throw quickChatError(
      'invalid_argument',
      `invalid server URL: must start with http:// or https://, got ${JSON.stringify(server)}`,
    );
  }
  return base;
}

/** A body over the limit (not a failure of the connection). */
class TooLarge extends Error {
  constructor(path) {
    super(`the answer to ${path} is larger than its ${MAX_RESPONSE_BYTES}-byte limit`);
  }
}

// `Content-Length` from the answer's headers, when they can say (0 otherwise).
function announcedLength(response) {
  try {
    const length = Number(response.headers?.get?.('content-length'));
    return Number.isFinite(length) ? length : 0;
  } catch {
    return 0;
  }
}

// The answer's status: `status` if it is an HTTP status, else 200 or 500 from `ok`.
function statusOf(response) {
  if (typeof response !== 'object' || response === null) return null;
  const { status, ok } = response;
  if (Number.isInteger(status) && status >= 100 && status <= 599) return status;
  if (ok === true) return 200;
  if (ok === false) return 500;
  return null;
}

// The answer's body as text: the stream of a real `Response` (cancelled past the limit, so
// the server does not decide how much memory it takes), else `text()`, else `json()`.
async function bodyText(response, path) {
  if (announcedLength(response) > MAX_RESPONSE_BYTES) throw new TooLarge(path);
  const stream = response.body;
  if (typeof stream?.getReader === 'function') {
    const reader = stream.getReader();
    const chunks = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!ArrayBuffer.isView(value)) throw new Error('a body chunk is not a byte array');
      size += value.byteLength;
      if (size > MAX_RESPONSE_BYTES) {
        Promise.resolve(reader.cancel?.()).catch(() => {});
        throw new TooLarge(path);
      }
      chunks.push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return new TextDecoder().decode(bytes);
  }
  let text = '';
  if (typeof response.text === 'function') {
    const value = await response.text();
    text = typeof value === 'string' ? value : '';
  } else if (typeof response.json === 'function') {
    const value = await response.json();
    text = value === undefined ? '' : JSON.stringify(value);
  }
  if (new TextEncoder().encode(text).length > MAX_RESPONSE_BYTES) throw new TooLarge(path);
  return text;
}

/**
 * `(peerId, token) => Promise<bundle>` for the backend at `server` (default: the page's
 * origin). Throws at once, as the engine does, when there is no usable server URL. The
 * promise rejects with `peer_has_no_keys` (404), `network` (no answer, with the web
 * client's "Network error while establishing encrypted session" message), `http_<status>`
 * or `bad_answer`.
 */
export function serverBundleFetch(server) {
  const base = serverBase(server);
  return async (peerId, token) => {
    const path = `/api/users/${segment(peerId)}/prekeys`;
    let status;
    let text;
    let timer;
    try {
      const exchange = (async () => {
        const fetch = globalThis.fetch;
        if (typeof fetch !== 'function') throw new Error('cannot reach the server: this environment has no fetch');
        let response;
        try {
          response = await fetch(`${base}${path}`, { method: 'GET', headers: { Authorization: `Bearer ${token}` } });
        } catch (error) {
          throw new Error(`cannot reach the server: ${errorText(error)}`);
        }
        const answered = statusOf(response);
        if (answered === null) {
          throw new Error('connection failed: fetch resolved to something that is not a response (no status or ok)');
        }
        try {
          return [answered, await bodyText(response, path)];
        } catch (error) {
          throw error instanceof TooLarge ? error : new Error(`connection failed: ${errorText(error)}`);
        }
      })();
      // Once the timeout has won, a late failure of the exchange is nobody's to handle.
      exchange.catch(() => {});
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the REST request timed out after ${REQUEST_TIMEOUT_MS} ms`)),
          REQUEST_TIMEOUT_MS,
        );
      });
      [status, text] = await Promise.race([exchange, timeout]);
    } catch (error) {
      throw quickChatError(
        'network',
        `Network error while establishing encrypted session with ${peerId}: ${errorText(error)}`,
      );
    } finally {
      clearTimeout(timer);
    }
    if (status === 404) {
      throw quickChatError(
        'peer_has_no_keys',
        `${peerId} has no prekey bundle on the server (it has not set up encryption)`,
      );
    }
    if (status < 200 || status >= 300) {
      let message = text;
      try {
        const body = JSON.parse(text);
        if (typeof body?.error === 'string') message = body.error;
      } catch {
        // Not JSON: the body itself.
      }
      throw quickChatError(`http_${status}`, `GET ${PATH} failed with ${status}: ${message}`);
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw quickChatError('bad_answer', `GET ${PATH}: unexpected answer: ${errorText(error)}`);
    }
  };
}
