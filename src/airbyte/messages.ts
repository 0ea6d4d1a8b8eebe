// Builders for the Airbyte protocol messages this source emits. Types come from Airbyte's official schema.
import type {
  AirbyteCatalog,
  AirbyteLogMessage,
  AirbyteMessage,
  AirbyteStreamStatus,
  AirbyteStreamStatusReason,
  ConnectorSpecification,
} from '../generated/airbyte-protocol.js';
import { asConnectorError } from './errors.js';

export type { AirbyteMessage };
export type LogLevel = AirbyteLogMessage['level'];
export type StreamState = Record<string, unknown>;

export const specMessage = (spec: ConnectorSpecification): AirbyteMessage => ({ type: 'SPEC', spec });

export const catalogMessage = (catalog: AirbyteCatalog): AirbyteMessage => ({ type: 'CATALOG', catalog });

export const connectionStatusMessage = (status: 'SUCCEEDED' | 'FAILED', message: string): AirbyteMessage => ({
  type: 'CONNECTION_STATUS',
  connectionStatus: { status, message },
});

/** Asks the platform to store `config` in place of the one it passed (rotated credentials, for example). */
export const connectorConfigMessage = (config: Record<string, unknown>): AirbyteMessage => ({
  type: 'CONTROL',
  control: { type: 'CONNECTOR_CONFIG', emitted_at: Date.now(), connectorConfig: { config } },
});

export const logMessage = (level: LogLevel, message: string, stackTrace?: string): AirbyteMessage => ({
  type: 'LOG',
  log: stackTrace ? { level, message, stack_trace: stackTrace } : { level, message },
});

export const recordMessage = (stream: string, data: Record<string, unknown>): AirbyteMessage => ({
  type: 'RECORD',
  record: { stream, data, emitted_at: Date.now() },
});

export const stateMessage = (stream: string, state: StreamState, recordCount: number): AirbyteMessage => ({
  type: 'STATE',
  state: {
    type: 'STREAM',
    stream: { stream_descriptor: { name: stream }, stream_state: state },
    sourceStats: { recordCount },
  },
});

export const streamStatusMessage = (
  stream: string,
  status: AirbyteStreamStatus,
  reasons?: AirbyteStreamStatusReason[],
): AirbyteMessage => ({
  type: 'TRACE',
  trace: {
    type: 'STREAM_STATUS',
    emitted_at: Date.now(),
    stream_status: { stream_descriptor: { name: stream }, status, ...(reasons ? { reasons } : {}) },
  },
});

/** How many rows a stream is expected to emit in this sync (STREAM estimates only: the protocol asks a source not to
 * send SYNC ones too). */
export const estimateTraceMessage = (stream: string, rows: number): AirbyteMessage => ({
  type: 'TRACE',
  trace: { type: 'ESTIMATE', emitted_at: Date.now(), estimate: { name: stream, type: 'STREAM', row_estimate: rows } },
});

/** A TRACE ERROR for any thrown value; unexpected errors become system_error. */
export function errorTraceMessage(error: unknown, stream?: string): AirbyteMessage {
  const failure = asConnectorError(error);
  // A stack trace helps with the unexpected; for an expected failure the message says it all.
  const cause = failure.cause instanceof Error ? failure.cause : failure;
  const stack = failure.failureType === 'system_error' ? cause.stack : undefined;
  return {
    type: 'TRACE',
    trace: {
      type: 'ERROR',
      emitted_at: Date.now(),
      error: {
        message: failure.message,
        failure_type: failure.failureType,
        ...(failure.internalMessage ? { internal_message: failure.internalMessage } : {}),
        ...(stack ? { stack_trace: stack } : {}),
        ...(stream ? { stream_descriptor: { name: stream } } : {}),
      },
    },
  };
}
