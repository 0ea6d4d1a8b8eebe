import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A file at the package root, resolved relative to the code: Airbyte runs sources from /source, and users from
 * anywhere, so the working directory means nothing. (This module sits two levels below the package root both as
 * src/airbyte/paths.ts and as dist/airbyte/paths.js.) */
export const packageFile = (relative: string): string => fileURLToPath(new URL(`../../${relative}`, import.meta.url));

/** Reads a JSON file; JSON files under src/ are copied beside the compiled code, so `new URL('./x.json',
 * import.meta.url)` works from src/ and dist/ alike. */
export const readJson = <T>(file: string | URL): T => JSON.parse(readFileSync(file, 'utf8')) as T;
