// The structure the folders promise: an Airbyte layer that knows nothing of Pipedrive, the Pipedrive source on top,
// and within it imports that only run downwards; and a stream table the rest of the connector can rely on.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { schemaFileOf } from '../src/pipedrive/streams/catalog.js';
import { FIELD_LISTS } from '../src/pipedrive/streams/custom-fields/definitions.js';
import { STREAMS, isCarrier, isOptIn, streamByName } from '../src/pipedrive/streams/table.js';
import { Dataset } from '../simulator/dataset.js';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** The layers, lowest first: a module may import from its own layer and those below it, never from one above. */
const LAYERS: [string, RegExp][] = [
  ['generated types', /^generated\//],
  ['Airbyte layer', /^airbyte\//],
  ['Pipedrive basics', /^pipedrive\/(clock|luxon|time|spec|config)\.ts$/],
  ['Pipedrive HTTP', /^pipedrive\/http\//],
  ['Pipedrive streams', /^pipedrive\/streams\//],
  ['Pipedrive source', /^pipedrive\/(connection|read|commands|source)\.ts$/],
  ['entry point', /^main\.ts$/],
];

const layerOf = (file: string) => LAYERS.findIndex(([, pattern]) => pattern.test(file));

/** Every import of `files` (path under src/ → source text) that runs upwards, or to a file in no layer. */
export function layerViolations(files: Map<string, string>): string[] {
  const violations: string[] = [];
  for (const [file, text] of files) {
    const from = layerOf(file);
    if (from < 0) violations.push(`${file} is in no layer`);
    // Static imports, and the dynamic ones that load a command's code when it runs.
    for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = relative(SRC, resolve(SRC, dirname(file), specifier ?? '')).replace(/\.js$/, '.ts');
      const to = layerOf(target);
      if (to < 0) violations.push(`${file} imports ${target}, outside the layers of src/`);
      else if (to > from)
        violations.push(`${file} imports ${target}: ${LAYERS[from]?.[0]} may not depend on ${LAYERS[to]?.[0]}`);
    }
  }
  return violations;
}

function sources(directory = SRC): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) for (const [file, text] of sources(path)) files.set(file, text);
    else if (entry.name.endsWith('.ts')) files.set(relative(SRC, path), readFileSync(path, 'utf8'));
  }
  return files;
}

describe('structure', () => {
  describe('layers', () => {
    it('no import runs upwards: the Airbyte layer knows nothing of Pipedrive, HTTP nothing of streams', () => {
      expect(layerViolations(sources())).to.deep.equal([]);
    });

    it('the check catches an upward import, static or dynamic, and a file outside every layer', () => {
      const files = new Map([
        ['airbyte/read.ts', "import { STREAMS } from '../pipedrive/streams/table.js';"],
        ['pipedrive/http/pagination.ts', "import type { StreamDefinition } from '../streams/table.js';"],
        ['pipedrive/streams/engine.ts', "import { listPages } from '../http/pagination.js';"],
        ['pipedrive/source.ts', "import { TOKENS } from '../../simulator/server.js';"],
        ['pipedrive/http/auth.ts', "const { commands } = await import('../commands.js');"],
        ['stray.ts', ''],
      ]);
      expect(layerViolations(files)).to.deep.equal([
        'airbyte/read.ts imports pipedrive/streams/table.ts: Airbyte layer may not depend on Pipedrive streams',
        'pipedrive/http/pagination.ts imports pipedrive/streams/table.ts: Pipedrive HTTP may not depend on Pipedrive streams',
        'pipedrive/source.ts imports ../simulator/server.ts, outside the layers of src/',
        'pipedrive/http/auth.ts imports pipedrive/commands.ts: Pipedrive HTTP may not depend on Pipedrive source',
        'stray.ts is in no layer',
      ]);
    });
  });

  describe('the stream table', () => {
    it('names each stream once, and gives each a schema file and simulated data', () => {
      const data = new Dataset();
      expect(streamByName.size).to.equal(STREAMS.length);
      for (const stream of STREAMS) {
        const file = schemaFileOf(stream);
        expect(existsSync(join(SRC, 'pipedrive/streams/schemas', file)), file).to.equal(true);
        if (stream.kind === 'fields') expect(data.fields[stream.entity], stream.name).to.not.have.length(0);
        else expect(data.sampleOf(stream.name), stream.name).to.not.have.length(0);
      }
    });

    it('names for each entity with field definitions a stream that carries its custom fields (its columns are named after it)', () => {
      for (const [entity, { carrier }] of Object.entries(FIELD_LISTS)) {
        const stream = streamByName.get(carrier);
        expect(stream && isCarrier(stream) && stream.customFields.entity, entity).to.equal(entity);
      }
      for (const stream of STREAMS.filter(isCarrier))
        expect(FIELD_LISTS, stream.name).to.have.property(stream.customFields.entity);
    });

    it('makes every stream that needs a plan feature opt-in, so that the ready-made catalogs sync on every plan', () => {
      for (const stream of STREAMS.filter((s) => s.planFeature !== undefined))
        expect(isOptIn(stream), stream.name).to.equal(true);
    });

    it("names an incremental stream of the table as each child stream's parent", () => {
      for (const stream of STREAMS) {
        if (stream.kind !== 'child') continue;
        expect(streamByName.get(stream.parent.stream)?.kind, stream.name).to.be.oneOf([
          'server_filtered',
          'client_filtered',
        ]);
      }
    });

    it('every list of a server-filtered stream filters and sorts by time on the server', () => {
      for (const stream of STREAMS) {
        if (stream.kind !== 'server_filtered') continue;
        for (const list of stream.lists)
          expect(list, `${stream.name} ${list.endpoint}`).to.include({ ascending: true }).and.have.property('since');
      }
    });
  });
});
