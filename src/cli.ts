#!/usr/bin/env node
/**
 * The command line: `mock-idp [serve] [options]`, `mock-idp check-config FILE`,
 * `keys`, `mint`, `users`, `conformance` (each in src/cli/).
 * Exit codes: 0 success, 1 runtime failure, 2 usage or config error.
 */
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { runCli } from './cli/run.js';

export { runCli };

// Run when executed directly (the package bin), not when imported.
const invoked = process.argv[1] && fs.existsSync(process.argv[1]) ? pathToFileURL(fs.realpathSync(process.argv[1])).href : '';
if (invoked === import.meta.url) {
  process.exitCode = await runCli(process.argv.slice(2));
}
