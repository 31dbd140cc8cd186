/** Waiting on a spawned command line: for its output, for its exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The output of a child (stdout and stderr together) once `pattern` shows in it. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}:\n${out}`));
    });
  });
}

/** The exit code of a child, waiting for it to exit. */
export function exitOf(child: ChildProcess, timeoutMs = 15_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error('the process did not exit')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/**
 * Runs the command line (src/cli.ts under tsx) without the caller's
 * MOCK_IDP_ADMIN_TOKEN or MOCK_IDP_CONFIG; its exit code and what it printed.
 * A command still running after 30 s is killed (by its PID) and fails the test.
 */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { MOCK_IDP_ADMIN_TOKEN: _drop, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...inherited, MOCK_IDP_CONFIG: '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    return { code: await exitOf(child, 30_000), stdout, stderr };
  } catch {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    throw new Error(`mock-idp ${args.join(' ')} did not exit within 30 s:\n${stdout}${stderr}`);
  }
}
