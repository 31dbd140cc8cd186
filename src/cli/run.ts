/**
 * The command dispatch: which command runs, and how its failure becomes an exit
 * code (0 success, 1 runtime failure, 2 usage or config error) and a message.
 */
import { ConfigError, IdpError } from '../errors.js';
import { ListenError } from '../server.js';
import { UsageError } from './args.js';
import { conformance } from './conformance.js';
import { keys } from './keys.js';
import { mint } from './mint.js';
import { SERVE_HELP, checkConfig, serve } from './serve.js';
import { sp } from './sp.js';
import { users } from './users.js';

const MAIN_HELP = `Usage: mock-idp <command> [options]

Commands:
  serve                           start the IdP (the default command)
  check-config [FILE]             validate a config and print it resolved, secrets masked
  keys list|generate|rotate       show, create or rotate the signing keys
                                  (rotate --url URL: those of a running IdP)
  mint jwt --sp ID --user EMAIL   print a token without a server
  mint saml --sp ID --user EMAIL  print a signed SAMLResponse without a server
  users list|add|disable|enable   manage users in the data directory's store
  sp import FILE|URL [--id ID]    register a SAML SP from its metadata
                                  (--url URL: with a running IdP)
  conformance --sp ID             fire good and bad tokens/assertions at an SP and report

Run "mock-idp <command> --help" for a command's options.
`;

const COMMANDS: Record<string, (args: string[]) => number | Promise<number>> = {
  serve,
  'check-config': checkConfig,
  keys,
  mint,
  users,
  sp,
  conformance,
};

export async function runCli(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined || first.startsWith('-')) {
      if (first === '--help' || first === '-h') {
        process.stdout.write(`${MAIN_HELP}\n${SERVE_HELP}`);
        return 0;
      }
      return await serve(argv);
    }
    const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (command) return await command(rest);
    if (first === 'help') {
      process.stdout.write(MAIN_HELP);
      return 0;
    }
    throw new UsageError(`unknown command "${first}"`);
  } catch (err) {
    return failed(err);
  }
}

/** The message and exit code for what a command threw. */
function failed(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`mock-idp: ${err.message}\n\n${MAIN_HELP}`);
    return 2;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`mock-idp: ${err.message}\n`);
    return 2;
  }
  if (err instanceof IdpError && err.expose) {
    process.stderr.write(`mock-idp: ${err.message}\n`);
    // A bad --fault value is a usage error; anything else failed at run time.
    return err.code === 'invalid_fault' ? 2 : 1;
  }
  if (err instanceof ListenError) {
    const what = err.server === 'idp' ? 'the IdP' : 'the demo SP';
    const reason = err.code === 'EADDRINUSE' ? 'the port is in use' : 'not allowed to use that port';
    const option = err.server === 'idp' ? '--port or PORT (port in a config file)' : '--demo-sp-port or DEMO_SP_PORT (demo.spPort in a config file)';
    process.stderr.write(`mock-idp: cannot listen on ${err.host}:${err.port} for ${what}: ${reason} (${err.message}). Set another port for ${what} with ${option}.\n`);
    return 1;
  }
  process.stderr.write(`mock-idp: failed to start: ${(err as Error).message}\n`);
  return 1;
}
