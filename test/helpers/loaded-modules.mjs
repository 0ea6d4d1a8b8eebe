// Preloaded (node --import) by the test of what each command loads: registers a module hook that appends the URL of
// every ES module the process loads to the file LOADED_MODULES names, one per line. (Hooks run on a thread of their
// own, so they cannot share the connector's stdout.)
import { register } from 'node:module';

const hook = `
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(process.env.LOADED_MODULES, url + '\\n');
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
