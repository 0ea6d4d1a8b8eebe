// Per-record code compiled once per stream (timestamps, custom-field columns): property names as constants, which V8
// reads and writes several times faster than computed keys shared by every property.
import { ConnectorError } from '../../airbyte/errors.js';

/** A name as it goes into compiled code: a JSON string literal, which any string is safe as. */
export const literal = (name: string): string => JSON.stringify(name);

/** What `body` returns, run once as a strict function (one made by `new Function` is not strict by itself) whose
 * arguments are `parameters`, by name. Names in the body go in as `literal`s. */
export function compiled<T>(parameters: Record<string, unknown>, body: string): T {
  let make: (...values: unknown[]) => T;
  try {
    make = new Function(...Object.keys(parameters), `'use strict';\n${body}`) as typeof make;
  } catch (error) {
    // Node run with --disallow-code-generation-from-strings (in NODE_OPTIONS, say) refuses it.
    throw new ConnectorError(
      `This connector compiles its record mapping at the start of a read, and Node refused to (${(error as Error).message}). Run it without --disallow-code-generation-from-strings.`,
      'config_error',
      { cause: error },
    );
  }
  return make(...Object.values(parameters));
}
