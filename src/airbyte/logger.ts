import { createRequire } from 'node:module';
import type winston from 'winston';
import { logMessage, type LogLevel } from './messages.js';
import type { MessageWriter } from './output.js';

const LEVELS: Record<string, LogLevel> = { error: 'ERROR', warn: 'WARN', info: 'INFO', debug: 'DEBUG' };

/** What the connector logs through: one method per level. */
export interface Logger {
  error(message: string | Error): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/**
 * The connector's logger; level from LOG_LEVEL (error, warn, info, debug, in any case), default info. winston is
 * loaded at the first message: most runs of spec, check and discover log nothing, and loading it costs about 10 ms of
 * every start (issue 24). It loads synchronously, so a message still goes out exactly where it was logged.
 */
export function createLogger(writer: MessageWriter, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  const known = level.toLowerCase();
  let loaded: winston.Logger | undefined;
  const logger = () => (loaded ??= winstonLogger(writer, Object.hasOwn(LEVELS, known) ? known : 'info'));
  return {
    error: (message) => logger().error(message),
    warn: (message) => logger().warn(message),
    info: (message) => logger().info(message),
    debug: (message) => logger().debug(message),
  };
}

/** winston and its transport base class, loaded now. In the bundle `require` is esbuild's, which holds winston and
 * evaluates it at this first call; run from the sources (tsx), it is Node's. */
function loadWinston(): [typeof winston, typeof import('winston-transport')] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- esbuild bundles only a literal require call
  if (typeof require === 'function') return [require('winston'), require('winston-transport')];
  const load = createRequire(import.meta.url);
  return [load('winston'), load('winston-transport')];
}

function winstonLogger(writer: MessageWriter, level: string): winston.Logger {
  const [winston, Transport] = loadWinston();
  /** Sends winston logs as Airbyte LOG messages through the one stdout writer (winston's Console transport writes
   * plain text to stdout, which would corrupt the message stream). The writer queues a message as it is written, so
   * the transport is done with it at once: were it to wait for the output to take more, winston would buffer the
   * logs that follow, and they would come out behind later messages, or not at all if the process exits first. */
  class AirbyteLogTransport extends Transport {
    override log(info: winston.Logform.TransformableInfo, next: () => void): void {
      const stack = typeof info.stack === 'string' ? info.stack : undefined;
      void writer.write(logMessage(LEVELS[info.level] ?? 'INFO', String(info.message), stack));
      next();
    }
  }
  return winston.createLogger({
    level,
    levels: { error: 0, warn: 1, info: 2, debug: 3 },
    format: winston.format.errors({ stack: true }),
    transports: [new AirbyteLogTransport()],
  });
}
