import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);

/** The package's folder: the nearest one above this code with a package.json. Airbyte runs sources from /source, and
 * users from anywhere, so the working directory means nothing; and the code is src/airbyte/paths.ts under tsx but
 * a bundle under dist/ when built. */
const root = (() => {
  for (let dir = dirname(here); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${here}`);
  }
})();

/** A file at the package root (spec.json, package.json). */
export const packageFile = (relative: string): string => join(root, relative);

/** A data file that lives beside the code (a stream's schema, the token costs), by its path under src/: the build
 * copies every JSON file of src/ to the same path under dist/. */
export const codeFile = (relative: string): string =>
  join(root, here.startsWith(join(root, 'src') + sep) ? 'src' : 'dist', relative);

export const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
