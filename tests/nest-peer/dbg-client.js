'use strict';
// Drives a Nest ClientProxy against a TCP service for a bounded time and prints one JSON line:
// {"calls":N,"seconds":S,"p50_us":..,"p99_us":..,"errors":E,"cpu_us":C} (C: this process's CPU
// time, user + system, over the measured window; with BENCH_SERVICE_PID set, "service_cpu_us" too:
// that process's CPU time over the same window, from /proc/<pid>/stat)
// Usage: node bench-client.js <port> <concurrency> <duration_ms> <warmup_ms>          (TCP, 'echo')
//        node bench-client.js --broker <transport> <url> <ns> <concurrency> <duration_ms> <warmup_ms>
//                                                            (a broker, { cmd: 'echo', ns })
//        node bench-client.js --grpc <host:port> <concurrency> <duration_ms> <warmup_ms>
//                                  (ClientGrpc, math.Math/Sum of [1, 2, 3, 4, 5], examples/proto/math.proto)
const { nest, brokerOptions } = require('./common');
const { ClientProxyFactory, Transport } = nest('@nestjs/microservices');
const { lastValueFrom } = nest('rxjs');
const fs = require('fs');
const path = require('path');

// CPU time (user + system, all threads) of the process `pid` so far, in µs (clock ticks of 10 ms).
function processCpuUs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[14 - 3]) + Number(fields[15 - 3])) * 1e4;
  } catch (e) {
    return null;
  }
}
const servicePid = process.env.BENCH_SERVICE_PID;

async function main() {
  let args = process.argv.slice(2);
  let client;
  let pattern = 'echo';
  let math;
  if (args[0] === '--grpc') {
    const protoPath = path.join(__dirname, '../../examples/proto/math.proto');
    client = ClientProxyFactory.create({ transport: Transport.GRPC, options: { package: 'math', protoPath, url: args[1] } });
    math = client.getService('Math');
    args = args.slice(2);
  } else if (args[0] === '--broker') {
    const [, transport, url, ns] = args;
    client = ClientProxyFactory.create(brokerOptions(transport, url, undefined, ns));
    pattern = { cmd: 'echo', ns };
    args = args.slice(4);
  } else {
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port: Number(args[0]) } });
    args = args.slice(1);
  }
  const [concurrency, durationMs, warmupMs] = args.map(Number);
  if (!math) await client.connect(); // ClientGrpc connects on its first call
  const payload = { id: 42, name: 'Ada Lovelace', tags: ['a', 'b'] };
  let recording = false;
  let stop = false;
  const latencies = [];
  let errors = 0;
  async function worker() {
    while (!stop) {
      const t0 = process.hrtime.bigint();
      try {
        if (math) {
          const reply = await lastValueFrom(math.sum({ data: [1, 2, 3, 4, 5] }));
          if (reply.result !== 15) throw new Error('wrong sum');
        } else {
          await lastValueFrom(client.send(pattern, payload));
        }
      } catch (e) {
        errors += recording ? 1 : 0; if (recording && errors < 3) console.error("ERR", e);
      }
      if (recording) latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  const workers = Array.from({ length: concurrency }, worker);
  await new Promise((r) => setTimeout(r, warmupMs));
  recording = true;
  const started = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const serviceStart = servicePid ? processCpuUs(servicePid) : null;
  await new Promise((r) => setTimeout(r, durationMs));
  recording = false;
  const cpu = process.cpuUsage(cpuStart);
  const serviceEnd = servicePid ? processCpuUs(servicePid) : null;
  const serviceCpu = serviceStart === null || serviceEnd === null ? undefined : serviceEnd - serviceStart;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  stop = true;
  // Calls still unanswered 5 s after the window are counted as errors, not waited for forever.
  let inFlight = concurrency;
  const done = workers.map((w) => w.then(() => { inFlight -= 1; }));
  await Promise.race([Promise.all(done), new Promise((r) => setTimeout(r, 5000))]);
  errors += inFlight;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] || 0;
  process.stdout.write(JSON.stringify({ calls: latencies.length, seconds, p50_us: pct(50), p99_us: pct(99), errors, cpu_us: cpu.user + cpu.system, service_cpu_us: serviceCpu }) + '\n');
  await client.close();
  process.exit(0);
}

main().catch((error) => { console.error(error); process.exit(1); });
