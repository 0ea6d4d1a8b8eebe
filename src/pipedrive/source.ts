// The Pipedrive source as the Airbyte layer (src/airbyte/) starts it: the spec and the config's secrets at once; its
// commands (./commands.ts), with the API client, the streams and their schemas, only when one runs.
import type { SourceEntry } from '../airbyte/source.js';
import type { SourceConfig } from './config.js';
import { secretsOf, spec } from './spec.js';

export const pipedriveSource: SourceEntry<SourceConfig> = {
  spec,
  secrets: secretsOf,
  load: async () => (await import('./commands.js')).commands,
};
