#!/usr/bin/env node
// The command line, as Airbyte invokes it: spec | check --config F | discover --config F |
// read --config F --catalog F [--state F]. Stdout carries Airbyte messages only.
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { secretsOf } from './config.js';
import { configError } from './errors.js';
import { packageFile, readJson } from './paths.js';
import { createLogger } from './protocol/logger.js';
import { errorTraceMessage } from './protocol/messages.js';
import { MessageWriter } from './protocol/output.js';
import { readCommand } from './read.js';
import { checkCommand, discoverCommand, specCommand } from './source.js';

const writer = new MessageWriter();
const logger = createLogger(writer);

/** Whatever escapes a command still leaves as a TRACE system_error, never as a stack trace on stdout. */
async function fatal(error: unknown): Promise<void> {
  await writer.write(errorTraceMessage(error));
  await writer.end();
  process.exit(1);
}
process.on('uncaughtException', (error) => void fatal(error));
process.on('unhandledRejection', (error) => void fatal(error));

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

/** Reads the --config file and masks its secrets in all later output, before anything can echo them. */
function readConfigArgument(path: string): unknown {
  const config = readJsonArgument('config', path);
  for (const secret of secretsOf(config)) writer.addSecret(secret);
  return config;
}

/** Runs a command: its messages go to stdout, a failure becomes a TRACE ERROR and exit code 1. */
async function run(command: () => Promise<number | void>): Promise<void> {
  let exitCode = 0;
  try {
    exitCode = (await command()) ?? 0;
  } catch (error) {
    await writer.write(errorTraceMessage(error));
    exitCode = 1;
  }
  await writer.end();
  process.exitCode = exitCode;
}

const fileOption = (describe: string) => ({ type: 'string', describe, requiresArg: true, demandOption: true }) as const;
const configOption = { config: fileOption('Path to the JSON configuration (see spec.json)') };
const { version } = readJson<{ version: string }>(packageFile('package.json'));

const cli = yargs(hideBin(process.argv))
  .scriptName('source-pipedrive')
  .usage('$0 <command> [options]\n\nAirbyte source connector for Pipedrive. Prints Airbyte protocol messages on stdout.')
  .command('spec', 'Print the connector specification', {}, () =>
    run(async () => writer.write(specCommand())),
  )
  .command('check', 'Check the configuration and that the API token belongs to a Pipedrive admin', configOption, (argv) =>
    run(async () => writer.write(await checkCommand(readConfigArgument(argv.config), logger))),
  )
  .command('discover', 'Print the catalog of the 16 streams with their JSON schemas', configOption, (argv) =>
    run(async () => writer.write(discoverCommand(readConfigArgument(argv.config)))),
  )
  .command(
    'read',
    'Read the streams of a configured catalog, continuing from a state',
    {
      ...configOption,
      catalog: fileOption('Path to the configured catalog (JSON)'),
      state: { ...fileOption('Path to the state of the previous sync (JSON)'), demandOption: false },
    },
    (argv) =>
      run(() =>
        readCommand(
          {
            config: readConfigArgument(argv.config),
            catalog: readJsonArgument('catalog', argv.catalog),
            state: argv.state === undefined ? undefined : readJsonArgument('state', argv.state),
            statePath: argv.state,
          },
          writer,
          logger,
        ),
      ),
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
    void run(async () => {
      throw configError(`Invalid command line (${message}). Run with --help for usage.`);
    });
  });

await cli.parseAsync();
