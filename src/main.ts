#!/usr/bin/env node
// The connector's executable: the Airbyte command line (src/airbyte/) running the Pipedrive source (src/pipedrive/).
import { runCommandLine } from './airbyte/cli.js';
import { pipedriveSource } from './pipedrive/source.js';

await runCommandLine(pipedriveSource, {
  command: 'source-pipedrive',
  description: 'Airbyte source connector for Pipedrive CRM.',
});
