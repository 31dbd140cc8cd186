/**
 * Crash safety of the SQLite store (WAL). A real IdP process (`mock-idp serve`) is
 * SIGKILLed 20 times at random moments while browsers sign in and a second process
 * edits users in the same data directory (and is killed at the same moment); the
 * real `mock-idp users add/disable` command edits users too. After every restart:
 * the store opens cleanly and passes an integrity check, no committed user change
 * is lost, and every session that was established still signs its browser in.
 * A corrupt or unusable data directory stops start-up with exit code 2 and a
 * message naming the path.
 *
 * The moments are drawn from a seeded generator; set CRASH_SEED to replay a run.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import request from 'supertest';
import { openDb } from '../../src/store/db.js';
import { UserStore } from '../../src/users/store.js';
import { freePort, tempDir } from '../helpers/idp.js';
import { csrfFrom } from '../helpers/http.js';

const NODE = [process.execPath, '--import', 'tsx'];
const CLI = path.resolve('src/cli.ts');
const WRITER = path.resolve('test/crash/store-writer.ts');
const KILLS = 20;
const CONFIG_USERS = ['ann', 'ben', 'cat', 'dan'].map((n) => ({ email: `${n}@example.com`, password: `${n}-password` }));

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();
const dirs: string[] = [];
after(() => {
  // Anything a failed test left running (only processes this file started), and the folders it made.
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function scratch(prefix: string): string {
  const dir = tempDir(prefix);
  dirs.push(dir);
  return dir;
}

function start(args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): Proc {
  const child = spawn(NODE[0]!, [...NODE.slice(1), ...args], { stdio: [stdin, 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => children.delete(child));
  return { child, output: () => out, exited };
}

async function waitFor(proc: Proc, pattern: RegExp, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(proc.output())) {
    if (proc.child.exitCode !== null) throw new Error(`${what} exited (${proc.child.exitCode}) before ${pattern}:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`${what}: no ${pattern} within ${timeoutMs} ms:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Asks the store writer to stop between two edits, and waits until it has. */
async function pause(writer: Proc): Promise<void> {
  const before = (writer.output().match(/^paused$/gm) ?? []).length;
  writer.child.stdin!.write('pause\n');
  const deadline = Date.now() + 10_000;
  while ((writer.output().match(/^paused$/gm) ?? []).length === before) {
    if (writer.child.exitCode !== null) throw new Error(`the store writer exited:\n${writer.output()}`);
    if (Date.now() > deadline) throw new Error('the store writer did not pause within 10 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function kill(proc: Proc): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  await proc.exited;
}

function writeConfig(dir: string, port: number, dataDir: string): string {
  const file = path.join(dir, 'idp.yaml');
  fs.writeFileSync(
    file,
    [
      `baseUrl: http://127.0.0.1:${port}`,
      'host: 127.0.0.1',
      `dataDir: ${JSON.stringify(dataDir)}`,
      'passwordHashCost: 10',
      'loginThrottle: { maxFailuresPerIp: 100000 }',
      'users:',
      ...CONFIG_USERS.map((u) => `  - { email: ${u.email}, password: ${u.password} }`),
      'serviceProviders:',
      '  - id: sp',
      '    jwt: { redirectUrls: [ "http://127.0.0.1:9/consumer" ], secret: "crash-test-secret-0123456789abcdef" }',
      '',
    ].join('\n'),
  );
  return file;
}

/** What the users must look like: created emails, and each one's disabled flag (or either, when an edit was cut short). */
interface Expected {
  created: Set<string>;
  disabled: Map<string, Set<boolean>>;
}

function readWriterOutput(text: string, expected: Expected): void {
  const lastCommitted = new Map<string, boolean>();
  const pending = new Map<string, boolean>();
  for (const line of text.split('\n')) {
    const [kind, email, flag] = line.split(' ');
    if (!email) continue;
    if (kind === 'C') {
      expected.created.add(email);
      lastCommitted.set(email, false);
    } else if (kind === 'd') pending.set(email, flag === '1');
    else if (kind === 'D') {
      lastCommitted.set(email, flag === '1');
      pending.delete(email);
    }
  }
  for (const [email, state] of lastCommitted) {
    const allowed = new Set([state]);
    // An edit announced but not confirmed may or may not have been committed.
    if (pending.has(email)) allowed.add(pending.get(email)!);
    expected.disabled.set(email, allowed);
  }
}

describe('crash safety', () => {
  it(`keeps committed user edits and established sessions across ${KILLS} SIGKILLs at random moments`, { timeout: 115_000 }, async (t) => {
    const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    t.diagnostic(`CRASH_SEED=${seed}`);
    const random = mulberry32(seed);
    const dir = scratch('mock-idp-crash-');
    const dataDir = path.join(dir, 'data');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const config = writeConfig(dir, port, dataDir);

    const expected: Expected = { created: new Set(), disabled: new Map() };
    const sessions: { cookie: string; email: string; round: number }[] = [];
    const cliUsers: { email: string; disabled: boolean }[] = [];
    let currentIdp: Proc | undefined;
    let signIns = 0;
    let edits = 0;

    const verify = async (round: number): Promise<void> => {
      // 1. The store opens (with its quick_check) and passes a full integrity check.
      const db = openDb(dataDir);
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok', `round ${round}: integrity_check`);
        const users = new UserStore(db, 10);
        // 2. No committed user change is lost.
        for (const email of expected.created) {
          const user = users.find(email);
          assert.ok(user, `round ${round}: the committed user ${email} exists`);
          const allowed = expected.disabled.get(email)!;
          assert.ok(allowed.has(user.disabled), `round ${round}: ${email} is ${user.disabled ? 'disabled' : 'enabled'}, expected ${[...allowed].join(' or ')}`);
        }
        for (const u of cliUsers) assert.equal(users.find(u.email)?.disabled, u.disabled, `round ${round}: the CLI's edit of ${u.email}`);
      } finally {
        db.close();
      }
      // 3. Sessions established before the crash still sign their browsers in: all of the last round, a sample of the rest.
      const recent = sessions.filter((s) => s.round === round - 1);
      const older = sessions.filter((s) => s.round < round - 1).sort(() => random() - 0.5).slice(0, 4);
      for (const s of [...recent, ...older]) {
        const home = await request(url).get('/').set('Cookie', s.cookie);
        assert.equal(home.status, 200, `round ${round}: the session of ${s.email} from round ${s.round} is still valid; IdP log:\n${currentIdp?.output().slice(-3000)}`);
        assert.ok(home.text.includes(s.email));
      }
      // 4. Users created before the crash can sign in over HTTP (a sample).
      const sample = [...expected.created].filter((e) => expected.disabled.get(e)!.size === 1).slice(-2);
      for (const email of sample) {
        const agent = request.agent(url);
        const form = await agent.get('/login').expect(200);
        const res = await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), email, password: `${email.split('@')[0]}-password` });
        assert.equal(res.status, expected.disabled.get(email)!.has(true) ? 401 : 303, `round ${round}: signing in as ${email}; IdP log:\n${currentIdp?.output().slice(-3000)}`);
      }
    };

    // The store writer lives across rounds: it is killed with the IdP in about a third of them (then the next
    // start recovers the WAL with no connection left open), else paused while the store is checked.
    let writer: Proc | undefined;
    let writersKilled = 0;
    for (let round = 0; round < KILLS; round++) {
      const idp = start([CLI, 'serve', '--config', config]);
      currentIdp = idp;
      // The IdP creates the store in round 0; after that a new writer starts beside it.
      if (round === 0) await waitFor(idp, /mock-idp is running/, `IdP (round ${round})`);
      const freshWriter = !writer;
      writer ??= start([WRITER, dataDir, `w${round}`, String(seed + round)], 'pipe');
      await waitFor(idp, /mock-idp is running/, `IdP (round ${round})`);
      if (round > 0) await verify(round);
      await waitFor(writer, /^ready$/m, `store writer (round ${round})`);
      if (!freshWriter) writer.child.stdin!.write('resume\n');

      // The real CLI edits users too, every fifth round.
      let cli: Proc | undefined;
      let cliEdit: { email: string; disabled: boolean } | undefined;
      if (round % 5 === 0) {
        const previous = cliUsers.at(-1);
        if (previous && !previous.disabled) {
          cliEdit = { email: previous.email, disabled: true };
          cli = start([CLI, 'users', 'disable', previous.email, '--config', config]);
        } else {
          cliEdit = { email: `cli-${round}@example.com`, disabled: false };
          cli = start([CLI, 'users', 'add', '--config', config, '--email', cliEdit.email, '--password', `cli-${round}-password`]);
        }
      }

      let stopped = false;
      const signInLoop = async (): Promise<void> => {
        for (let i = 0; i < 200 && !stopped; i++) {
          const user = CONFIG_USERS[Math.floor(random() * CONFIG_USERS.length)]!;
          try {
            const agent = request.agent(url);
            const form = await agent.get('/login');
            if (form.status !== 200) continue;
            const wrong = random() < 0.2;
            const res = await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), email: user.email, password: wrong ? 'wrong' : user.password });
            if (res.status === 303 && !wrong) {
              const cookie = String(res.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
              sessions.push({ cookie, email: user.email, round });
              signIns++;
              // A session write after sign-in: the SP it signed in to.
              await agent.get(`/sso/jwt/sp?redirect_url=${encodeURIComponent('http://127.0.0.1:9/consumer')}`);
            }
          } catch {
            // The IdP died under the request: whatever it had not answered was never established.
          }
        }
      };
      const loops = [signInLoop(), signInLoop()];
      // The CLI's edit is one a user waits for: it completes, then the IdP dies some time later.
      if (cli) {
        const code = await Promise.race([cli.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
        assert.equal(code, 0, `mock-idp users …: ${cli.output()}`);
      }

      // The random moment: somewhere in the next 20-900 ms of sign-ins and edits.
      await new Promise((r) => setTimeout(r, 20 + Math.floor(random() * 880)));
      const killWriter = random() < 0.35 || round === KILLS - 1;
      await Promise.all([kill(idp), killWriter ? kill(writer) : pause(writer), ...(cli ? [kill(cli)] : [])]);
      stopped = true;
      await Promise.allSettled(loops);

      const before = expected.created.size;
      readWriterOutput(writer.output(), expected);
      edits += expected.created.size - before;
      if (killWriter) {
        writer = undefined;
        writersKilled++;
      }
      if (cli && cliEdit && cli.child.exitCode === 0) {
        assert.match(cli.output(), /added|is disabled/);
        const known = cliUsers.find((u) => u.email === cliEdit.email);
        if (known) known.disabled = cliEdit.disabled;
        else cliUsers.push(cliEdit);
      }
    }

    // One last start: everything from the last round is there too.
    const last = start([CLI, 'serve', '--config', config]);
    try {
      await waitFor(last, /mock-idp is running/, 'IdP (final)');
      await verify(KILLS);
    } finally {
      await kill(last);
    }
    t.diagnostic(`${signIns} sessions established, ${edits} users created by the store writer (killed ${writersKilled} times), ${cliUsers.length} by the CLI`);
    assert.ok(signIns >= KILLS, `sign-ins happened between the kills (${signIns})`);
    assert.ok(expected.created.size >= KILLS, `user edits happened between the kills (${expected.created.size})`);
  });

  describe('an unusable data directory stops start-up with exit code 2 and names the path', { concurrency: true }, () => {
    async function goodStore(): Promise<string> {
      const dataDir = path.join(scratch('mock-idp-corrupt-'), 'data');
      const db = openDb(dataDir);
      const users = new UserStore(db, 10);
      for (let i = 0; i < 100; i++) await users.create({ email: `u${i}@example.com`, password: 'pw', attributes: { padding: 'x'.repeat(400) } });
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      return dataDir;
    }

    const CASES: [string, () => Promise<{ dataDir: string; names: string }>, RegExp][] = [
      [
        'a store file that is not a database',
        async () => {
          const dataDir = await goodStore();
          fs.writeFileSync(path.join(dataDir, 'mock-idp.sqlite'), 'this is not a database '.repeat(200));
          return { dataDir, names: path.join(dataDir, 'mock-idp.sqlite') };
        },
        /Cannot open the store .*: file is not a database/,
      ],
      [
        'a truncated store',
        async () => {
          const dataDir = await goodStore();
          const file = path.join(dataDir, 'mock-idp.sqlite');
          fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
          return { dataDir, names: file };
        },
        /Cannot open the store .*: database disk image is malformed/,
      ],
      [
        'a store with damaged pages',
        async () => {
          const dataDir = await goodStore();
          const file = path.join(dataDir, 'mock-idp.sqlite');
          const bytes = fs.readFileSync(file);
          bytes.fill(0x41, 8192, 16384);
          fs.writeFileSync(file, bytes);
          return { dataDir, names: file };
        },
        /Cannot open the store .*: the integrity check failed/,
      ],
      [
        'a store path that is a directory',
        async () => {
          const dataDir = path.join(scratch('mock-idp-corrupt-'), 'data');
          fs.mkdirSync(path.join(dataDir, 'mock-idp.sqlite'), { recursive: true });
          return { dataDir, names: path.join(dataDir, 'mock-idp.sqlite') };
        },
        /Cannot open the store /,
      ],
      [
        'a data directory that is a file',
        async () => {
          const dataDir = path.join(scratch('mock-idp-corrupt-'), 'data');
          fs.writeFileSync(dataDir, 'not a folder');
          return { dataDir, names: dataDir };
        },
        /Data directory .* is not writable \(EEXIST\)/,
      ],
      [
        'a data directory under a file',
        async () => {
          const file = path.join(scratch('mock-idp-corrupt-'), 'file');
          fs.writeFileSync(file, 'not a folder');
          return { dataDir: path.join(file, 'data'), names: path.join(file, 'data') };
        },
        /Data directory .* is not writable \(ENOTDIR\)/,
      ],
    ];

    for (const [name, make, message] of CASES) {
      it(`for ${name}`, async () => {
        const { dataDir, names } = await make();
        const port = await freePort();
        const proc = start([CLI, 'serve', '--config', writeConfig(scratch('mock-idp-corrupt-cfg-'), port, dataDir)]);
        const timer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
        const code = await proc.exited;
        clearTimeout(timer);
        assert.equal(code, 2, proc.output());
        assert.ok(proc.output().includes(names), `the message names ${names}:\n${proc.output()}`);
        assert.match(proc.output(), message);
        assert.doesNotMatch(proc.output(), /\n\s+at /, 'no stack trace');
        assert.doesNotMatch(proc.output(), /mock-idp is running/);
      });
    }

    it('but starts with every user when only the WAL file holds garbage (a torn write is ignored)', async () => {
      const dataDir = await goodStore();
      fs.writeFileSync(path.join(dataDir, 'mock-idp.sqlite-wal'), Buffer.alloc(64 * 1024, 0x5a));
      const port = await freePort();
      const proc = start([CLI, 'serve', '--config', writeConfig(scratch('mock-idp-corrupt-cfg-'), port, dataDir)]);
      try {
        await waitFor(proc, /mock-idp is running/, 'IdP with a garbage WAL');
        const agent = request.agent(`http://127.0.0.1:${port}`);
        const form = await agent.get('/login').expect(200);
        await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), email: 'u99@example.com', password: 'pw' }).expect(303);
      } finally {
        await kill(proc);
      }
    });
  });
});
