import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/idp.js';

const run = promisify(execFile);

/** A checkout in miniature: the prestart script, sources, a build that leaves a mark, and dist/ as old as `distAge` says. */
function checkout(): string {
  const root = tempDir('mock-idp-prestart-');
  fs.mkdirSync(path.join(root, 'scripts'));
  fs.copyFileSync(path.resolve('scripts/build-if-stale.mjs'), path.join(root, 'scripts/build-if-stale.mjs'));
  const build = "node -e \"const fs=require('fs');fs.mkdirSync('dist',{recursive:true});for(const f of ['cli','main','index'])fs.writeFileSync('dist/'+f+'.js','');fs.appendFileSync('builds','x')\"";
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'x', private: true, scripts: { build } }));
  for (const f of ['package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/bundle.ts']) fs.writeFileSync(path.join(root, f), '{}');
  fs.mkdirSync(path.join(root, 'src/http'), { recursive: true });
  fs.writeFileSync(path.join(root, 'src/http/app.ts'), '');
  return root;
}

const builds = (root: string) => (fs.existsSync(path.join(root, 'builds')) ? fs.readFileSync(path.join(root, 'builds'), 'utf8').length : 0);

function age(file: string, seconds: number): void {
  const t = new Date(Date.now() - seconds * 1000);
  fs.utimesSync(file, t, t);
}

async function prestart(root: string): Promise<string> {
  const env = { ...process.env };
  delete env.npm_execpath;
  const { stderr } = await run(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: root, env });
  return stderr;
}

describe('npm start\'s prestart', () => {
  it('builds when dist/ is missing or older than a source, and not when it is newer', async () => {
    const root = checkout();
    assert.match(await prestart(root), /building dist\/ \(dist\/cli\.js is missing\)/);
    assert.equal(builds(root), 1);

    // Everything older than the build: a warm start does not build.
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/bundle.ts', 'src/http/app.ts', 'src/http', 'src']) age(path.join(root, f), 60);
    assert.equal(await prestart(root), '');
    assert.equal(builds(root), 1);

    // An edited source is newer than dist/: the next start builds.
    fs.writeFileSync(path.join(root, 'src/http/app.ts'), 'export {};');
    assert.match(await prestart(root), /building dist\/ \(src\/ changed since the last build\)/);
    assert.equal(builds(root), 2);

    fs.writeFileSync(path.join(root, 'tsconfig.build.json'), '{ }');
    assert.match(await prestart(root), /tsconfig\.build\.json changed/);
    assert.equal(builds(root), 3);
  });
});
