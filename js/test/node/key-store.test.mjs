// src/key-store.js, the drop-in's IndexedDB side, on fake-indexeddb (a complete IndexedDB in
// JavaScript): what it reads at opening, how it writes (a burst's writes sharing
// transactions, the last write of a key winning, a durable write after everything queued),
// how a failure reaches the engine, and the headers it refuses. The browser suite runs it
// on Chromium's IndexedDB under the engine; here its own rules are pinned one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';
import 'fake-indexeddb/auto';

import { LAYOUT, deviceSecret, openKeyStore } from '../../src/key-store.js';

const noUpgrade = () => {
  throw new Error('no upgrade expected');
};

// A fresh factory per test, with every readwrite transaction counted.
function freshDatabase() {
  globalThis.indexedDB = new IDBFactory();
  const counted = { readwrite: 0 };
  const open = globalThis.indexedDB.open.bind(globalThis.indexedDB);
  globalThis.indexedDB.open = (...args) => {
    const request = open(...args);
    request.addEventListener('success', () => {
      const db = request.result;
      const transaction = db.transaction.bind(db);
      db.transaction = (stores, mode) => {
        if (mode === 'readwrite') counted.readwrite += 1;
        return transaction(stores, mode);
      };
    });
    return request;
  };
  return counted;
}

function raw(name) {
  return new Promise((resolve, reject) => {
    const request = globalThis.indexedDB.open(name);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function rawPut(name, store, key, value) {
  const db = await raw(name);
  await new Promise((resolve, reject) => {
    const tx = db.transaction([store], 'readwrite');
    tx.objectStore(store).put(value, key);
    tx.oncomplete = resolve;
    tx.onabort = () => reject(tx.error);
  });
  db.close();
}

const bytes = (...values) => new Uint8Array(values);

async function withHeader(name) {
  const store = await openKeyStore(name, noUpgrade);
  assert.equal(store.header(), null, 'a new store has no header');
  assert.deepEqual(store.records(), []);
  assert.equal(await store.writeHeader('{"kdf":1}', bytes(9, 9)), null);
  return store;
}

test('a new store: no header, no records; its header is read back at the next opening', async () => {
  freshDatabase();
  const store = await withHeader('s1');
  store.close();
  const again = await openKeyStore('s1', noUpgrade);
  const header = again.header();
  assert.equal(header.layout, LAYOUT);
  assert.equal(header.kdf, '{"kdf":1}');
  assert.deepEqual([...header.check], [9, 9]);
  again.close();
});

test('writes put, delete and clear; every record is read back at opening, once', async () => {
  freshDatabase();
  const store = await withHeader('s2');
  await store.write(
    [
      ['account', 'identity', bytes(1)],
      ['one_time_prekeys', 2, bytes(2)],
      ['one_time_prekeys', 3, bytes(3)],
      ['sessions', 'bob', bytes(4)],
      ['known_identities', 'bob', bytes(5)],
    ],
    true,
  );
  await store.write([['one_time_prekeys', 2], ['known_identities']], true);
  store.close();
  const again = await openKeyStore('s2', noUpgrade);
  const records = again.records().map(([s, k, v]) => [s, k, [...v]]);
  assert.deepEqual(records, [
    ['account', 'identity', [1]],
    ['one_time_prekeys', 3, [3]],
    ['sessions', 'bob', [4]],
  ]);
  assert.deepEqual(again.records(), [], 'handed over once');
  again.close();
});

test("a burst's relaxed writes share transactions, the last write of a key wins, and a durable write lands after them", async () => {
  const counted = freshDatabase();
  const store = await withHeader('s3');
  const before = counted.readwrite;
  for (let i = 0; i < 10; i += 1) store.write([['sessions', 'bob', bytes(i)]], false);
  store.write([['sessions', 'carol', bytes(7)]], false);
  await store.settled();
  assert.ok(counted.readwrite - before <= 2, `${counted.readwrite - before} transactions for 11 writes`);
  store.write([['sessions', 'bob', bytes(20)]], false);
  store.write([['sessions', 'bob', bytes(21)]], false);
  await store.write([['sessions', 'bob', bytes(22)]], true);
  store.close();
  const again = await openKeyStore('s3', noUpgrade);
  const records = Object.fromEntries(again.records().map(([, k, v]) => [k, [...v]]));
  assert.deepEqual(records, { bob: [22], carol: [7] });
  again.close();
});

test('a failed relaxed write: settled() rejects with it; unwaited, the next write throws it; then writes go on', async () => {
  freshDatabase();
  const store = await withHeader('s4');
  store.write([['no_such_store', 'x', bytes(1)]], false);
  await assert.rejects(store.settled(), /NotFoundError|no_such_store|not found/i);
  store.write([['no_such_store', 'x', bytes(1)]], false);
  // Let it fail with nobody waiting.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.throws(() => store.write([['sessions', 'bob', bytes(1)]], false), /NotFoundError|no_such_store|not found/i);
  await store.write([['sessions', 'bob', bytes(2)]], true);
  await store.settled();
  store.close();
});

test('a durable write that fails rejects, and the store goes on', async () => {
  freshDatabase();
  const store = await withHeader('s5');
  await assert.rejects(store.write([['no_such_store', 'x', bytes(1)]], true));
  await store.write([['sessions', 'bob', bytes(3)]], true);
  store.close();
});

test('headers it refuses: another format, a newer layout; an older layout goes to the upgrade, once', async () => {
  freshDatabase();
  (await withHeader('s6')).close();
  await rawPut('s6', 'meta', 'layout', LAYOUT + 1);
  await assert.rejects(openKeyStore('s6', noUpgrade), (e) => e.code === 'store_corrupt' && /newer version/.test(e.message));

  await rawPut('s6', 'meta', 'format', 'something else');
  await assert.rejects(openKeyStore('s6', noUpgrade), (e) => e.code === 'store_corrupt' && /not a quickchat store/.test(e.message));

  await rawPut('s6', 'meta', 'format', 'quickchat-idb');
  await rawPut('s6', 'meta', 'layout', LAYOUT - 1);
  const upgraded = [];
  const store = await openKeyStore('s6', async (name) => {
    upgraded.push(name);
    await rawPut(name, 'meta', 'layout', LAYOUT);
  });
  assert.deepEqual(upgraded, ['s6']);
  assert.equal(store.header().layout, LAYOUT);
  store.close();

  await rawPut('s6', 'meta', 'layout', LAYOUT - 1);
  await assert.rejects(
    openKeyStore('s6', async () => {}),
    (e) => e.code === 'store_corrupt' && /upgrade did not finish/.test(e.message),
  );
});

test('a second writeHeader finds the first one: the header another opener wrote is given back', async () => {
  freshDatabase();
  const first = await withHeader('s7');
  const other = await first.writeHeader('{"kdf":2}', bytes(1));
  assert.equal(other.kdf, '{"kdf":1}');
  first.close();
});

test("the device passphrase: made once per store, 32 random bytes in base64, kept", async () => {
  freshDatabase();
  const a = await deviceSecret('store-a');
  assert.match(a, /^[A-Za-z0-9+/]{43}=$/);
  assert.equal(await deviceSecret('store-a'), a);
  assert.notEqual(await deviceSecret('store-b'), a);
});
