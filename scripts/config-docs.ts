// Rewrites the config reference table in README.md from the schema.
import fs from 'node:fs';
import { withConfigReference } from '../src/config/docs.js';

const readme = fs.readFileSync('README.md', 'utf8');
const next = withConfigReference(readme);
if (next !== readme) fs.writeFileSync('README.md', next);
console.log(next === readme ? 'README.md config reference is up to date' : 'README.md config reference updated');
