// What the end-to-end tests share: the test server, Chromium, a person using the page, the
// native CLI, waiting, screenshots. Run the tests through `npm test` (test/run.mjs), which
// builds everything and sets QC_DEMO_URL, QC_SERVER_BIN, QC_CLI_BIN and QC_SCREENSHOTS_DIR.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import jsQR from 'jsqr';
import { chromium } from 'playwright-core';

import { ServerProcess } from '../scripts/lib.mjs';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the tests with \`npm test\` (test/run.mjs)`);
  }
  return value;
}

export const DEMO_URL = required('QC_DEMO_URL');
const SCREENSHOTS = required('QC_SCREENSHOTS_DIR');

/** How long to wait for something the page should show (generous: CI machines are slow). */
export const WAIT = 45_000;

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `qc-demo-${prefix}-`));
}

/** A test server on a free port with a fresh database. */
export async function startServer() {
  const dir = tempDir('server');
  const server = new ServerProcess(required('QC_SERVER_BIN'), { db: path.join(dir, 'chat.db'), bcryptCost: 4 });
  await server.start();
  server.dir = dir;
  return server;
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.QC_CHROMIUM ?? '/usr/bin/chromium',
    // Playwright gives every launch a fresh temporary profile (--user-data-dir).
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Retries `check` (which throws or returns false while not yet true) until it passes. */
export async function eventually(check, what, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const result = await check();
      if (result !== false) {
        return result;
      }
      last = new Error(`not yet: ${what}`);
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      last.message = `${what}: ${last.message}`;
      throw last;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/** A PNG of `size`×`size` pixels in one colour, made here (no image files in the repo). */
export function makePng(size, [r, g, b]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const byte of buf) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([length, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: size }, () => [r, g, b]).flat())]);
  const pixels = zlib.deflateSync(Buffer.concat(Array.from({ length: size }, () => row)));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', pixels),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Someone using the demo page in their own browser context (own IndexedDB). */
export class Person {
  static async open(browser, server, name) {
    const context = await browser.newContext({ viewport: { width: 1180, height: 760 } });
    const page = await context.newPage();
    const person = new Person(context, page, name, server);
    await page.goto(person.pageUrl());
    return person;
  }

  constructor(context, page, name, server) {
    this.context = context;
    this.page = page;
    this.name = name;
    this.server = server;
    this.password = `${name}-password`;
    this.errors = [];
    this.watch(page);
  }

  watch(page) {
    page.on('pageerror', (error) => this.errors.push(`${this.name}: ${error.message}`));
  }

  pageUrl() {
    return `${DEMO_URL}/?server=${encodeURIComponent(this.server.url)}`;
  }

  testId(id) {
    return this.page.getByTestId(id);
  }

  async register() {
    await this.testId('login-username').fill(this.name);
    await this.testId('login-password').fill(this.password);
    await this.testId('register-submit').click();
    await this.waitOnline();
    return this;
  }

  async waitOnline() {
    await this.page.locator('[data-testid="connection"][data-state="online"]').waitFor({ timeout: WAIT });
  }

  async connectionState() {
    return this.testId('connection').getAttribute('data-state');
  }

  user(name) {
    return this.page.locator(`[data-testid="user"][data-username="${name}"]`);
  }

  async waitUserOnline(name) {
    await this.page.locator(`[data-testid="user"][data-username="${name}"][data-online="true"]`).waitFor({ timeout: WAIT });
  }

  async openChat(name) {
    await this.user(name).click();
    await this.page.locator(`[data-testid="pane"][data-peer="${name}"]`).waitFor({ timeout: WAIT });
  }

  async openGroup(name) {
    await this.page.locator(`[data-testid="group"][data-name="${name}"]`).click({ timeout: WAIT });
    await this.page.locator(`[data-testid="pane"][data-group="${name}"]`).waitFor({ timeout: WAIT });
  }

  async send(text) {
    await this.testId('composer-input').fill(text);
    await this.testId('send').click();
  }

  /** The message whose text is exactly `text`. */
  message(text) {
    return this.page.locator('li[data-testid="message"]').filter({
      has: this.page.getByTestId('message-body').getByText(text, { exact: true }),
    });
  }

  async waitMessage(text) {
    await this.message(text).first().waitFor({ timeout: WAIT });
    return this.message(text);
  }

  /** How many messages with exactly this text the open conversation shows. */
  async count(text) {
    return this.message(text).count();
  }

  async waitStatus(text, status) {
    await this.page
      .locator(`li[data-testid="message"][data-direction="outgoing"][data-status="${status}"]`)
      .filter({ has: this.page.getByTestId('message-body').getByText(text, { exact: true }) })
      .waitFor({ timeout: WAIT });
  }

  async status(text) {
    return this.message(text).getAttribute('data-status');
  }

  /** Texts of the open conversation, in order. */
  async texts() {
    return this.page.getByTestId('message-body').allTextContents();
  }

  async closeDialog() {
    await this.page.locator('dialog [data-testid="dialog-close"]').click();
    await this.page.locator('dialog').waitFor({ state: 'detached' });
  }

  /** The text of the QR code on screen (decoded from the canvas's pixels). */
  async readQr(testId) {
    const canvas = this.page.locator(`dialog [data-testid="${testId}"]`);
    await eventually(async () => (await canvas.evaluate((c) => c.width)) > 0, 'the QR code is drawn');
    const { width, height, data } = await canvas.evaluate((c) => {
      const image = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      return { width: image.width, height: image.height, data: Array.from(image.data) };
    });
    const code = jsQR(Uint8ClampedArray.from(data), width, height);
    assert.ok(code, 'a QR code is readable on the canvas');
    return code.data;
  }

  /** Closes the tab and opens `url` in a new one (sessionStorage is per tab: a new sign-in). */
  async newTab(url = this.pageUrl()) {
    await this.page.close();
    this.page = await this.context.newPage();
    this.watch(this.page);
    await this.page.goto(url);
  }

  /** Signs in on the login form (this browser already has the user's store). */
  async login({ password = this.password } = {}) {
    await this.testId('login-username').fill(this.name);
    await this.testId('login-password').fill(password);
    await this.testId('login-submit').click();
    await this.waitOnline();
  }

  /** Reloads and waits until the page is connected again. */
  async reload() {
    await this.page.reload();
    await this.waitOnline();
  }

  assertNoPageErrors() {
    assert.deepEqual(this.errors, [], 'no uncaught errors in the page');
  }

  async close() {
    await this.context.close().catch(() => undefined);
  }
}

/** Fingerprint as shown in a `data-fingerprint` attribute of the test id. */
export async function fingerprintIn(person, testId) {
  return person.page.locator(`dialog [data-testid="${testId}"]`).getAttribute('data-fingerprint');
}

/** The native CLI (`quickchat`) of one user, with its own store. */
export class NativeUser {
  constructor(server, name) {
    this.name = name;
    this.dir = tempDir(`cli-${name}`);
    this.env = {
      ...process.env,
      QUICKCHAT_SERVER: server.url,
      QUICKCHAT_STORE: path.join(this.dir, `${name}.redb`),
      QUICKCHAT_PASSPHRASE: `${name}-store-passphrase`,
      QUICKCHAT_PASSWORD: `${name}-password`,
      QUICKCHAT_INSECURE_FAST_KDF: '1',
      NO_COLOR: '1',
    };
  }

  /** Runs a command to its end: `{code, stdout, stderr}`; rejects on a non-zero exit. */
  run(...args) {
    return new Promise((resolve, reject) => {
      const child = spawn(required('QC_CLI_BIN'), args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(timer);
        const result = { code, stdout, stderr };
        if (code === 0) {
          resolve(result);
        } else {
          reject(new Error(`quickchat ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
        }
      });
    });
  }

  /** `quickchat listen`: every JSON line it prints goes to `events`. */
  listen(...args) {
    const child = spawn(required('QC_CLI_BIN'), ['listen', ...args], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const events = [];
    let buffer = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) {
          events.push(JSON.parse(line));
        }
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return {
      events,
      stderr: () => stderr,
      exited,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGINT');
        }
        return exited;
      },
    };
  }
}

/** Whether the bytes of `text` occur anywhere in the server's database files. */
export function databaseContains(server, text) {
  const needle = Buffer.from(text, 'utf8');
  return fs
    .readdirSync(server.dir)
    .filter((f) => f.startsWith('chat.db'))
    .some((f) => fs.readFileSync(path.join(server.dir, f)).includes(needle));
}
