// The parts of the docs the code can compute, written between markers so that they cannot go stale:
//   <!-- generated: NAME -->
//   …
//   <!-- /generated -->
// in README.md and docs/*.md. `npx tsx scripts/docs.ts` rewrites them; `--check` exits 1 if any is out of date
// (test/docs.test.ts checks the same).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { loadResults, renderResults } from '../bench/results.js';
import { Dataset } from '../simulator/dataset.js';
import { syncModesOf } from '../src/pipedrive/streams/catalog.js';
import { tokenCost } from '../src/pipedrive/http/ledger.js';
import { MAX_PAGE_SIZE, type ListDefinition } from '../src/pipedrive/http/pagination.js';
import {
  DEFAULT_STREAMS,
  STREAMS,
  fieldListOf,
  isIncremental,
  isResumable,
  primaryKeyOf,
  type StreamDefinition,
  type StreamList,
} from '../src/pipedrive/streams/table.js';

const root = new URL('../', import.meta.url);
const code = (text: string) => `\`${text}\``;
const get = (endpoint: string) => code(`GET ${endpoint}`);

/** A list as the stream table shows it: fanned out over another list, or alone. */
const listed = (list: StreamList) =>
  list.each ? `${get(list.endpoint)} per record of ${get(list.each.of.endpoint)}` : get(list.endpoint);

/** What a request of a list costs, and for how many records at most. */
function requestCost(list: ListDefinition): string {
  const cost = tokenCost(list.endpoint);
  return list.paging === 'single' ? `${cost}` : `${cost} per ${list.maxPageSize ?? MAX_PAGE_SIZE}`;
}

/** The tokens a sync of a stream spends, by what it reads: a whole response, a page of records, a parent. */
function cost(stream: StreamDefinition): string {
  if (stream.kind === 'fields') return requestCost(fieldListOf(stream));
  const [first] = stream.lists;
  if (stream.kind === 'child' && first) {
    const { request, stream: parent } = stream.parent;
    return request.per === 'record'
      ? `${tokenCost(first.endpoint)} per changed record of ${parent}`
      : `${tokenCost(first.endpoint)} per ${request.size} changed ${parent}`;
  }
  const lists: readonly StreamList[] = stream.lists;
  return lists
    .map((list) =>
      list.each ? `${requestCost(list.each.of)}, then ${tokenCost(list.endpoint)} per record` : requestCost(list),
    )
    .join(' + ');
}

/** What a stream asks Pipedrive for, in a few words. */
function reads(stream: StreamDefinition): string {
  if (stream.kind === 'fields') return get(fieldListOf(stream).endpoint);
  const lists = [...new Set(stream.lists.map(listed))].join(' and ');
  if (stream.kind === 'full_table') return lists;
  if (stream.kind === 'child') {
    const { request, stream: parent } = stream.parent;
    return request.per === 'record'
      ? `${lists} per ${parent} record changed since the previous sync`
      : `${lists} for up to ${request.size} ${parent} changed since the previous sync, a request`;
  }
  const recent =
    stream.kind === 'client_filtered' && stream.recent
      ? ` (or ${stream.recent.lists.map((list) => get(list.endpoint)).join(' and ')} after a sync less than ${stream.recent.reach.toHuman()} old)`
      : '';
  const deletions = stream.deletions
    ? `; deletions from ${stream.deletions.lists.map((list) => get(list.endpoint)).join(' and ')}`
    : '';
  return `${lists}${recent}${deletions}`;
}

const optIn = (stream: StreamDefinition) => !DEFAULT_STREAMS.includes(stream);

function streamTable(): string {
  const rows = [...STREAMS]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((stream) => {
      const modes = syncModesOf(stream)
        .map((mode) =>
          mode === 'full_refresh' && isResumable(stream) ? 'full refresh (resumable)' : mode.replace('_', ' '),
        )
        .join(', ');
      const cursor = isIncremental(stream) ? code(stream.cursor) : '';
      const name = optIn(stream) ? `${stream.name} (opt-in)` : stream.name;
      return `| ${name} | ${reads(stream)} | ${modes} | ${cursor} | ${code(primaryKeyOf(stream))} | ${cost(stream)} |`;
    });
  const head = '| stream | reads | sync modes | cursor | primary key | tokens a sync (per records read) |';
  return [head, '|---|---|---|---|---|---|', ...rows].join('\n');
}

function streamCounts(): string {
  const incremental = STREAMS.filter(isIncremental);
  const fields = STREAMS.filter((stream) => stream.kind === 'fields');
  const fullTables = STREAMS.filter((stream) => stream.kind === 'full_table');
  return (
    `${STREAMS.length} streams: ${incremental.length} incremental (${incremental.filter(optIn).length} of them opt-in), ` +
    `${fullTables.length} full tables and ${fields.length} field-definition streams, read whole every sync.`
  );
}

interface PropertySpec {
  type?: string;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  pattern_descriptor?: string;
  airbyte_secret?: boolean;
  oneOf?: { title?: string }[];
}

/** Every option of spec.json: its default, the values it takes, and what it does (as Airbyte's form shows it). */
function configurationTable(): string {
  const spec = JSON.parse(readFileSync(new URL('spec.json', root), 'utf8')) as {
    connectionSpecification: { properties: Record<string, PropertySpec> };
  };
  const rows = Object.entries(spec.connectionSpecification.properties).map(([name, property]) => {
    const values = property.enum
      ? property.enum.map((value) => code(String(value))).join(' or ')
      : property.oneOf
        ? property.oneOf.map((variant) => variant.title).join(' or ')
        : property.minimum !== undefined
          ? `${property.minimum} to ${property.maximum ?? '∞'}`
          : (property.pattern_descriptor ?? property.type ?? '');
    const fallback = property.default === undefined ? 'none' : code(JSON.stringify(property.default));
    const secret = property.airbyte_secret ? ' Secret.' : '';
    return `| ${code(name)} | ${fallback} | ${values} | ${(property.description ?? '').replace(/\|/g, '\\|')}${secret} |`;
  });
  return ['| option | default | values | what it does |', '|---|---|---|---|', ...rows].join('\n');
}

/** The size of the demo's company (`npm run demo`: the simulator's defaults), as a round figure. */
function demoCompany(): string {
  const records = Object.values(new Dataset().tables).reduce((sum, table) => sum + table.count, 0);
  const about = (Math.round(records / 100) * 100).toLocaleString('en-US');
  return `The simulated company is the same every run: about ${about} records over two years.`;
}

const GENERATED: Record<string, () => string> = {
  configuration: configurationTable,
  streams: streamTable,
  'stream-counts': streamCounts,
  'demo-company': demoCompany,
  benchmark: () => renderResults(loadResults()),
};

/** The docs with generated parts: the README and every file in docs/. */
export const DOC_FILES = ['README.md', ...readdirSync(new URL('docs/', root)).map((name) => `docs/${name}`)].filter(
  (file) => file.endsWith('.md'),
);
const MARKED = /(<!-- generated: ([\w-]+) -->\n)([\s\S]*?)(<!-- \/generated -->)/g;

/** `text` (of `file`) with every generated part as the code computes it now. */
export function regenerated(text: string, file: string): string {
  return text.replace(MARKED, (_, open: string, name: string, _old: string, close: string) => {
    const generate = GENERATED[name];
    if (!generate) throw new Error(`${file}: no generator for "${name}"`);
    return `${open}${generate()}\n${close}`;
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const check = process.argv.includes('--check');
  const stale = DOC_FILES.filter((file) => {
    const text = readFileSync(new URL(file, root), 'utf8');
    const updated = regenerated(text, file);
    if (updated !== text && !check) writeFileSync(new URL(file, root), updated);
    return updated !== text;
  });
  if (check && stale.length > 0) {
    console.error(`Out of date: ${stale.join(', ')}. Run: npx tsx scripts/docs.ts`);
    process.exit(1);
  }
  console.log(stale.length > 0 ? `wrote ${stale.join(', ')}` : 'up to date');
}
