// The vector files, for the JavaScript tests: every *.json in QC_VECTORS_DIR (default: the
// repository's tests/data/vectors), recognised by content as core's suite does.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const vectorsDir =
  process.env.QC_VECTORS_DIR ??
  fileURLToPath(new URL('../../tests/data/vectors', import.meta.url));

export function kindOf(value) {
  if (value.parties && value.steps) return 'conversation';
  if (value.snapshot && value.afterSnapshot) return 'web-storage-import';
  const first = value.cases?.[0];
  if (first?.seed) return 'identity';
  if (first?.initiator !== undefined) return 'x3dh';
  return null;
}

export function vectorFiles(kind) {
  return readdirSync(vectorsDir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => ({ name, value: JSON.parse(readFileSync(join(vectorsDir, name), 'utf8')) }))
    .filter((file) => kindOf(file.value) === kind);
}

export const hex = (text) => Uint8Array.from(text.match(/../g) ?? [], (b) => parseInt(b, 16));
export const b64 = (bytes) => Buffer.from(bytes).toString('base64');

/** A random source that replays recorded draws, one per call, checking their sizes. */
export class Replay {
  #draws = [];
  #taken = 0;

  queue(draws) {
    this.#draws.push(...draws.map(hex));
  }

  get left() {
    return this.#draws.length;
  }

  get taken() {
    return this.#taken;
  }

  source = (length) => {
    const next = this.#draws.shift();
    if (!next) throw new Error(`draw ${this.#taken} of ${length} bytes was not recorded`);
    if (next.length !== length) {
      throw new Error(`draw ${this.#taken} asked for ${length} bytes, the recording has ${next.length}`);
    }
    this.#taken += 1;
    return next;
  };
}
