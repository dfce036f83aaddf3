'use strict';
// Drives a Nest ClientProxy against a TCP service for a bounded time and prints one JSON line:
// {"calls":N,"seconds":S,"p50_us":..,"p99_us":..,"errors":E}
// Usage: node bench-client.js <port> <concurrency> <duration_ms> <warmup_ms>
const { nest } = require('./common');
const { ClientProxyFactory, Transport } = nest('@nestjs/microservices');
const { lastValueFrom } = nest('rxjs');

async function main() {
  const [port, concurrency, durationMs, warmupMs] = process.argv.slice(2).map(Number);
  const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  await client.connect();
  const payload = { id: 42, name: 'Ada Lovelace', tags: ['a', 'b'] };
  let recording = false;
  let stop = false;
  const latencies = [];
  let errors = 0;
  async function worker() {
    while (!stop) {
      const t0 = process.hrtime.bigint();
      try {
        await lastValueFrom(client.send('echo', payload));
      } catch (e) {
        errors += recording ? 1 : 0;
      }
      if (recording) latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  const workers = Array.from({ length: concurrency }, worker);
  await new Promise((r) => setTimeout(r, warmupMs));
  recording = true;
  const started = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, durationMs));
  recording = false;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  stop = true;
  await Promise.all(workers);
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] || 0;
  process.stdout.write(JSON.stringify({ calls: latencies.length, seconds, p50_us: pct(50), p99_us: pct(99), errors }) + '\n');
  client.close();
}

main().catch((error) => { console.error(error); process.exit(1); });
