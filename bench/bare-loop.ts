// The limit a connector cannot beat: fetch the given pages (the very requests a sync made), parse them and print each
// record as a line, with the same concurrency, nothing else. Usage: bare-loop.ts ORIGIN TOKEN CONCURRENCY < urls
import http from 'node:http';
import { readFileSync } from 'node:fs';
import fetch from 'node-fetch';

const [origin, token, concurrency] = process.argv.slice(2);
const paths = readFileSync(0, 'utf8').split('\n').filter(Boolean);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) * 2 });

let next = 0;
let records = 0;
async function worker(): Promise<void> {
  while (next < paths.length) {
    const response = await fetch(`${origin}${paths[next++]}`, { headers: { 'x-api-token': token! }, agent });
    const body = JSON.parse(await response.text()) as { data: unknown };
    const data = Array.isArray(body.data) ? body.data : ((body.data as { goals?: unknown[] } | null)?.goals ?? []);
    let chunk = '';
    for (const record of data)
      chunk += `${JSON.stringify({ type: 'RECORD', record: { stream: 's', data: record, emitted_at: Date.now() } })}\n`;
    records += data.length;
    if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
agent.destroy();
process.stderr.write(
  `${JSON.stringify({ records, requests: paths.length, seconds: (performance.now() - started) / 1000 })}\n`,
);
