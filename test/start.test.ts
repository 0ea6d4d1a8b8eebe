import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { configuredCatalog } from '../src/pipedrive/streams/catalog.js';
import { runCli, tempFile } from './helpers/cli.js';
import { configFor, useSimulator } from './helpers/simulator.js';

const HOOK = fileURLToPath(new URL('./helpers/loaded-modules.mjs', import.meta.url));

/** The bundle's files a command loaded (`main.js`, `chunks/commands-HASH.js`, …). */
async function loadedBy(args: string[]): Promise<string[]> {
  const file = tempFile('');
  const run = await runCli(args, { nodeOptions: ['--import', HOOK], env: { LOADED_MODULES: file } });
  expect(run.exitCode, run.stdout).to.equal(0);
  const files = readFileSync(file, 'utf8')
    .split('\n')
    .filter((url) => url.includes('/dist/'))
    .map((url) => url.replace(/.*\/dist\//, ''));
  return [...new Set(files)].sort();
}

/** Whether one of `files` is the chunk esbuild names after `module` (commands.ts, read.ts). */
const holds = (files: string[], module: string) => files.some((file) => file.startsWith(`chunks/${module}-`));

// Issue 24: spec, check and discover start within 0.1 s of bare node. Each command loads only the code it runs (the
// bundle's chunks, src/pipedrive/source.ts): a static import in the wrong place would pass every other test.
describe('start: what each command loads', () => {
  const sim = useSimulator();

  it('spec loads less than check and discover, which load the commands; only read loads the read engine', async () => {
    const config = tempFile(configFor(sim()));
    const catalog = tempFile(configuredCatalog('full_refresh', ['currencies']));
    const spec = await loadedBy(['spec']);
    const read = await loadedBy(['read', '--config', config, '--catalog', catalog]);
    expect(spec).to.include('main.js');
    expect(holds(spec, 'commands') || holds(spec, 'read'), spec.join(' ')).to.equal(false);
    for (const command of ['check', 'discover']) {
      const loaded = await loadedBy([command, '--config', config]);
      expect(loaded, command).to.include.members(spec);
      expect(loaded.length, command).to.be.above(spec.length);
      expect(holds(loaded, 'commands'), command).to.equal(true);
      expect(holds(loaded, 'read'), command).to.equal(false);
      expect(read, command).to.include.members(loaded);
    }
    expect(holds(read, 'read')).to.equal(true);
  });
});
