// The command line, as Airbyte invokes a source: spec | check --config F | discover --config F |
// read --config F --catalog F [--state F]. Stdout carries Airbyte messages only.
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConnectorError, configError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import {
  catalogMessage,
  connectionStatusMessage,
  connectorConfigMessage,
  errorTraceMessage,
  specMessage,
} from './messages.js';
import { MessageWriter } from './output.js';
import { packageFile, readJson } from './paths.js';
import { runRead } from './read.js';
import type { Runtime, SourceEntry } from './source.js';

/** What the command line says about the source in its help. */
export interface SourceIdentity {
  /** The executable's name, e.g. source-pipedrive. */
  command: string;
  /** One line for --help. */
  description: string;
}

/** Runs the command line of `source` on the process's arguments. */
export async function runCommandLine<C>(source: SourceEntry<C>, identity: SourceIdentity): Promise<void> {
  const writer = new MessageWriter();
  const logger = createLogger(writer);
  const commands = new Commands(source, writer, logger);

  /** Whatever escapes a command still leaves as a TRACE system_error, never as a stack trace on stdout. */
  const fatal = async (error: unknown) => {
    await writer.write(errorTraceMessage(error));
    await writer.end();
    process.exit(1);
  };
  process.on('uncaughtException', (error) => void fatal(error));
  process.on('unhandledRejection', (error) => void fatal(error));

  const fileOption = (describe: string) =>
    ({ type: 'string', describe, requiresArg: true, demandOption: true }) as const;
  const configOption = { config: fileOption('Path to the JSON configuration (see spec.json)') };
  const { version } = readJson<{ version: string }>(packageFile('package.json'));
  const cli = yargs(hideBin(process.argv))
    .scriptName(identity.command)
    .usage(`$0 <command> [options]\n\n${identity.description} Prints Airbyte protocol messages on stdout.`)
    .command('spec', 'Print the connector specification', {}, () => commands.run(async () => commands.spec()))
    .command('check', 'Check the configuration and its credentials', configOption, (argv) =>
      commands.run(() => commands.check(argv.config)),
    )
    .command('discover', 'Print the catalog of the streams with their JSON schemas', configOption, (argv) =>
      commands.run(() => commands.discover(argv.config)),
    )
    .command(
      'read',
      'Read the streams of a configured catalog, continuing from a state',
      {
        ...configOption,
        catalog: fileOption('Path to the configured catalog (JSON)'),
        state: { ...fileOption('Path to the state of the previous sync (JSON)'), demandOption: false },
      },
      (argv) => commands.run(() => commands.read(argv.config, argv.catalog, argv.state)),
    )
    .demandCommand(1, 'Name a command: spec, check, discover or read.')
    .strict()
    .exitProcess(false)
    .wrap(100)
    .version(version)
    .help()
    .fail((message, error) => {
      if (error) throw error;
      // A usage mistake: a config_error for the platform, the usage for a person at a terminal.
      cli.showHelp((usage) => process.stderr.write(`${usage}\n`));
      void commands.run(async () => {
        throw configError(`Invalid command line (${message}). Run with --help for usage.`);
      });
    });
  await cli.parseAsync();
}

/** The four commands, with their inputs read from files. */
class Commands<C> {
  private readonly runtime: Runtime;

  constructor(
    private readonly source: SourceEntry<C>,
    private readonly writer: MessageWriter,
    logger: Logger,
  ) {
    this.runtime = {
      logger,
      signal: stopSignal(writer, logger),
      saveConfig: async (config) => {
        this.maskSecretsOf(config);
        await writer.write(connectorConfigMessage(config));
      },
      mask: (secret) => writer.addSecret(secret),
    };
  }

  /** Runs a command: its messages go to stdout, a failure becomes a TRACE ERROR and exit code 1. */
  async run(command: () => Promise<unknown>): Promise<void> {
    let exitCode: number;
    try {
      const result = await command();
      exitCode = typeof result === 'number' ? result : 0;
    } catch (error) {
      await this.writer.write(errorTraceMessage(error));
      exitCode = 1;
    }
    await this.writer.end();
    process.exitCode = exitCode;
  }

  spec(): Promise<void> {
    return this.writer.write(specMessage(this.source.spec));
  }

  /** Every expected failure (bad config, bad credentials, unreachable, …) is one FAILED status that says what to do. */
  async check(configPath: string): Promise<void> {
    // A file that cannot be read is a usage error (TRACE); a config that does not work is a FAILED check.
    const raw = this.readConfig(configPath);
    const source = await this.source.load();
    let status: { status: 'SUCCEEDED' | 'FAILED'; message: string };
    try {
      status = await source.check(source.configure(raw), this.runtime);
    } catch (error) {
      if (!(error instanceof ConnectorError)) throw error;
      status = { status: 'FAILED', message: error.message };
    }
    await this.writer.write(connectionStatusMessage(status.status, status.message));
  }

  async discover(configPath: string): Promise<void> {
    const raw = this.readConfig(configPath);
    const source = await this.source.load();
    await this.writer.write(catalogMessage(await source.discover(source.configure(raw), this.runtime)));
  }

  async read(configPath: string, catalogPath: string, statePath: string | undefined): Promise<number> {
    const args = {
      config: this.readConfig(configPath),
      catalog: readJsonArgument('catalog', catalogPath),
      state: statePath === undefined ? undefined : readJsonArgument('state', statePath),
      statePath,
    };
    return runRead(await this.source.load(), args, this.writer, this.runtime);
  }

  /** Reads the --config file and masks its secrets in all later output, before anything can echo them. */
  private readConfig(path: string): unknown {
    const config = readJsonArgument('config', path);
    this.maskSecretsOf(config);
    return config;
  }

  private maskSecretsOf(config: unknown): void {
    for (const secret of this.source.secrets(config)) this.writer.addSecret(secret);
  }
}

/**
 * Aborts when the run must stop: nobody reads the output any more (EPIPE), so every further request spends the API's
 * quota for nothing; or the platform cancelled the sync (SIGTERM, every one after the first ignored), which Node would
 * otherwise answer by dying mid-write. The run then winds down by itself: no new request starts, its streams end
 * INCOMPLETE, and what is queued on stdout (a CONTROL with a new token above all) is written before it exits. If
 * that takes too long, the platform's SIGKILL ends it.
 */
function stopSignal(writer: MessageWriter, logger: Logger): AbortSignal {
  const stop = new AbortController();
  writer.onClosed(() =>
    stop.abort(new ConnectorError('The output was closed (its reader went away); stopped reading.', 'system_error')),
  );
  process.on('SIGTERM', () => {
    if (stop.signal.aborted) return;
    logger.warn('Stopped by the platform (SIGTERM): ending the read.');
    stop.abort(new ConnectorError('The connector was stopped (SIGTERM) before it finished.', 'transient_error'));
  });
  return stop.signal;
}

/** Reads a JSON file named by a command-line option; the error names the option and the file, never its content. */
function readJsonArgument(option: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code);
    throw configError(`Cannot read the --${option} file "${path}": ${why}.`);
  }
  try {
    // A byte-order mark, as some Windows editors write, is not part of the JSON.
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    // V8's message may quote the file's content (a secret, for a config); report only the position.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw configError(
      `The --${option} file "${path}" is not valid JSON${position ? ` (error near character ${position})` : ''}.`,
    );
  }
}
