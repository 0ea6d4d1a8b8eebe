// The build's last step (`npm run build`): the connector as dist/main.js, with its dependencies in it, and the JSON
// files of src/ (schemas, token costs) at the same paths under dist/. A few files start in a fraction of the time
// hundreds of modules take to find, read and link, and the image needs no node_modules. What only some commands use
// (the API client, the streams, the read engine) is split into chunks under dist/chunks/ that load with the command
// (src/pipedrive/source.ts): `spec` compiles a third of the code (issue 24: spec, check and discover within 0.1 s of
// bare node).
import { cpSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** Node's own modules, imported by the connector and node-fetch, loaded through `require`: an ES import of one builds
 * a facade that reads every export, and node:http's lazy ones load Node's own fetch (undici), which this connector
 * never uses (Node 22 and later: some 40 ms of every start). */
const builtinsByRequire: Plugin = {
  name: 'builtins-by-require',
  setup(bundle) {
    const builtin = new RegExp(`^(node:)?(${builtinModules.join('|').replace(/\//g, '\\/')})$`);
    bundle.onResolve({ filter: builtin }, ({ path, kind }) =>
      kind === 'import-statement' ? { path, namespace: 'builtin' } : { path, external: true },
    );
    bundle.onLoad({ filter: /.*/, namespace: 'builtin' }, ({ path }) => ({
      contents: `module.exports = require(${JSON.stringify(path)});`,
      loader: 'js',
    }));
  },
};

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist`, { recursive: true, force: true });
mkdirSync(`${root}dist`);
await build({
  entryPoints: [`${root}src/main.ts`],
  outdir: `${root}dist`,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
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
  plugins: [builtinsByRequire],
  // A production build: winston's debug helper (@dabh/diagnostics) then bundles its no-op, not a colour library
  // that takes milliseconds to load.
  define: { 'process.env.NODE_ENV': '"production"' },
  // The CommonJS dependencies (winston, yargs' helpers) require Node's modules.
  banner: {
    js: "import { createRequire as bundleRequire } from 'node:module'; const require = bundleRequire(import.meta.url);",
  },
});
cpSync(`${root}src`, `${root}dist`, {
  recursive: true,
  filter: (source) => source.endsWith('.json') || statSync(source).isDirectory(),
});
