// The hunt for silent loss (test/helpers/convergence.ts): a seeded series of syncs with random changes and trouble,
// then a replica that must equal the simulator's data. A short run here; `npm run soak` runs long ones.
import fc from 'fast-check';
import { noFigures, runScenario, scenarioArbitrary } from './helpers/convergence.js';

const SYNCS = Number(process.env.CONVERGENCE_SYNCS ?? 24);
const SEED = Number(process.env.CONVERGENCE_SEED ?? 20261206);

describe('convergence', function () {
  this.timeout(10 * 60_000);

  it(`${SYNCS} syncs with random changes, faults, kills, skew and caps (seed ${SEED}): each says what it left, and the replica ends equal to Pipedrive's data`, async () => {
    const figures = noFigures();
    try {
      await fc.assert(
        fc.asyncProperty(scenarioArbitrary(SYNCS), (scenario) => runScenario(scenario, figures)),
        { seed: SEED, numRuns: 1, endOnFailure: true, includeErrorInReport: true },
      );
    } catch (error) {
      (error as Error).message =
        `Reproduce with: npm run soak -- --syncs ${SYNCS} --seed ${SEED} (add --shrink for a smaller case)\n${(error as Error).message}`;
      throw error;
    }
  });
});
