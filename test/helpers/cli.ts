import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AirbyteMessage } from '../../src/generated/airbyte-protocol.js';
import { OAUTH_APP } from '../../simulator/oauth.js';
import { TOKENS } from '../../simulator/server.js';
import { parseMessageLine } from '../../acceptance/protocol.js';

/** The compiled command line, as the Docker image and users run it (`npm test` builds it first). */
export const CLI = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const COMPANY_CLOCK = fileURLToPath(new URL('./company-clock.mjs', import.meta.url));

/** Node options and environment that set the connector's clock to `now` (a simulated company's time), or nothing. */
export function clockedProcess(now?: number): { nodeOptions: string[]; env: NodeJS.ProcessEnv } {
  if (now === undefined) return { nodeOptions: [], env: process.env };
  return { nodeOptions: ['--import', COMPANY_CLOCK], env: { ...process.env, COMPANY_NOW: String(now) } };
}

export interface CliRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  messages: AirbyteMessage[];
}

const directory = mkdtempSync(join(tmpdir(), 'source-pipedrive-test-'));
let files = 0;

/** Writes a JSON (or raw text) file for a command-line argument and returns its path. */
export function tempFile(content: unknown, name = `file-${++files}.json`): string {
  const path = join(directory, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/**
 * Runs the real CLI in a child process (its clock set to `now`, a simulated company's time, if given). Every stdout
 * line must be a valid AirbyteMessage and no simulator token (nor any of `secrets`) may appear on stdout or stderr; a
 * run that breaks either rule fails the test.
 */
export async function runCli(
  args: string[],
  options: {
    secrets?: string[];
    protocol?: boolean;
    nodeOptions?: string[];
    now?: number;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<CliRun> {
  const clocked = clockedProcess(options.now);
  const child = spawn(process.execPath, [...(options.nodeOptions ?? []), ...clocked.nodeOptions, CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...clocked.env, ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expectNoSecret(stdout, stderr, options.secrets ?? [], args[0]);
  const lines = stdout.split('\n').filter((line) => line !== '');
  const messages = options.protocol === false ? [] : lines.map(parseMessageLine);
  return { exitCode, stdout, stderr, messages };
}

/** Throws if a simulator token, or one of `secrets`, shows in a command's output. The CONTROL message that hands the
 * platform a rotated config is the one place a secret may be written. */
export function expectNoSecret(stdout: string, stderr: string, secrets: readonly string[], command = 'the command') {
  const shown = stdout
    .split('\n')
    .filter((line) => !line.startsWith('{"type":"CONTROL"'))
    .join('\n');
  for (const secret of [...Object.values(TOKENS), OAUTH_APP.clientSecret, OAUTH_APP.refreshToken, ...secrets]) {
    // As written, and as JSON escapes it inside a message.
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)])) {
      if (shown.includes(form) || stderr.includes(form))
        throw new Error(`a secret leaked into the output of ${command}`);
    }
  }
}

export const ofType = <T extends AirbyteMessage['type']>(run: CliRun, type: T) =>
  run.messages.filter((m) => m.type === type);

export const traceErrors = (run: CliRun) =>
  run.messages.filter((m) => m.type === 'TRACE' && m.trace?.type === 'ERROR').map((m) => m.trace!.error!);
