'use strict';
// A real NestJS ClientProxy on a broker transport (nats, redis, mqtt, rmq) calling our microservice;
// prints one JSON object of outcomes (as its last line). Usage: node broker-client.js <transport> <url> <ns>
const { nest, brokerOptions } = require('./common');
const { ClientProxyFactory } = nest('@nestjs/microservices');
const { lastValueFrom, toArray, timeout } = nest('rxjs');

function describe(error) {
  return error instanceof Error ? { jsError: error.message } : error;
}

async function outcome(observable) {
  try { return { ok: await lastValueFrom(observable) }; } catch (e) { return { err: describe(e) }; }
}

async function all(observable) {
  try { return { ok: await lastValueFrom(observable.pipe(toArray())) }; } catch (e) { return { err: describe(e) }; }
}

async function main() {
  const [transport, url, ns] = process.argv.slice(2);
  const client = ClientProxyFactory.create(brokerOptions(transport, url, undefined, ns));
  await client.connect();
  const r = {};
  // Headers, where the transport has them (Nest's record builders).
  if (transport === 'nats') {
    const { NatsRecordBuilder } = nest('@nestjs/microservices');
    let natsPackage;
    try { natsPackage = nest('@nats-io/transport-node'); } catch (e) { natsPackage = nest('nats'); }
    const headers = natsPackage.headers();
    headers.set('x-request-id', 'rid-nest');
    r.headers = await outcome(client.send({ cmd: 'headers', ns }, new NatsRecordBuilder({}).setHeaders(headers).build()));
  } else if (transport === 'rmq') {
    const { RmqRecordBuilder } = nest('@nestjs/microservices');
    const record = new RmqRecordBuilder({}).setOptions({ headers: { 'x-request-id': 'rid-nest' } }).build();
    r.headers = await outcome(client.send({ cmd: 'headers', ns }, record));
  }
  r.getUser = await outcome(client.send({ cmd: 'get_user', ns }, { id: 42 }));
  r.notFound = await outcome(client.send({ cmd: 'get_user', ns }, { id: 7 }));
  r.reordered = await outcome(client.send({ ns, cmd: 'echo' }, { x: 1 }));
  r.unicode = await outcome(client.send({ cmd: 'echo', ns }, { s: 'héllo 😀 日本', t: '\u2028\n"\\' }));
  r.stream = await all(client.send({ cmd: 'count', ns }, { n: 3 }));
  r.streamError = await all(client.send({ cmd: 'half', ns }, {}));
  r.rpcString = await outcome(client.send({ cmd: 'rpc_str', ns }, {}));
  r.panic = await outcome(client.send({ cmd: 'panic', ns }, {}));
  // NATS answers 'no responders', RabbitMQ the no-handler error; Redis and MQTT drop the
  // message, so the call would wait forever.
  r.unknown = await outcome(client.send({ cmd: 'nope', ns }, {}).pipe(timeout(1000)));

  await lastValueFrom(client.emit(`order_created.${ns}`, { orderId: 1, note: 'ünïcode' }), { defaultValue: null });

  const delays = Array.from({ length: 40 }, (_, i) => ((i * 37) % 11) * 5);
  r.concurrent = await Promise.all(delays.map((ms, i) => outcome(client.send({ cmd: 'sleep', ns }, { ms, tag: i }))));
  r.concurrentExpected = delays.map((ms, i) => ({ ok: { slept: ms, tag: i } }));

  await new Promise((resolve) => setTimeout(resolve, 100));
  r.events = await outcome(client.send({ cmd: 'events', ns }, {}));
  await client.close();
  process.stdout.write(JSON.stringify(r) + '\n');
}

main().catch((error) => { console.error(error); process.exit(1); });
