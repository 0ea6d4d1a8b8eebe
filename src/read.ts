import { parseConfig } from './config.js';
import { ConnectorError } from './errors.js';
import type { Logger } from './protocol/logger.js';
import type { MessageWriter } from './protocol/output.js';

export interface ReadArguments {
  config: unknown;
  catalog: unknown;
  state: unknown;
  statePath?: string;
}

export async function readCommand(args: ReadArguments, _writer: MessageWriter, _logger: Logger): Promise<number> {
  parseConfig(args.config);
  throw new ConnectorError('read is not implemented yet', 'system_error');
}
