import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package root: the folder holding views/, public/ and keys/ (same depth from src/ and dist/). */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const viewsDir = path.join(packageRoot, 'views');
export const publicDir = path.join(packageRoot, 'public');
export const bundledKeysDir = path.join(packageRoot, 'keys');
