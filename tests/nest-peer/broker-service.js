'use strict';
// A real NestJS microservice on a broker transport (nats, redis, mqtt, rmq), the peer for our ClientProxy.
// Usage: node broker-service.js <transport> <url> <ns> [queue]   (prints "ready" once subscribed)
// Every pattern carries `ns` (a per-test-run namespace), so runs never share subjects.
const { nest, decorateMethod, decorateClass, brokerOptions } = require('./common');
const { Controller, Module } = nest('@nestjs/common');
const { MessagePattern, EventPattern, RpcException, Payload, Ctx } = nest('@nestjs/microservices');
const { NestFactory } = nest('@nestjs/core');
const { from } = nest('rxjs');

const [transport, url, ns, queue] = process.argv.slice(2);
const events = [];
const instance = `nest-${process.pid}`;

class PeerController {
  getUser(data) {
    if (Number(data.id) === 42) return { id: 42, name: 'Ada Lovelace' };
    throw new RpcException({ statusCode: 404, message: 'User not found' });
  }
  echo(data) { return data; }
  stream() { return from([{ n: 0 }, { n: 1 }, { n: 2 }]); }
  rpcString() { throw new RpcException('boom'); }
  sleep(data) { return new Promise((resolve) => setTimeout(() => resolve({ slept: data.ms, tag: data.tag }), data.ms)); }
  whoami() { return instance; }
  // The x-request-id header the call carried: NATS headers, or RabbitMQ message headers.
  headers(data, ctx) {
    let rid = null;
    const natsHeaders = typeof ctx.getHeaders === 'function' ? ctx.getHeaders() : undefined;
    if (natsHeaders && typeof natsHeaders.get === 'function') rid = natsHeaders.get('x-request-id') || null;
    const message = typeof ctx.getMessage === 'function' ? ctx.getMessage() : undefined;
    if (message && message.properties && message.properties.headers) {
      rid = message.properties.headers['x-request-id'] ?? rid;
    }
    return { rid };
  }
  // The W3C trace headers the call carried, beside the payload as Nest read it.
  trace(data, ctx) {
    const seen = { data, traceparent: null, tracestate: null };
    const natsHeaders = typeof ctx.getHeaders === 'function' ? ctx.getHeaders() : undefined;
    if (natsHeaders && typeof natsHeaders.get === 'function') {
      seen.traceparent = natsHeaders.get('traceparent') || null;
      seen.tracestate = natsHeaders.get('tracestate') || null;
    }
    const message = typeof ctx.getMessage === 'function' ? ctx.getMessage() : undefined;
    if (message && message.properties && message.properties.headers) {
      seen.traceparent = message.properties.headers.traceparent ?? seen.traceparent;
      seen.tracestate = message.properties.headers.tracestate ?? seen.tracestate;
    }
    // MQTT 5: the publish packet's user properties.
    const packet = typeof ctx.getPacket === 'function' ? ctx.getPacket() : undefined;
    const user = packet && packet.properties && packet.properties.userProperties;
    if (user) {
      seen.traceparent = user.traceparent ?? seen.traceparent;
      seen.tracestate = user.tracestate ?? seen.tracestate;
    }
    return seen;
  }
  orderCreated(data) { events.push({ pattern: 'order_created', data }); }
  listEvents() { return events; }
}

decorateMethod(PeerController, 'getUser', MessagePattern({ cmd: 'get_user', ns }));
decorateMethod(PeerController, 'echo', MessagePattern({ cmd: 'echo', ns }));
decorateMethod(PeerController, 'stream', MessagePattern({ cmd: 'stream', ns }));
decorateMethod(PeerController, 'rpcString', MessagePattern({ cmd: 'rpc_str', ns }));
decorateMethod(PeerController, 'sleep', MessagePattern({ cmd: 'sleep', ns }));
decorateMethod(PeerController, 'whoami', MessagePattern({ cmd: 'whoami', ns }));
decorateMethod(PeerController, 'headers', MessagePattern({ cmd: 'headers', ns }));
Payload()(PeerController.prototype, 'headers', 0);
Ctx()(PeerController.prototype, 'headers', 1);
decorateMethod(PeerController, 'trace', MessagePattern({ cmd: 'trace', ns }));
Payload()(PeerController.prototype, 'trace', 0);
Ctx()(PeerController.prototype, 'trace', 1);
decorateMethod(PeerController, 'orderCreated', EventPattern(`order_created.${ns}`));
decorateMethod(PeerController, 'listEvents', MessagePattern({ cmd: 'events', ns }));
decorateClass(PeerController, Controller());

class PeerModule {}
decorateClass(PeerModule, Module({ controllers: [PeerController] }));

async function main() {
  const app = await NestFactory.createMicroservice(PeerModule, {
    ...brokerOptions(transport, url, queue, ns),
    logger: ['error', 'warn'],
  });
  await app.listen();
  process.stdout.write('ready\n');
}

main().catch((error) => { console.error(error); process.exit(1); });
