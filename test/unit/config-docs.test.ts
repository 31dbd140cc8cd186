import assert from 'node:assert/strict';
import fs from 'node:fs';
import { it } from 'node:test';
import { withConfigReference } from '../../src/config/docs.js';

it('the README config reference matches the schema (run `npm run config-docs` after changing it)', () => {
  const readme = fs.readFileSync('README.md', 'utf8');
  assert.equal(withConfigReference(readme), readme);
});

it('the README starts with the two commands: start the demo, run all tests', () => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
  assert.match(block, /^npm ci && npm start /m);
  assert.match(block, /^npm ci && npm test /m);
  assert.match(fs.readFileSync('.ci/run', 'utf8'), /^npm ci && npm test$/m);
});

it('the README library example is the test file test/library/readme-example.test.ts, word for word', () => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const file = fs.readFileSync('test/library/readme-example.test.ts', 'utf8');
  const snippet = file.slice(file.indexOf('// readme-example:start\n') + '// readme-example:start\n'.length, file.indexOf('// readme-example:end'));
  assert.ok(snippet.includes('startIdp'));
  assert.ok(readme.includes('```ts\n' + snippet + '```'), 'README shows the example exactly');
});
