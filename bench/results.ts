// The benchmark's results, kept in bench/results.json (committed) case by case, so that a run of some cases updates
// only theirs; the README's benchmark table is rendered from it (scripts/docs.ts), so it shows what was measured.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** One case's last result: a row of the table (sync cases) or a sentence (the others), and when and on what code
 * it was measured. */
export interface CaseResult {
  id: string;
  measured: string;
  commit: string;
  row?: string;
  note?: string;
}

const FILE = new URL('./results.json', import.meta.url);
/** The order cases are shown in. */
export const CASE_ORDER = ['deals', 'latency', 'mix', 'limit', '2m', 'memory', 'huge', 'huge-10m', 'resume', 'start'];

export const loadResults = (): CaseResult[] =>
  existsSync(FILE) ? (JSON.parse(readFileSync(FILE, 'utf8')) as CaseResult[]) : [];

export function saveResults(updated: CaseResult[]): void {
  const kept = loadResults().filter((old) => !updated.some((result) => result.id === old.id));
  const all = [...kept, ...updated].sort((a, b) => CASE_ORDER.indexOf(a.id) - CASE_ORDER.indexOf(b.id));
  writeFileSync(FILE, `${JSON.stringify(all, null, 2)}\n`);
}

export const TABLE_HEADER = [
  '| case | connector | reference (same run) | speed ÷ reference | CPU per record ÷ loop | requests ÷ fewest possible (fewest) |',
  '|---|---|---|---|---|---|',
];

/** The results as Markdown: the table of sync cases, then the other cases' sentences, each with its date. */
export function renderResults(results: CaseResult[]): string {
  const dated = (result: CaseResult) => `${result.measured.slice(0, 10)}, ${result.commit}`;
  const rows = results.flatMap((result) =>
    result.row ? [`${result.row.replace(/ \|$/, '')} | ${dated(result)} |`] : [],
  );
  const notes = results.flatMap((result) => (result.note ? [`- ${result.note} (${dated(result)})`] : []));
  return [TABLE_HEADER[0]!.replace(/ \|$/, ' | measured |'), `${TABLE_HEADER[1]}---|`, ...rows, '', ...notes].join(
    '\n',
  );
}
