import {
  spawn,
  type ChildProcess,
  type SpawnOptionsWithStdioTuple,
  type StdioNull,
  type StdioPipe,
} from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

const directory = mkdtempSync(join(tmpdir(), 'source-pipedrive-test-'));
const reports = mkdtempSync(join(tmpdir(), 'source-pipedrive-reports-'));

/** Connector processes started by tests and not ended yet, with the last lines each wrote. */
const running = new Map<ChildProcess, string[]>();
const TAIL_LINES = 20;

/**
 * Starts a connector process (`args` after node's own options) that a test waits for. One still running when its test
 * ends (the test timed out: the connector hung) is killed after the test, not left to keep mocha, and CI, waiting for
 * ever; before that it is asked for Node's diagnostic report, and what it was waiting on is printed with its last
 * output.
 */
export function spawnConnector(
  args: string[],
  options: Omit<SpawnOptionsWithStdioTuple<StdioNull, StdioPipe, StdioPipe>, 'stdio'> = {},
) {
  const child = spawn(
    process.execPath,
    ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${reports}`, ...args],
    { ...options, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const tail: string[] = [];
  running.set(child, tail);
  const keep = (chunk: Buffer | string) => {
    tail.push(...String(chunk).split('\n').filter(Boolean));
    tail.splice(0, tail.length - TAIL_LINES);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('close', () => running.delete(child));
  return child;
}

async function killLeftBehind(test: string) {
  for (const [child, tail] of running) {
    child.kill('SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    child.kill('SIGKILL');
    running.delete(child);
    console.error(
      `A connector process outlived the test "${test}" and was killed. Its last output:\n${tail.join('\n')}`,
    );
    console.error(waitingOn(child.pid));
  }
}

/** What a process's diagnostic report says it was doing: its JavaScript stack and the handles keeping it alive. */
function waitingOn(pid: number | undefined): string {
  const file = readdirSync(reports).find((name) => name.includes(`.${pid}.`));
  if (!file) return 'It wrote no diagnostic report.';
  const report = JSON.parse(readFileSync(join(reports, file), 'utf8')) as {
    javascriptStack?: { message?: string; stack?: string[] };
    libuv?: { type: string; is_active: boolean; address?: string }[];
  };
  const handles = (report.libuv ?? [])
    .filter((h) => h.is_active && !['async', 'check', 'prepare', 'loop'].includes(h.type))
    .map(({ address: _, ...handle }) => JSON.stringify(handle));
  return `Its stack: ${JSON.stringify(report.javascriptStack)}\nIts active handles:\n${handles.join('\n')}`;
}

// Outside mocha (the soak script uses these helpers) there are no hooks.
if (typeof afterEach === 'function')
  afterEach(async function () {
    await killLeftBehind(this.currentTest?.fullTitle() ?? 'unknown');
  });

export interface CliRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  messages: AirbyteMessage[];
}

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
  const child = spawnConnector([...(options.nodeOptions ?? []), ...clocked.nodeOptions, CLI, ...args], {
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
