// The drop-in's tests in a React app's setup (test/vitest/): vitest, the jsdom environment,
// fake-indexeddb and a mocked `fetch`. `npm test` runs them through test/run.mjs.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/vitest/**/*.test.js'],
    environment: 'jsdom',
    setupFiles: ['fake-indexeddb/auto'],
    // Generous, against hangs only (the machine is shared): a call that never settles fails
    // its test instead of stopping the run.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    passWithNoTests: false,
  },
});
