import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { CURRENT_USER_ENDPOINT } from '../src/pipedrive/http/client.js';
import { STREAM_ENDPOINTS } from '../src/pipedrive/streams/table.js';
import { documentedCost } from '../scripts/openapi.js';

const costs = JSON.parse(
  readFileSync(new URL('../src/pipedrive/http/token-costs.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

describe('token costs', () => {
  it("every endpoint the connector calls costs what Pipedrive's OpenAPI documents say, none counted as free", () => {
    for (const endpoint of [CURRENT_USER_ENDPOINT, ...STREAM_ENDPOINTS]) {
      expect(costs[`GET ${endpoint}`], endpoint).to.equal(documentedCost(endpoint)).and.be.above(0);
    }
  });

  it('the files extracted from the OpenAPI documents are up to date with the stream table', () => {
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/extract-openapi.ts', '--check'], {
      cwd,
      stdio: 'pipe',
    });
  });
});
