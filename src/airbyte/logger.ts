import winston from 'winston';
import Transport from 'winston-transport';
import { logMessage, type LogLevel } from './messages.js';
import type { MessageWriter } from './output.js';

const LEVELS: Record<string, LogLevel> = { error: 'ERROR', warn: 'WARN', info: 'INFO', debug: 'DEBUG' };

/** Sends winston logs as Airbyte LOG messages through the one stdout writer. (winston's Console transport writes
 * plain text to stdout, which would corrupt the message stream.) */
class AirbyteLogTransport extends Transport {
  constructor(private readonly writer: MessageWriter) {
    super();
  }

  override log(info: winston.Logform.TransformableInfo, next: () => void): void {
    const stack = typeof info.stack === 'string' ? info.stack : undefined;
    void this.writer.write(logMessage(LEVELS[info.level] ?? 'INFO', String(info.message), stack)).then(next);
  }
}

export type Logger = winston.Logger;

/** The connector's logger; level from LOG_LEVEL (error, warn, info, debug), default info. */
export function createLogger(writer: MessageWriter, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return winston.createLogger({
    level: level in LEVELS ? level : 'info',
    levels: { error: 0, warn: 1, info: 2, debug: 3 },
    format: winston.format.errors({ stack: true }),
    transports: [new AirbyteLogTransport(writer)],
  });
}
