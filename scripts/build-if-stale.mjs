// @ts-check
/**
 * `npm start`'s prestart: builds dist/ only when a build input is newer than the
 * oldest build output (or an output is missing). A start from a warm checkout then
 * costs a few directory reads instead of tsc and the bundler (10-27 s).
 *
 * Plain JavaScript on purpose: run through tsx, this check would itself cost ~0.7 s.
 * Inputs: src/ (every file), package.json, package-lock.json (the bundle inlines
 * dependencies), the tsconfigs, and the bundler script. views/, public/ and keys/
 * are read at run time, not built.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUTS = ['dist/cli.js', 'dist/main.js', 'dist/index.js'];
const INPUT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/bundle.ts'];

/** The newest modification time under `dir` (files and folders: a deleted file changes its folder's time). */
function newestUnder(dir) {
  let newest = fs.statSync(dir).mtimeMs;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

function mtime(file) {
  try {
    return fs.statSync(path.join(root, file)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Why a build is needed, or undefined when dist/ is up to date. */
function staleReason() {
  const outputs = OUTPUTS.map((f) => [f, mtime(f)]);
  const missing = outputs.find(([, t]) => t === undefined);
  if (missing) return `${missing[0]} is missing`;
  const oldest = Math.min(...outputs.map(([, t]) => /** @type {number} */ (t)));
  if (newestUnder(path.join(root, 'src')) > oldest) return 'src/ changed since the last build';
  const changed = INPUT_FILES.find((f) => (mtime(f) ?? 0) > oldest);
  return changed ? `${changed} changed since the last build` : undefined;
}

const reason = staleReason();
if (reason) {
  process.stderr.write(`mock-idp: building dist/ (${reason})\n`);
  const npm = process.env.npm_execpath;
  const result = npm
    ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  process.exitCode = result.status ?? 1;
}
