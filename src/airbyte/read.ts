// `read`: runs a source's read plan. Each stream goes STARTED, RUNNING, then COMPLETE, or INCOMPLETE with a TRACE
// error naming it; a failing stream leaves the others running and their state intact, and the process exits 1 at the
// end if any failed. Tasks run phase after phase, at most `concurrency` at a time. A stream synced incrementally may
// be left, whole or from its last checkpoint, to the next sync; one in full refresh may not, since the destination
// replaces its table with what the sync read: it fails instead, so that the destination keeps its previous table.
import { getHeapStatistics } from 'node:v8';
import { ConnectorError, configError } from './errors.js';
import { parseCatalog, parseState } from './inputs.js';
import { errorTraceMessage, streamStatusMessage } from './messages.js';
import type { MessageWriter } from './output.js';
import { Progress } from './progress.js';
import type { ReadPlan, ReadTask, Runtime, Source, StreamOutcome } from './source.js';

export interface ReadArguments {
  config: unknown;
  catalog: unknown;
  state: unknown;
  statePath?: string;
}

interface Outcome {
  /** null: the stream failed. */
  records: number | null;
  seconds: number;
  /** The stream was left, whole or in part, to the next sync. */
  deferred?: 'not started' | 'at its last checkpoint';
}

export async function runRead<C>(
  source: Source<C>,
  args: ReadArguments,
  writer: MessageWriter,
  runtime: Runtime,
): Promise<number> {
  const { logger } = runtime;
  const config = source.configure(args.config);
  const catalog = parseCatalog(args.catalog, source.streams);
  const invalidState = (why: string) => configError(`The --state file "${args.statePath ?? ''}" ${why}.`);
  const states = parseState(args.state, invalidState);
  const streams = catalog.valid.map((stream) => ({ ...stream, state: states.get(stream.name) }));
  const incremental = new Set(streams.filter((s) => s.syncMode === 'incremental').map((s) => s.name));
  const progress: Progress = new Progress(writer, logger, (stream) => plan.spent(stream));
  const plan = await source.read({ ...runtime, config, streams, writer, invalidState, progress });
  const started = Date.now();
  const cpuAtStart = process.cpuUsage();
  const outcomes = new Map<string, Outcome>();
  progress.start();
  try {
    for (const { name, error } of catalog.invalid)
      outcomes.set(name, { records: await fail(name, error, writer), seconds: 0 });
    const run: TaskRun = { writer, incremental, progress, deferralReason: () => plan.deferralReason() };
    for (const phase of plan.phases) {
      await inPool(phase, plan.concurrency, async (task) => {
        for (const [name, outcome] of await runTask(task, run)) outcomes.set(name, outcome);
      });
    }
  } finally {
    progress.stop();
    plan.close();
  }
  const names = [...catalog.invalid.map((s) => s.name), ...catalog.valid.map((s) => s.name)];
  const failed = names.filter((name) => outcomes.get(name)?.records === null);
  logger.info(summary(plan, names, outcomes, started, cpuAtStart));
  const deferred = names.flatMap((name) => {
    const how = outcomes.get(name)?.deferred;
    return how ? [`${name} (${how})`] : [];
  });
  if (deferred.length > 0) {
    logger.warn(`${plan.deferralReason().message} Left to the next sync, which resumes them: ${deferred.join(', ')}.`);
  }
  if (failed.length > 0) {
    logger.error(
      `These streams did not sync completely: ${failed.join(', ')}. The others did, and their state is saved.`,
    );
  }
  return failed.length > 0 ? 1 : 0;
}

/** What running a task needs to know of the read. */
interface TaskRun {
  writer: MessageWriter;
  /** The streams synced incrementally; the others are in full refresh. */
  incremental: ReadonlySet<string>;
  progress: Progress;
  deferralReason: () => ConnectorError;
}

/** Runs one task between STARTED and COMPLETE (or INCOMPLETE) of each of its streams; a task that is not ready is
 * deferred whole, or, for its streams in full refresh, failed. */
async function runTask(task: ReadTask, run: TaskRun): Promise<Map<string, Outcome>> {
  const { writer } = run;
  const outcomes = new Map<string, Outcome>();
  if (task.ready && !task.ready()) {
    for (const name of task.streams) {
      if (run.incremental.has(name)) outcomes.set(name, { records: 0, seconds: 0, deferred: 'not started' });
      else {
        await writer.write(streamStatusMessage(name, 'STARTED'));
        outcomes.set(name, { records: await fail(name, notWhole(name, run.deferralReason()), writer), seconds: 0 });
      }
    }
    return outcomes;
  }
  const begun = Date.now();
  for (const name of task.streams) {
    await writer.write(streamStatusMessage(name, 'STARTED'));
    await writer.write(streamStatusMessage(name, 'RUNNING'));
    run.progress.started(name);
  }
  for (const [name, outcome] of await outcomesOf(task)) {
    run.progress.ended(name);
    const seconds = (Date.now() - begun) / 1000;
    if ('error' in outcome) outcomes.set(name, { records: await fail(name, outcome.error, writer), seconds });
    else if (outcome.deferred && !run.incremental.has(name))
      outcomes.set(name, { records: await fail(name, notWhole(name, run.deferralReason()), writer), seconds });
    else {
      // Deferred at a checkpoint is complete for this sync: its state says where the next one goes on.
      await writer.write(streamStatusMessage(name, 'COMPLETE'));
      const deferred = outcome.deferred ? ('at its last checkpoint' as const) : undefined;
      outcomes.set(name, { records: outcome.records, seconds, ...(deferred ? { deferred } : {}) });
    }
  }
  return outcomes;
}

/** A task's outcome for each of its streams: one it does not report, or a task that throws (it should not), is a
 * failure of the stream, never a stream left without a status. */
async function outcomesOf(task: ReadTask): Promise<Map<string, StreamOutcome>> {
  let outcomes: Map<string, StreamOutcome>;
  try {
    outcomes = await task.run();
  } catch (error) {
    outcomes = new Map();
    for (const name of task.streams) outcomes.set(name, { error });
  }
  for (const name of task.streams)
    if (!outcomes.has(name)) outcomes.set(name, { error: new Error(`the read of ${name} ended without an outcome`) });
  return outcomes;
}

/** The error of a stream in full refresh that could not be read whole. */
function notWhole(stream: string, reason: ConnectorError): ConnectorError {
  return new ConnectorError(
    `${stream} is synced in full refresh, which replaces its table with what a sync reads, and this sync could not read it whole; it fails rather than leave the table short, so the destination keeps its previous table. ${reason.message}`,
    reason.failureType,
    { internalMessage: `${stream}: full refresh not read whole: ${reason.internalMessage ?? reason.message}` },
  );
}

async function fail(stream: string, error: unknown, writer: MessageWriter): Promise<null> {
  await writer.write(streamStatusMessage(stream, 'INCOMPLETE'));
  await writer.write(errorTraceMessage(error, stream));
  return null;
}

/** Runs `run` over the items, at most `limit` at a time. */
async function inPool<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await run(item);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** One log line a person can read, ending with the same figures as JSON for tools (the benchmark reads them); the CPU
 * time is the read's, start-up left out. */
function summary(
  plan: ReadPlan,
  names: string[],
  outcomes: Map<string, Outcome>,
  started: number,
  cpuAtStart: NodeJS.CpuUsage,
): string {
  const streams = Object.fromEntries(names.map((name) => [name, { ...outcomes.get(name), ...plan.figures(name) }]));
  const totals = plan.figures();
  const records = names.reduce((sum, name) => sum + (outcomes.get(name)?.records ?? 0), 0);
  const cpu = process.cpuUsage(cpuAtStart);
  const figures = {
    records,
    seconds: (Date.now() - started) / 1000,
    ...totals,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    // What the heap may grow to: in the image, sized from the container's memory limit (docker/entrypoint.sh).
    heapLimitMb: Math.round(getHeapStatistics().heap_size_limit / 1024 / 1024),
    streams,
  };
  const cost = Object.entries(totals)
    .map(([key, value]) => `${value} ${key}`)
    .join(', ');
  return `Sync finished: ${records} records in ${figures.seconds.toFixed(1)} s${cost ? `, ${cost}` : ''}. ${JSON.stringify(figures)}`;
}
