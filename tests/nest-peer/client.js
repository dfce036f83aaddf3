'use strict';
// A real NestJS ClientProxy calling our Rust microservice; prints one JSON object of outcomes.
// Usage: node client.js <port>   (over TLS when TLS_DIR is set: see common.js)
const { nest, tlsOptions } = require('./common');
const { ClientProxyFactory, Transport } = nest('@nestjs/microservices');
const { lastValueFrom, toArray } = nest('rxjs');

function describe(error) {
  // A Nest client surfaces `err` as is (string or plain object); socket failures are Errors.
  return error instanceof Error ? { jsError: error.message } : error;
}

async function outcome(observable) {
  try { return { ok: await lastValueFrom(observable) }; } catch (e) { return { err: describe(e) }; }
}

async function all(observable) {
  try { return { ok: await lastValueFrom(observable.pipe(toArray())) }; } catch (e) { return { err: describe(e) }; }
}

async function main() {
  const port = Number(process.argv[2]);
  const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port, ...tlsOptions('client') } });
  await client.connect();
  const r = {};
  r.getUser = await outcome(client.send({ cmd: 'get_user' }, { id: 42 }));
  r.notFound = await outcome(client.send({ cmd: 'get_user' }, { id: 7 }));
  r.multiKey = await outcome(client.send({ role: 'user', cmd: 'get', _id: 1 }, { x: 1 }));
  r.unicode = await outcome(client.send('echo', { s: 'héllo 😀 日本', t: '\u2028\n"\\' }));
  r.stream = await all(client.send({ cmd: 'count' }, { n: 3 }));
  r.emptyStream = await all(client.send({ cmd: 'count' }, { n: 0 }));
  r.streamError = await all(client.send({ cmd: 'half' }, {}));
  r.rpcString = await outcome(client.send({ cmd: 'rpc_str' }, {}));
  r.panic = await outcome(client.send({ cmd: 'panic' }, {}));
  r.unknown = await outcome(client.send({ cmd: 'nope' }, {}));
  r.badPayload = await outcome(client.send({ cmd: 'get_user' }, 'not an object'));

  // Events: a string pattern and an object pattern (sent as a normalized string over TCP).
  await lastValueFrom(client.emit('order_created', { orderId: 1, note: 'ünïcode' }), { defaultValue: null });
  await lastValueFrom(client.emit({ evt: 'obj_event', a: 1 }, { id: 10 }), { defaultValue: null });

  // Concurrency: replies arrive out of order and are matched by id.
  const delays = Array.from({ length: 40 }, (_, i) => ((i * 37) % 11) * 5);
  r.concurrent = await Promise.all(delays.map((ms, i) => outcome(client.send({ cmd: 'sleep' }, { ms, tag: i }))));
  r.concurrentExpected = delays.map((ms, i) => ({ ok: { slept: ms, tag: i } }));

  // Give the event handlers a moment, then ask what they saw.
  await new Promise((resolve) => setTimeout(resolve, 100));
  r.events = await outcome(client.send({ cmd: 'events' }, {}));
  client.close();
  process.stdout.write(JSON.stringify(r) + '\n');
}

main().catch((error) => { console.error(error); process.exit(1); });
