// An app that depends on the package as users get it: `npm pack`, then the tarball
// installed like any dependency (it has none of its own, so this works offline).
import { execFileSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Packs the package in `packageDir` into `work`, copies the app `template` to
 * `work/app` and installs the tarball there. Returns the app's directory.
 */
export function installPackedApp({ packageDir, work, template, name }) {
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], {
    cwd: packageDir,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop();
  const app = join(work, 'app');
  cpSync(template, app, { recursive: true });
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name, private: true, type: 'module', dependencies: { quickchat: `file:../${tarball}` } }),
  );
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent'], { cwd: app, stdio: 'inherit' });
  return app;
}
