import type { AirbyteErrorTraceMessage } from '../generated/airbyte-protocol.js';

export type FailureType = NonNullable<AirbyteErrorTraceMessage['failure_type']>;

/** An error the user should read: its message says what went wrong and what to do, and its failure type tells the
 * platform whether to retry (transient_error), ask the user to fix the configuration (config_error) or neither. */
export class ConnectorError extends Error {
  constructor(
    message: string,
    readonly failureType: FailureType,
    options: { cause?: unknown; internalMessage?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ConnectorError';
    this.internalMessage = options.internalMessage;
  }
  readonly internalMessage?: string;
}

export const configError = (message: string, cause?: unknown) => new ConnectorError(message, 'config_error', { cause });

/** Any thrown value as a ConnectorError; anything unexpected is a system_error. */
export function asConnectorError(error: unknown): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ConnectorError(`Unexpected error: ${message}`, 'system_error', { cause: error, internalMessage: message });
}
