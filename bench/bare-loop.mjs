// The reference a connector is measured against: fetch a list's pages (following `next_cursor`, 500 records a page)
// with plain `http` and keep-alive, parse each, print every record as an Airbyte RECORD line, nothing else. Plain
// JavaScript run by plain node, so that nothing but the loop is measured.
//   node bench/bare-loop.mjs ORIGIN TOKEN sequential|parallel < lists.json
// lists.json: [{"stream": "deals", "endpoint": "/api/v2/deals", "query": {...}}, ...]. `sequential` reads the lists one
// after the other; `parallel` reads them all at once. Prints its figures as JSON on stderr.
import { Buffer } from 'node:buffer';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { URLSearchParams } from 'node:url';

const [origin, token, mode] = process.argv.slice(2);
const lists = JSON.parse(readFileSync(0, 'utf8'));
const agent = new http.Agent({ keepAlive: true, maxSockets: lists.length });
let records = 0;
let requests = 0;

const get = (url) =>
  new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'x-api-token': token }, agent }, (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        response.on('error', reject);
      })
      .on('error', reject);
  });

async function readList({ stream, endpoint, query }) {
  let cursor;
  do {
    const search = new URLSearchParams({ ...query, limit: '500', ...(cursor ? { cursor } : {}) });
    const body = JSON.parse(await get(`${origin}${endpoint}?${search}`));
    requests++;
    let chunk = '';
    for (const data of body.data)
      chunk += `${JSON.stringify({ type: 'RECORD', record: { stream, data, emitted_at: Date.now() } })}\n`;
    records += body.data.length;
    if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once('drain', resolve));
    cursor = body.additional_data?.next_cursor;
  } while (cursor);
}

const cpu = process.cpuUsage();
const started = performance.now();
if (mode === 'parallel') await Promise.all(lists.map(readList));
else for (const list of lists) await readList(list);
const used = process.cpuUsage(cpu);
agent.destroy();
process.stderr.write(
  `${JSON.stringify({
    records,
    requests,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  })}\n`,
);
