#!/usr/bin/env node
// REST API broadcast throughput (docs/BENCHMARKS.md, "REST API"): CONCURRENCY keep-alive
// connections POST /api/hubs/{hub}/:send for DURATION seconds against a running server and count
// the 202s. Loopback only.
//   node bench/rest.mjs --url http://127.0.0.1:5000 --key KEY [--hub chat] [--concurrency 8] [--duration 5]
import http from 'node:http';
import { createHmac } from 'node:crypto';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, value, i, all) => {
  if (value.startsWith('--')) pairs.push([value.slice(2), all[i + 1]]);
  return pairs;
}, []));
const url = new URL(args.url ?? 'http://127.0.0.1:5000');
if (!['127.0.0.1', 'localhost', '::1'].includes(url.hostname) && !url.hostname.startsWith('127.')) {
  throw new Error('loopback servers only');
}
const key = args.key ?? '';
const hub = args.hub ?? 'chat';
const concurrency = Number(args.concurrency ?? 8);
const seconds = Number(args.duration ?? 5);
const path = `/api/hubs/${hub}/:send`;
const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const body = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ aud: `http://${url.hostname}${path}`, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
const token = `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
const payload = JSON.stringify({ target: 'ReceiveMessage', arguments: ['bench', 'x'.repeat(200)] });
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

let accepted = 0;
let refused = 0;
const until = Date.now() + seconds * 1000;
function one() {
  return new Promise((resolve) => {
    const request = http.request({
      host: url.hostname, port: url.port, path: `${path}?api-version=2022-06-01`, method: 'POST', agent,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
    }, (response) => {
      response.resume();
      response.on('end', () => {
        if (response.statusCode === 202) accepted += 1; else refused += 1;
        resolve();
      });
    });
    request.on('error', () => { refused += 1; resolve(); });
    request.end(payload);
  });
}
const started = Date.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (Date.now() < until) await one();
}));
const elapsed = (Date.now() - started) / 1000;
agent.destroy();
console.log(JSON.stringify({ concurrency, seconds: elapsed, accepted, refused, requests_per_second: Math.round(accepted / elapsed) }));
