// `npm run soak -- --syncs N --seed S`: the convergence test (test/helpers/convergence.ts) at length. Each seed is one
// scenario of N syncs with random changes and trouble, then a final clean sync after which the replica must equal the
// simulator's data. `--seeds 1,2,3` runs several; `--shrink` shrinks a failing scenario to a smaller one (slow: it
// runs many); `--verbose` prints a line per sync. Prints the figures of each seed and their sum, as a Markdown table.
import fc from 'fast-check';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { noFigures, runScenario, scenarioArbitrary, type Figures } from '../test/helpers/convergence.js';

const args = yargs(hideBin(process.argv))
  .option('syncs', { type: 'number', default: 1000, describe: 'syncs per scenario' })
  .option('seed', { type: 'number', describe: 'the seed of one scenario' })
  .option('seeds', { type: 'string', describe: 'comma-separated seeds' })
  .option('shrink', { type: 'boolean', default: false, describe: 'shrink a failing scenario' })
  .option('verbose', { type: 'boolean', default: false, describe: 'a line per sync' })
  .strict()
  .parseSync();

const seeds = args.seeds ? args.seeds.split(',').map(Number) : [args.seed ?? Math.floor(Math.random() * 2 ** 31)];
const rows: [string, Figures, number][] = [];
let failed = false;
for (const seed of seeds) {
  const figures = noFigures();
  const started = Date.now();
  console.error(`seed ${seed}: ${args.syncs} syncs…`);
  try {
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary(args.syncs), (scenario) =>
        runScenario(scenario, figures, args.verbose ? (line) => console.error(`  ${line}`) : undefined),
      ),
      { seed, numRuns: 1, endOnFailure: !args.shrink, includeErrorInReport: true },
    );
  } catch (error) {
    failed = true;
    console.error(`seed ${seed} FAILED. Reproduce with: npm run soak -- --syncs ${args.syncs} --seed ${seed}`);
    console.error((error as Error).message);
  }
  rows.push([String(seed), figures, (Date.now() - started) / 1000]);
}

const total = rows.reduce((sum, [, figures]) => {
  for (const key of Object.keys(sum) as (keyof Figures)[]) sum[key] += figures[key];
  return sum;
}, noFigures());
const columns = Object.keys(total) as (keyof Figures)[];
console.log(`| seed | ${columns.join(' | ')} | seconds |`);
console.log(`|---|${columns.map(() => '---|').join('')}---|`);
for (const [seed, figures, seconds] of rows)
  console.log(`| ${seed} | ${columns.map((key) => figures[key]).join(' | ')} | ${Math.round(seconds)} |`);
if (rows.length > 1)
  console.log(
    `| all | ${columns.map((key) => total[key]).join(' | ')} | ${Math.round(rows.reduce((s, [, , t]) => s + t, 0))} |`,
  );
process.exitCode = failed ? 1 : 0;
