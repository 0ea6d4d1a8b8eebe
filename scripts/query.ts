// `npm run query -- FILE "SQL"`: runs a query on a DuckDB file (the one `npm run load` or the demo fills) and prints
// its rows, for those without the DuckDB command line.
import { DuckDbDestination } from '../loader/duckdb.js';
import { textTable } from './demo-queries.js';

const [file, sql] = process.argv.slice(2);
if (!file || !sql) {
  console.error('usage: npm run query -- FILE "SQL"');
  process.exit(1);
}
const database = await DuckDbDestination.open(file);
try {
  for (const line of textTable(await database.query(sql))) console.log(line);
} catch (error) {
  console.error(`query: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  database.close();
}
