/**
 * The second step of `npm run build`: bundles the command line (dist/cli.js, which
 * `npm start`, the container and the `mock-idp` bin run) with the dependencies every
 * start loads. Loading them as over 400 separate files took most of the start-up
 * time; one file is read and compiled at once (bench/RESULTS.md, cold start).
 *
 * It replaces tsc's dist/cli.js (and its map); the library (dist/index.js) and
 * everything else in dist/ stay as tsc wrote them. Chunks sit next to cli.js, so
 * `import.meta.url` has the same depth in every output (paths.ts finds views/,
 * public/ and keys/ from it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

/**
 * Loaded from node_modules as before rather than bundled: a native addon, and what
 * is loaded only when first used (bundled, it would still be compiled at every
 * start), or loaded by name at run time (ejs, by Express's view engine).
 */
const EXTERNAL = [
  'better-sqlite3',
  // Lazy: the demo SP's SAML side, SAML building and signing, encryption, Redis sessions, key generation.
  'saml2-js',
  'xml-crypto',
  'xmlbuilder2',
  'xml-encryption',
  'redis',
  'connect-redis',
  'selfsigned',
  'node-forge',
  // SP metadata validation: libxml2 in WebAssembly (its worker script and .wasm file sit next to it), imported when first used.
  'xmllint-wasm',
  // Loads its encoding tables itself, when a body in another charset first comes.
  'iconv-lite',
  // Shares its module with xml-crypto and saml2-js, which load it from node_modules.
  '@xmldom/xmldom',
  'ejs',
  // Only for LOG_FORMAT=pretty or a terminal: loaded with require when first asked for.
  'pino-pretty',
];

const result = await build({
  // From the sources, so that bundling again never takes a bundle as its input.
  entryPoints: [path.join(root, 'src', 'cli.ts')],
  tsconfig: path.join(root, 'tsconfig.build.json'),
  outdir: dist,
  allowOverwrite: true,
  bundle: true,
  // Modules imported dynamically (jose, the Redis session store, seeded keys) stay in chunks loaded when first used.
  splitting: true,
  chunkNames: 'cli-[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // Bundled CommonJS that requires a module by a computed name (Express's view engine) needs a real require.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
});

// Chunks of earlier builds (their names carry a content hash), removed only now: a server
// started from dist/ meanwhile still finds the chunks this build wrote again.
const written = new Set(Object.keys(result.metafile.outputs).map((file) => path.basename(file)));
for (const file of fs.readdirSync(dist)) {
  if (/^cli-.+-[A-Z0-9]{8}\.js(\.map)?$/.test(file) && !written.has(file)) fs.rmSync(path.join(dist, file));
}
