// quickchat: the Quick Chat SDK for browsers and Node — the whole client, and (re-exported
// from quickchat/crypto) the drop-in replacement of the web client's crypto layer.
import { load } from '#load';
import { configured } from './crypto.js';
import { quickChatError } from './errors.js';
import { importWebClient, loadImporter } from './importer.js';

export {
  KeyManager,
  SessionManager,
  configure,
  configured,
  ONE_TIME_PREKEY_TARGET,
  MAX_UPLOAD_PREKEYS,
  SIGNED_PREKEY_TTL_MS,
} from './crypto.js';

let loaded;

/**
 * Loads the WebAssembly module (done automatically by every async entry point; call it to
 * load early, or to say where the .wasm is: `init({ wasm: url })`).
 */
export async function init(options = {}) {
  loaded = await load(options.wasm);
}

/** The SDK version. */
export async function version() {
  loaded = await load();
  return loaded.version();
}

/** Whether `error` is an error of this SDK (it then has a stable `code`). */
export function isQuickChatError(error) {
  return typeof error === 'object' && error !== null && error.name === 'QuickChatError' && typeof error.code === 'string';
}

/**
 * Reads the web client's IndexedDB database (`quick-chat-e2ee` unless named) as a JSON dump,
 * or null when there is none. Nothing is written. (The importer module does it: loaded now,
 * from `configure({ importWasm })` if set.)
 */
export async function readWebClientDatabase(name) {
  return (await loadImporter(configured().importWasm)).readWebClientDatabase(name);
}


/** The one user whose keys the web client's database `name` holds. */
async function onlyUserOf(name) {
  const dump = await readWebClientDatabase(name);
  const rows = dump?.stores?.identity ?? [];
  const users = [...new Set(rows.map((row) => row?.value?.userId ?? row?.key).filter((id) => typeof id === 'string'))];
  if (users.length === 1) return users[0];
  if (users.length === 0) {
    throw quickChatError('not_initialized', `the web client's database ${name} holds no account to export`);
  }
  throw quickChatError(
    'invalid_argument',
    `invalid userId: the web client's database ${name} holds ${users.length} accounts (${users.join(', ')}): say which`,
  );
}

/**
 * Exports the web client's account from its IndexedDB database (`quick-chat-e2ee` unless
 * `database` names another) as an account file sealed under `passphrase`: identity, prekeys
 * with their upload state, sessions with their ratchet state. Resolves to the file's bytes,
 * which `quickchat import FILE`, Python's `import_account` and `client.importAccount` read.
 * `userId` may be left out when the database holds one account. The web client's database is
 * only read (the importer module reads it, loaded now); the web app cannot know that the
 * account moved, so the user must stop using it there.
 */
export async function exportAccount(options = {}) {
  loaded = await load();
  const database = options.database ?? 'quick-chat-e2ee';
  const userId = options.userId ?? (await onlyUserOf(database));
  return loaded.exportWebClientAccount(
    { passphrase: options.passphrase, history: options.history, database, userId },
    clientImporter,
  );
}

// What a client imports through (`importWebClient()`): the importer module, loaded then.
function clientImporter(name, userId, now) {
  return importWebClient(configured().importWasm, name, userId, now);
}

// What a client opens account files with (`importAccount()`): the importer module's
// `openAccountFile`, loaded then (the file's reader stays out of the client's module).
async function clientOpener(file, passphrase) {
  return (await loadImporter(configured().importWasm)).openAccountFile(file, passphrase);
}

// What converts the records a store of an older version left in JSON, which this entry
// point's module does not read: the importer module's `recordToBinary`, loaded only when such
// a store is opened.
async function clientRecordConverter(kind, record) {
  return (await loadImporter(configured().importWasm)).recordToBinary(kind, record);
}

function loadedModule() {
  if (!loaded) {
    throw new Error('quickchat: the WebAssembly module is not loaded yet: `await init()` first');
  }
  return loaded;
}

/** An identity key pair held in WebAssembly memory (low level): `await init()` first. */
export class Identity {
  constructor() {
    throw new TypeError('quickchat: use Identity.fromSeed(seed) or Identity.generate()');
  }

  static fromSeed(seed) {
    return loadedModule().Identity.fromSeed(seed);
  }

  static generate() {
    return loadedModule().Identity.generate();
  }

  static [Symbol.hasInstance](value) {
    return loaded !== undefined && value instanceof loaded.Identity;
  }
}

/**
 * One Double Ratchet session in memory (low level, synchronous): `await init()` first.
 */
export class Ratchet {
  constructor() {
    throw new TypeError('quickchat: use Ratchet.initiate(), Ratchet.respond() or Ratchet.fromReferenceJson()');
  }

  static initiate(identity, bundle, options = {}) {
    return loadedModule().Ratchet.initiate(identity, bundle, options);
  }

  static respond(identity, signedPrekeySecret, oneTimePrekeySecret, firstMessage, options = {}) {
    return loadedModule().Ratchet.respond(
      identity,
      signedPrekeySecret,
      oneTimePrekeySecret,
      firstMessage,
      options,
    );
  }

  static fromReferenceJson(json, options = {}) {
    return loadedModule().Ratchet.fromReferenceJson(json, options);
  }

  static [Symbol.hasInstance](value) {
    return loaded !== undefined && value instanceof loaded.Ratchet;
  }
}

/** A bundle (as the server returns it) from an identity and prekey secrets. */
export async function prekeyBundle(identity, signedPrekeyId, signedPrekeySecret, oneTimePrekeyId, oneTimePrekeySecret) {
  loaded = await load();
  return loaded.prekeyBundle(identity, signedPrekeyId, signedPrekeySecret, oneTimePrekeyId, oneTimePrekeySecret);
}

/** The whole client: create it with `await QuickChatClient.create(options)`. */
export class QuickChatClient {
  constructor() {
    throw new TypeError('quickchat: use `await QuickChatClient.create(options)`');
  }

  static async create(options = {}) {
    loaded = await load();
    return loaded.QuickChatClient.create(options, clientImporter, clientOpener, clientRecordConverter);
  }

  static [Symbol.hasInstance](value) {
    return loaded !== undefined && value instanceof loaded.QuickChatClient;
  }
}
