// The build's last step (`npm run build`): the connector as one file, dist/main.js, with its dependencies in it, and
// the JSON files of src/ (schemas, token costs) at the same paths under dist/. One file starts in a fraction of the
// time hundreds of modules take to find, read and link (issue 24: spec, check and discover within 0.1 s of bare
// node); the image needs no node_modules.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist`, { recursive: true, force: true });
mkdirSync(`${root}dist`);
await build({
  entryPoints: [`${root}src/main.ts`],
  outfile: `${root}dist/main.js`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  // node-fetch's Blob requires this polyfill only where Node has no ReadableStream of its own (Node < 18): 120 kB
  // this connector never runs, left out.
  external: ['web-streams-polyfill', 'web-streams-polyfill/*'],
  logLevel: 'warning',
  // The CommonJS dependencies (winston, yargs' helpers) require Node's modules.
  banner: {
    js: "import { createRequire as bundleRequire } from 'node:module'; const require = bundleRequire(import.meta.url);",
  },
});
cpSync(`${root}src`, `${root}dist`, {
  recursive: true,
  filter: (source) => !source.endsWith('.ts'),
});
