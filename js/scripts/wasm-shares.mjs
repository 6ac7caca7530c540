// What each part of a module adds to its gzipped size: for every category (a regular
// expression over function names), the module's code and data deflated at level 9 with and
// without the bodies of the functions it matches; the difference is what that code would
// save if it left the module with nothing in its place. An estimate for planning (shared
// strings and patterns make the parts overlap), not a size that is shipped.
//
//   node scripts/wasm-shares.mjs MODULE.wasm [NAME=REGEXP ...]
//
// MODULE must keep its function names: build, then
//   wasm-bindgen --keep-debug --target web --out-dir /tmp/n target/.../<module>.names.wasm
//   node_modules/.bin/wasm-opt -Oz -g <the feature flags of scripts/build-js.sh> \
//     /tmp/n/<module>_bg.wasm -o named.wasm
// Without categories it reports the parts of the whole client (js/README.md, "Size").
import { readFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';

const defaults = {
  'JSON (serde, serde_json)': 'serde',
  'REST calls (core protocol::api)': 'protocol::api::Api',
  'WebSocket frames (core protocol::ws)': 'protocol::ws',
  "client logic (core's client)": 'quickchat_core[^:]*::client::',
  "client API (QuickChatClient's methods)": 'api::client',
  'groups, admin, invites (by name)': 'group|admin|invite',
  'account export and import': 'archive|export_account|import_account',
  'memory store': 'store::memory',
  'low-level Ratchet API': 'api::ratchet',
};

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/wasm-shares.mjs MODULE.wasm [NAME=REGEXP ...]');
  process.exit(2);
}
const categories = args.length
  ? args.map((arg) => {
      const at = arg.indexOf('=');
      if (at < 1) throw new Error(`${arg}: expected NAME=REGEXP`);
      return [arg.slice(0, at), arg.slice(at + 1)];
    })
  : Object.entries(defaults);

const bytes = readFileSync(file);
let at = 8;
const leb = () => {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return value;
  }
};
const name = () => {
  const length = leb();
  const text = bytes.subarray(at, at + length).toString('utf8');
  at += length;
  return text;
};

const sections = [];
while (at < bytes.length) {
  const id = bytes[at++];
  const size = leb();
  sections.push({ id, start: at, end: at + size });
  at += size;
}

// Function indices count imported functions first.
let importedFunctions = 0;
for (const section of sections.filter((s) => s.id === 2)) {
  at = section.start;
  for (let count = leb(); count > 0; count--) {
    name();
    name();
    const kind = bytes[at++];
    if (kind === 0) {
      leb();
      importedFunctions++;
    } else if (kind === 1) {
      at++;
      const flags = leb();
      leb();
      if (flags & 1) leb();
    } else if (kind === 2) {
      const flags = leb();
      leb();
      if (flags & 1) leb();
    } else if (kind === 3) {
      at += 2;
    } else if (kind === 4) {
      at++;
      leb();
    } else {
      throw new Error(`import kind ${kind} not understood`);
    }
  }
}

const names = new Map();
for (const section of sections.filter((s) => s.id === 0)) {
  at = section.start;
  if (name() !== 'name') continue;
  while (at < section.end) {
    const sub = bytes[at++];
    const end = leb() + at;
    if (sub === 1) {
      for (let count = leb(); count > 0; count--) {
        const index = leb();
        names.set(index, name());
      }
    }
    at = end;
  }
}
if (names.size === 0) {
  console.error(`${file} has no function names: see the comment at the top of this script`);
  process.exit(1);
}

const bodies = [];
for (const section of sections.filter((s) => s.id === 10)) {
  at = section.start;
  const count = leb();
  for (let index = 0; index < count; index++) {
    const size = leb();
    bodies.push({ name: names.get(importedFunctions + index) ?? '', body: bytes.subarray(at, at + size) });
    at += size;
  }
}
const data = Buffer.concat(sections.filter((s) => s.id === 11).map((s) => bytes.subarray(s.start, s.end)));
const packed = (list) => deflateRawSync(Buffer.concat([...list.map((f) => f.body), data]), { level: 9 }).length;

const whole = packed(bodies);
console.log(`${file}: ${bodies.length} functions; code and data deflated: ${whole} B`);
console.log('| part | functions | raw | deflated share |');
console.log('|---|---|---|---|');
for (const [label, pattern] of categories) {
  const regexp = new RegExp(pattern);
  const matched = bodies.filter((f) => regexp.test(f.name));
  const raw = matched.reduce((sum, f) => sum + f.body.length, 0);
  const share = whole - packed(bodies.filter((f) => !regexp.test(f.name)));
  console.log(`| ${label} | ${matched.length} | ${raw} B | ${share} B |`);
}
