// A stream that needs a feature of Pipedrive's plans, refused: what discover and a read make of it.
import { ConnectorError } from '../../airbyte/errors.js';
import { HttpStatusError } from '../http/client.js';
import type { StreamDefinition } from './table.js';

/** Pipedrive refused a list of a stream that needs a plan feature (402, 403), or answered that the list does not
 * exist (404): the company may lack the feature. */
export const refusedFeature = (stream: StreamDefinition, error: unknown): error is HttpStatusError =>
  stream.planFeature !== undefined && error instanceof HttpStatusError && [402, 403, 404].includes(error.status);

/** Such a refusal as an error that names the feature beside what Pipedrive said; any other error as it is. */
export function featureRefusal(stream: StreamDefinition, error: unknown): unknown {
  if (!refusedFeature(stream, error)) return error;
  return new ConnectorError(
    `${stream.name} needs Pipedrive's ${stream.planFeature}, which this company's plan may not include: if so, add it to the plan (Company settings → Billing) or deselect ${stream.name}. ${error.message}`,
    'config_error',
    { cause: error, internalMessage: error.internalMessage },
  );
}
