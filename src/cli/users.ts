/** `mock-idp users list|add|disable|enable`: the users in the data directory's store. */
import { formatIssues } from '../config/load.js';
import { userSchema } from '../config/schema.js';
import type { Services } from '../services.js';
import { COMMON_OPTIONS, OFFLINE_OPTIONS, UsageError, offlineServices, pairs, parse } from './args.js';

const USERS_HELP = `Usage: mock-idp users list|add|disable|enable [options]

  list                          the users in the store
  add --email E (--password P | --password-stdin) [--name N] [--attr K=V]...
  disable EMAIL | enable EMAIL

Changes are written to the store in the data directory and survive restarts
(unless the config file's entry for that user changes). With store: redis in the
config, they are written to Redis too, and every running replica applies them.

Options:
${COMMON_OPTIONS}`;

const USERS_OPTIONS = {
  ...OFFLINE_OPTIONS,
  email: { type: 'string' },
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  name: { type: 'string' },
  attr: { type: 'string', multiple: true },
} as const;

export async function users(args: string[]): Promise<number> {
  const { values, positionals } = parse({ args, options: USERS_OPTIONS, allowPositionals: true });
  if (values.help) {
    process.stdout.write(USERS_HELP);
    return 0;
  }
  const [action, target, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (!action || !['list', 'add', 'disable', 'enable'].includes(action)) throw new UsageError('users takes one of list, add, disable, enable');
  const services = await offlineServices(values);
  try {
    if (action === 'list') {
      const rows = services.users.list().map((u) => `${u.email}\t${u.name ?? ''}\t${u.disabled ? 'disabled' : 'active'}\t${JSON.stringify(u.attributes)}`);
      process.stdout.write(['email\tname\tstatus\tattributes', ...rows].join('\n') + '\n');
      return 0;
    }
    if (action === 'add') return await add(services, values);
    if (!target) throw new UsageError(`users ${action} needs an EMAIL`);
    const user = await services.changes.updateUser(target, { disabled: action === 'disable' });
    process.stdout.write(`${user.email} is ${user.disabled ? 'disabled' : 'enabled'}\n`);
    return 0;
  } finally {
    await services.close();
  }
}

interface AddValues {
  email?: string | undefined;
  password?: string | undefined;
  'password-stdin'?: boolean | undefined;
  name?: string | undefined;
  attr?: string[] | undefined;
}

async function add(services: Services, values: AddValues): Promise<number> {
  if (!values.email) throw new UsageError('users add needs --email');
  if (values.password !== undefined && values['password-stdin']) throw new UsageError('give --password or --password-stdin, not both');
  const password = values['password-stdin'] ? await readStdin() : values.password;
  if (!password) throw new UsageError('users add needs --password P or --password-stdin');
  const parsed = userSchema.safeParse({ email: values.email, password, name: values.name, attributes: Object.fromEntries(pairs(values.attr, '--attr')) });
  if (!parsed.success) throw new UsageError(`invalid user:\n${formatIssues(parsed.error, userSchema)}`);
  const user = await services.changes.createUser(parsed.data);
  process.stdout.write(`added ${user.email}\n`);
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
