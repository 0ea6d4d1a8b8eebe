import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import fc from 'fast-check';
import { createLogger } from '../src/airbyte/logger.js';
import { errorTraceMessage, logMessage, recordMessage, stateMessage } from '../src/airbyte/messages.js';
import { MessageWriter } from '../src/airbyte/output.js';
import { ConnectorError } from '../src/airbyte/errors.js';
import { TOKENS } from '../simulator/server.js';
import { runCli, tempFile } from './helpers/cli.js';
import { parseMessageLine } from '../acceptance/protocol.js';

/** A pipe that takes 1 KiB at a time and drains slowly; it records any write made while it asked to wait. */
class SlowPipe extends Writable {
  text = '';
  largestChunk = 0;
  writesWhileFull = 0;
  drains = 0;
  constructor() {
    super({ highWaterMark: 1024 });
    this.on('drain', () => this.drains++);
  }
  override write(chunk: unknown, ...rest: never[]): boolean {
    if (this.writableNeedDrain) this.writesWhileFull++;
    return super.write(chunk as string, ...rest);
  }
  override _write(chunk: Buffer, _: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    this.largestChunk = Math.max(this.largestChunk, chunk.length);
    setTimeout(done, 1);
  }
  /** What it was written, one Airbyte message a line. */
  get messages() {
    return this.text.trim().split('\n').map(parseMessageLine);
  }
}

/** What `make` returns with the environment's LOG_LEVEL set to `level`. */
function withLogLevel<T>(level: string, make: () => T): T {
  const before = process.env.LOG_LEVEL;
  process.env.LOG_LEVEL = level;
  try {
    return make();
  } finally {
    if (before === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = before;
  }
}

describe('protocol output', () => {
  it('waits for drain instead of queueing without bound, and keeps the order', async () => {
    const pipe = new SlowPipe();
    const writer = new MessageWriter(pipe, 4096);
    // Three streams write at once, as in a sync, each waiting for its previous write.
    const stream = async (name: string) => {
      for (let i = 0; i < 100; i++) await writer.write(recordMessage(name, { id: i, padding: 'x'.repeat(200) }));
    };
    await Promise.all(['a', 'b', 'c'].map(stream));
    await writer.end();
    expect(pipe.writesWhileFull).to.equal(0);
    expect(pipe.drains).to.be.above(5);
    // Memory stays bounded: nothing piles up beyond a chunk and one record per stream.
    expect(pipe.largestChunk).to.be.below(4096 + 3 * 300);
    const records = pipe.messages.map((message) => message.record!);
    for (const name of ['a', 'b', 'c']) {
      expect(records.filter((r) => r.stream === name).map((r) => (r.data as { id: number }).id)).to.deep.equal([
        ...Array(100).keys(),
      ]);
    }
  });

  it('writes every line whole and in order, of any characters and length, from writers at once (seeded)', async () => {
    const SEED = 24_1207;
    // Lines of any characters (multi-byte, lone surrogates), shorter and longer than a chunk, batched and flushed
    // while others write: what comes out must be each writer's messages, byte for byte, in its order.
    const value = fc.string({ unit: 'binary', maxLength: 300 });
    const writes = fc.array(fc.array(value, { minLength: 1, maxLength: 5 }), { maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(writes, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 600 }),
        async (writers, chunkSize) => {
          const pipe = new SlowPipe();
          const writer = new MessageWriter(pipe, chunkSize);
          const sent = writers.map((batches, w) => {
            let i = 0;
            return batches.map((batch) => batch.map((text) => recordMessage(`s${w}`, { i: i++, text })));
          });
          await Promise.all(
            sent.map(async (batches) => {
              for (const batch of batches) await writer.write(...batch);
            }),
          );
          await writer.end();
          expect(pipe.writesWhileFull).to.equal(0);
          const lines = pipe.text === '' ? [] : pipe.text.slice(0, -1).split('\n');
          sent.forEach((batches, w) => {
            const mine = lines.filter((line) => line.startsWith(`{"type":"RECORD","record":{"stream":"s${w}"`));
            expect(mine).to.deep.equal(batches.flat().map((message) => JSON.stringify(message)));
          });
          expect(lines).to.have.length(writers.flat(2).length);
        },
      ),
      {
        seed: SEED,
        numRuns: 300,
        endOnFailure: true,
        reporter: (run) => {
          if (run.failed) throw new Error(`seed ${SEED}: ${fc.defaultReportMessage(run)}`);
        },
      },
    );
  });

  it('queues each message when it is written, so that one not awaited keeps its place and end() covers it', async () => {
    let text = '';
    const pipe = new Writable({ write: (chunk: Buffer, _, done) => done(void (text += chunk.toString())) });
    const writer = new MessageWriter(pipe, 4096);
    const logger = createLogger(writer);
    await writer.write(recordMessage('deals', { id: 1, padding: 'x'.repeat(3000) }));
    // The first record waits in the batch; the log is not awaited (as the logger never is), nor are two records.
    logger.warn(`deals: ${'y'.repeat(3000)}`);
    void writer.write(recordMessage('deals', { id: 2, padding: 'x'.repeat(3000) }));
    await writer.write(stateMessage('deals', { update_time: '2026-01-01T00:00:00Z' }, 2));
    void writer.write(recordMessage('deals', { id: 3, padding: 'x'.repeat(5000) }));
    await writer.end();
    const said = text
      .trim()
      .split('\n')
      .map(parseMessageLine)
      .map((m) => (m.record ? (m.record.data as { id: number }).id : m.type));
    expect(said).to.deep.equal([1, 'LOG', 2, 'STATE', 3]);
  });

  it('takes nothing more, without hanging, once the pipe is closed without an error', async () => {
    const pipe = new SlowPipe();
    const writer = new MessageWriter(pipe);
    pipe.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    await writer.write(stateMessage('deals', { update_time: '2026-01-01T00:00:00Z' }, 1));
    await writer.end();
    expect(writer.isClosed).to.equal(true);
    expect(pipe.text).to.equal('');
  });

  it('stops waiting when the consumer goes away while the pipe is full', async () => {
    // A consumer that takes nothing: the batch waits for 'drain', and the pipe breaks meanwhile.
    const pipe = new Writable({ highWaterMark: 1024, write: () => undefined });
    const writer = new MessageWriter(pipe, 256);
    const batch = Array.from({ length: 50 }, (_, id) => recordMessage('deals', { id, padding: 'x'.repeat(200) }));
    const written = writer.write(...batch);
    setTimeout(() => pipe.destroy(new Error('EPIPE')), 5);
    await written;
    expect(writer.isClosed).to.equal(true);
    await writer.write(stateMessage('deals', { update_time: '2026-01-01T00:00:00Z' }, 50));
    await writer.end();
  });

  it('sends a STATE at once, with the records before it, instead of holding it in the batch', async () => {
    const pipe = new SlowPipe();
    const writer = new MessageWriter(pipe, 1 << 20);
    await writer.write(recordMessage('deals', { id: 1 }));
    expect(pipe.text).to.equal('');
    await writer.write(stateMessage('deals', { update_time: '2026-01-01T00:00:00Z' }, 1));
    expect(pipe.messages.map((message) => message.type)).to.deep.equal(['RECORD', 'STATE']);
  });

  it('masks registered secrets in logs and errors', async () => {
    const pipe = new SlowPipe();
    const writer = new MessageWriter(pipe);
    writer.addSecret('s3cr3t-token');
    await writer.write(logMessage('INFO', 'calling with s3cr3t-token'));
    await writer.write(errorTraceMessage(new ConnectorError('bad s3cr3t-token', 'config_error')));
    await writer.end();
    expect(pipe.text).to.not.include('s3cr3t-token');
    expect(pipe.text.match(/\*{10}/g)).to.have.length(2);
  });

  it('masks a secret that only a toJSON method says', async () => {
    const pipe = new SlowPipe();
    const writer = new MessageWriter(pipe);
    writer.addSecret('s3cr3t-token');
    const trace = errorTraceMessage(new ConnectorError('failed', 'system_error'));
    const said = { ...trace, trace: { ...trace.trace, detail: { toJSON: () => 'key=s3cr3t-token' } } };
    await writer.write(said as unknown as typeof trace);
    await writer.end();
    expect(pipe.text).to.include('key=**********').and.not.include('s3cr3t-token');
  });

  it('masks a secret wherever JSON would escape it, as walking every message would (seeded)', async () => {
    const SEED = 24_0607;
    // Secrets of any characters (quotes, backslashes, controls, surrogates), hidden in a log's text or an error's
    // nested fields, or absent: the output equals that of masking every string of the message before serialising.
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const secret = fc.string({ unit: 'binary', minLength: 4, maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(secret, text, text, fc.boolean(), async (hidden, before, after, inError) => {
        let written = '';
        const pipe = new Writable({ write: (chunk: Buffer, _, done) => done(void (written += chunk.toString())) });
        const writer = new MessageWriter(pipe);
        writer.addSecret(hidden);
        const said = `${before}${hidden}${after}`;
        const message = inError
          ? errorTraceMessage(new ConnectorError(after, 'config_error'), said)
          : logMessage('WARN', said);
        await writer.write(message);
        await writer.end();
        expect(written).to.equal(`${JSON.stringify(writer.redact(message))}\n`);
      }),
      {
        seed: SEED,
        numRuns: 2000,
        // A secret that ends in half of a pair the message completes: JSON writes the pair as it is.
        examples: [['abc\uD83D', 'x', '\uDE00', false]],
        endOnFailure: true,
        reporter: (run) => {
          if (run.failed) throw new Error(`seed ${SEED}: ${fc.defaultReportMessage(run)}`);
        },
      },
    );
  });

  it('sends winston logs as LOG messages through the writer, each where it was logged among the other messages', async () => {
    const pipe = new SlowPipe();
    const writer = new MessageWriter(pipe);
    const logger = createLogger(writer, 'debug');
    const record = (id: number) => void writer.write(recordMessage('deals', { id }));
    // The first message loads winston: it must still go out before what is written after it.
    logger.info('hello');
    record(1);
    logger.debug('details');
    logger.error(new Error('broken'));
    record(2);
    await writer.end();
    const { messages } = pipe;
    expect(
      messages.map((m) => (m.log ? [m.log.level, m.log.message] : (m.record!.data as { id: number }).id)),
    ).to.deep.equal([['INFO', 'hello'], 1, ['DEBUG', 'details'], ['ERROR', 'broken'], 2]);
    expect(messages[3]!.log!.stack_trace).to.match(/^Error: broken\n\s+at /);
  });

  for (const [level, expected] of [
    ['warn', ['WARN', 'ERROR']],
    ['WARN', ['WARN', 'ERROR']],
    ['debug', ['DEBUG', 'INFO', 'WARN', 'ERROR']],
    // Not a level: the default, info (a name every object has, too).
    ['toString', ['INFO', 'WARN', 'ERROR']],
    ['verbose', ['INFO', 'WARN', 'ERROR']],
  ] as const) {
    it(`logs only from the level LOG_LEVEL names up: ${level}`, async () => {
      const pipe = new SlowPipe();
      const writer = new MessageWriter(pipe);
      const logger = withLogLevel(level, () => createLogger(writer));
      logger.debug('details');
      logger.info('hello');
      logger.warn('careful');
      logger.error('broken');
      await writer.end();
      expect(pipe.messages.map((message) => message.log!.level)).to.deep.equal(expected);
    });
  }

  it('loads winston only at the first log message', () => {
    // A process of its own: this one has loaded winston for other tests. From the sources, winston comes through
    // Node's require, whose cache shows whether it was loaded.
    const script = [
      "import { createRequire } from 'node:module';",
      "import { createLogger } from './src/airbyte/logger.ts';",
      "import { MessageWriter } from './src/airbyte/output.ts';",
      'const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => f.endsWith("winston.js"));',
      'const logger = createLogger(new MessageWriter());',
      'const before = loaded();',
      "logger.info('hello');",
      'console.error(JSON.stringify([before, loaded()]));',
    ].join('\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
    });
    expect(JSON.parse(run.stderr.trim().split('\n').at(-1)!)).to.deep.equal([false, true]);
  });

  it('turns an unexpected error into a TRACE system_error with its stack; an expected one keeps only its message', () => {
    const unexpected = errorTraceMessage(new TypeError('x is undefined'), 'deals').trace!.error!;
    expect(unexpected).to.include({ failure_type: 'system_error', message: 'Unexpected error: x is undefined' });
    expect(unexpected.stack_trace).to.match(/^TypeError: x is undefined/);
    expect(unexpected.stream_descriptor).to.deep.equal({ name: 'deals' });
    const expected = errorTraceMessage(new ConnectorError('Invalid configuration', 'config_error')).trace!.error!;
    expect(expected).to.not.have.property('stack_trace');
  });

  it('an uncaught error in the CLI becomes a TRACE system_error and exit 1, never a raw stack trace on stdout', async () => {
    const crash = tempFile('setTimeout(() => { throw new Error("injected crash") }, 300);', 'crash.mjs');
    const config = tempFile({ api_token: TOKENS.admin, base_url: 'http://127.0.0.1:9', max_retries: 2 });
    const run = await runCli(['check', '--config', config], { nodeOptions: ['--import', crash] });
    expect(run.exitCode).to.equal(1);
    const last = run.messages.at(-1)!;
    expect(last.trace!.error).to.include({ failure_type: 'system_error', message: 'Unexpected error: injected crash' });
  });
});
