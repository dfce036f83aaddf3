'use strict';
// A real NestJS ClientProxy calling a microservice whose handlers are wildcard patterns
// (`math.<ns>.*`, `orders.<ns>.*`); prints one JSON object of outcomes as its last line.
// Usage: node wildcard-client.js <transport> <url> <ns>
const { nest, brokerOptions } = require('./common');
const { ClientProxyFactory } = nest('@nestjs/microservices');
const { lastValueFrom, timeout } = nest('rxjs');

async function outcome(observable) {
  try {
    return { ok: await lastValueFrom(observable.pipe(timeout(3000))) };
  } catch (e) {
    return { err: e instanceof Error ? { jsError: e.message } : e };
  }
}

async function main() {
  const [transport, url, ns] = process.argv.slice(2);
  const client = ClientProxyFactory.create(brokerOptions(transport, url, undefined, ns));
  await client.connect();
  const r = {};
  r.sum = await outcome(client.send(`math.${ns}.sum`, [1, 2, 3]));
  r.max = await outcome(client.send(`math.${ns}.max`, [1, 5, 3]));
  await lastValueFrom(client.emit(`orders.${ns}.created`, { id: 'o-1' }), { defaultValue: null });
  await new Promise((resolve) => setTimeout(resolve, 200));
  r.events = await outcome(client.send(`events.${ns}`, {}));
  await client.close();
  process.stdout.write(JSON.stringify(r) + '\n');
}

main().catch((error) => { console.error(error); process.exit(1); });
