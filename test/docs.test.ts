// The docs tell the truth the code can check: generated parts as the code computes them, links that lead somewhere,
// and a README short enough to be the front door.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { DOC_FILES, regenerated } from '../scripts/docs.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

const anchorsOf = (text: string) =>
  new Set(text.split('\n').flatMap((line) => (/^#{1,6} (.+)$/.exec(line)?.slice(1) ?? []).map(slug)));

/** The relative links of a Markdown file (`file`, from the root) that lead nowhere: no such file, or no such heading. */
export function brokenLinks(file: string, text: string, readFile: (path: string) => string | undefined): string[] {
  const broken: string[] = [];
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (!target || /^[a-z]+:/i.test(target)) continue;
    const [path = '', anchor] = target.split('#');
    const resolved = path === '' ? file : normalize(join(dirname(file), path));
    const content = readFile(resolved);
    if (content === undefined) broken.push(`${file}: ${target} (no ${resolved})`);
    else if (anchor && resolved.endsWith('.md') && !anchorsOf(content).has(anchor))
      broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
  }
  return broken;
}

const fromDisk = (path: string) => {
  const full = join(ROOT, path);
  if (!existsSync(full)) return undefined;
  return path.endsWith('.md') ? read(path) : '';
};

describe('docs', () => {
  it('every generated part (configuration, stream table, stream counts) is what the code computes', () => {
    for (const file of DOC_FILES)
      expect(regenerated(read(file), file), `${file}: run npx tsx scripts/docs.ts`).to.equal(read(file));
  });

  it('a generated part that no longer matches the code is caught', () => {
    const readme = read('README.md');
    const tampered = readme.replace(/\| deals \|[^\n]*/, '| deals | `GET /v1/deals` | full refresh | | `id` |');
    expect(tampered).to.not.equal(readme);
    expect(regenerated(tampered, 'README.md')).to.equal(readme);
  });

  it('every relative link of the README and docs/ leads to a file, and to a heading of it', () => {
    for (const file of DOC_FILES) expect(brokenLinks(file, read(file), fromDisk), file).to.deep.equal([]);
    const sample = '[a](docs/airbyte.md#no-such-heading) [b](docs/none.md) [c](#authentication) [d](https://x.y)';
    expect(brokenLinks('README.md', sample, fromDisk)).to.have.length(2);
  });

  it('the README is the front door: at most about 250 lines, the two commands a newcomer needs, the Node version', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).to.be.at.most(250);
    expect(readme)
      .to.include('npm run demo')
      .and.include('npm test')
      .and.match(/Node\.js 20 or later/);
  });
});
