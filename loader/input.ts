// Protocol messages from a stream of lines (a connector's stdout), read as fast as they are landed: `for await` asks the
// stream for its next chunk only when the previous ones are handled, so a fast connector waits on the pipe instead of
// filling this process's memory.
import type { Readable } from 'node:stream';
import type { AirbyteMessage } from '../src/generated/airbyte-protocol.js';

export interface Line {
  text: string;
  /** From 1. */
  number: number;
  /** Whether a newline ended it: the last line of a connector that was stopped mid-message has none. */
  ended: boolean;
}

/** The lines of `input` (UTF-8), blank ones left out. */
export async function* linesOf(input: Readable | AsyncIterable<string>): AsyncGenerator<Line> {
  if ('setEncoding' in input) input.setEncoding('utf8');
  let rest = '';
  let number = 0;
  for await (const chunk of input as AsyncIterable<string>) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const text of parts) {
      number++;
      if (text.trim() !== '') yield { text, number, ended: true };
    }
  }
  if (rest.trim() !== '') yield { text: rest, number: number + 1, ended: false };
}

/** A line as a protocol message; a line that is not one is an error that names it. */
export function messageOf({ text, number }: Line): AirbyteMessage {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    throw new Error(`line ${number} is not JSON: ${text.slice(0, 200)}`);
  }
  if (typeof message !== 'object' || message === null || typeof (message as { type?: unknown }).type !== 'string')
    throw new Error(`line ${number} is not an Airbyte message (no type): ${text.slice(0, 200)}`);
  const { type, record } = message as AirbyteMessage;
  const complete =
    typeof record?.stream === 'string' && typeof record.data === 'object' && typeof record.emitted_at === 'number';
  if (type === 'RECORD' && !complete)
    throw new Error(`line ${number} is a RECORD without its stream, data and emitted_at: ${text.slice(0, 200)}`);
  return message as AirbyteMessage;
}
