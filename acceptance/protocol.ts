import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import type { AirbyteMessage, AirbyteStateMessage } from '../src/generated/airbyte-protocol.js';

const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;
const protocol = JSON.parse(readFileSync(new URL('../vendor/airbyte/airbyte_protocol.json', import.meta.url), 'utf8'));

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addKeyword('version');
ajv.addKeyword('existingJavaType');
addFormats(ajv);
ajv.addSchema(protocol, 'protocol');

/** Validates against a definition of Airbyte's protocol schema, e.g. `AirbyteMessage`. */
export const protocolValidator = (definition: string): ValidateFunction =>
  ajv.getSchema(`protocol#/definitions/${definition}`)!;

const validateMessage = protocolValidator('AirbyteMessage');

/** Parses one stdout line and checks it is an AirbyteMessage; throws with the line otherwise. */
export function parseMessageLine(line: string): AirbyteMessage {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    throw new Error(`stdout line is not JSON: ${line.slice(0, 300)}`);
  }
  if (!validateMessage(message)) {
    throw new Error(
      `stdout line is not a valid AirbyteMessage (${ajv.errorsText(validateMessage.errors)}): ${line.slice(0, 300)}`,
    );
  }
  return message as AirbyteMessage;
}

/** The latest state of each stream among `states`, as the platform (and CAT) pass them to the next read. */
export function latestStates(
  states: AirbyteStateMessage[],
): { type: 'STREAM'; stream: NonNullable<AirbyteStateMessage['stream']> }[] {
  const latest = new Map<string, NonNullable<AirbyteStateMessage['stream']>>();
  for (const state of states) {
    if (state.type === 'STREAM' && state.stream)
      latest.set(state.stream.stream_descriptor.name, {
        ...state.stream,
        stream_state: state.stream.stream_state ?? {},
      });
  }
  return [...latest.values()].map((stream) => ({ type: 'STREAM', stream }));
}
