/**
 * A child process of the crash test: edits users directly in the store of a data
 * directory, as `mock-idp users add/disable` does, as fast as it can, and reports
 * each edit on stdout *before* (lower case: intent) and *after* it is committed
 * (upper case). Pipes are synchronous on Linux, so a committed line the parent has
 * read was written after the commit. The parent SIGKILLs it at a random moment.
 *
 *   node --import tsx test/crash/store-writer.ts DATA_DIR PREFIX SEED
 *
 * Lines: `c EMAIL` / `C EMAIL` (create), `d EMAIL 0|1` / `D EMAIL 0|1` (set disabled).
 * On stdin, `pause` stops it between two edits (it answers `paused`) and `resume`
 * lets it go on, so that the parent can check the store while it survives a round.
 */
import { openDb } from '../../src/store/db.js';
import { UserStore } from '../../src/users/store.js';

const [dataDir, prefix, seedText] = process.argv.slice(2);
if (!dataDir || !prefix) throw new Error('usage: store-writer.ts DATA_DIR PREFIX SEED');

let seed = Number(seedText ?? 1) >>> 0;
const random = (): number => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

let paused: Promise<void> | undefined;
let resume: (() => void) | undefined;
let input = '';
process.stdin.on('data', (d: Buffer) => {
  input += d.toString();
  for (let i = input.indexOf('\n'); i !== -1; i = input.indexOf('\n')) {
    const command = input.slice(0, i).trim();
    input = input.slice(i + 1);
    if (command === 'pause' && !paused) paused = new Promise((r) => (resume = r));
    if (command === 'resume' && resume) {
      resume();
      paused = resume = undefined;
    }
  }
});

const db = openDb(dataDir);
const users = new UserStore(db, 10);
const created: string[] = [];
const disabled = new Map<string, boolean>();
process.stdout.write('ready\n');

// Bounded: the parent kills it long before this many edits.
for (let n = 0; n < 5_000; n++) {
  if (paused) {
    process.stdout.write('paused\n');
    await paused;
  }
  if (created.length === 0 || random() < 0.6) {
    const email = `${prefix}-${n}@example.com`;
    process.stdout.write(`c ${email}\n`);
    await users.create({ email, password: `${prefix}-${n}-password` });
    created.push(email);
    disabled.set(email, false);
    process.stdout.write(`C ${email}\n`);
  } else {
    const email = created[Math.floor(random() * created.length)]!;
    const next = !disabled.get(email);
    process.stdout.write(`d ${email} ${next ? 1 : 0}\n`);
    await users.update(email, { disabled: next });
    disabled.set(email, next);
    process.stdout.write(`D ${email} ${next ? 1 : 0}\n`);
  }
}
db.close();
process.stdin.destroy();
