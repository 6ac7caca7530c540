// The importer module (pkg/quickchat_import_bg.wasm): reads the web client's IndexedDB
// database and converts a user's keys and sessions for the SDK's store. A page downloads it
// only when it is needed: a user without keys on a device where that database exists
// (`KeyManager.initialize()`, `QuickChatClient.importWebClient()`), `readWebClientDatabase()`,
// or a store an older version of the SDK left, to upgrade.

/** The importer module, loaded once (`input`: where its .wasm comes from, as for `wasm`). */
export function loadImporter(input) {
  return import('#load-import').then((loader) => loader.load(input));
}

/**
 * Upgrades the drop-in's store `name` from an older layout of the SDK (src/key-store.js
 * calls it when it finds one): the importer module holds that code.
 */
export async function upgradeStore(input, name, passphrase) {
  await (await loadImporter(input)).upgradeStore(name, passphrase);
}

/**
 * `userId`'s records from the web client's database `name`, as bytes for the engine, or null
 * when there is nothing to import; what the engines call (`importer(name, userId, now)`).
 * Where `indexedDB.databases()` says the database does not exist, nothing is downloaded.
 */
export async function importWebClient(input, name, userId, now) {
  const factory = globalThis.indexedDB;
  if (typeof factory?.databases === 'function') {
    let listed;
    try {
      listed = await factory.databases();
    } catch {
      // Unknown: the importer asks again its own way.
    }
    if (Array.isArray(listed) && !listed.some((db) => db?.name === name)) return null;
  }
  return (await loadImporter(input)).importWebClient(name, userId, now);
}
