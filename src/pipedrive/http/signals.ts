// Signals that end a request: several linked into one, with a timeout of a real timer.

/** The reason of a signal that timed out. */
export class AttemptTimeout extends Error {}

/**
 * A signal that aborts when any of `signals` does, or after `timeoutMs`; dispose() when done with it, which removes
 * its listeners and timer (AbortSignal.any and AbortSignal.timeout leave both behind for each of many requests, and
 * a timeout signal under AbortSignal.any can be garbage-collected before it fires: nodejs/node#55428).
 */
export function linkSignals(
  signals: (AbortSignal | undefined)[],
  timeoutMs?: number,
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const sources = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  const abort = (event: Event) => controller.abort((event.target as AbortSignal).reason);
  for (const source of sources) {
    if (source.aborted) controller.abort(source.reason);
    else source.addEventListener('abort', abort, { once: true });
  }
  const timer =
    timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(new AttemptTimeout()), timeoutMs);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      for (const source of sources) source.removeEventListener('abort', abort);
    },
  };
}
