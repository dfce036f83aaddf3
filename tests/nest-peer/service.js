'use strict';
// A real NestJS TCP microservice, the peer for our ClientProxy in the interop tests.
// Usage: node service.js <port>   (prints "ready <port>" once listening)
const { nest, decorateMethod, decorateClass, startTcpMicroservice } = require('./common');
const { Controller, Module } = nest('@nestjs/common');
const { MessagePattern, EventPattern, RpcException } = nest('@nestjs/microservices');
const { from, Observable } = nest('rxjs');

const events = [];

class PeerController {
  getUser(data) {
    if (Number(data.id) === 42) return { id: 42, name: 'Ada Lovelace' };
    throw new RpcException({ statusCode: 404, message: 'User not found' });
  }
  echo(data) { return data; }
  multiKey(data) { return { matched: 'role+cmd', data }; }
  stream() { return from([{ n: 0 }, { n: 1 }, { n: 2 }]); }
  lateCompletion() {
    return new Observable((sub) => {
      sub.next('a');
      setTimeout(() => { sub.next('b'); setTimeout(() => sub.complete(), 30); }, 30);
    });
  }
  rpcString() { throw new RpcException('boom'); }
  plainError() { throw new Error('oops'); }
  sleep(data) { return new Promise((resolve) => setTimeout(() => resolve({ slept: data.ms, tag: data.tag }), data.ms)); }
  never() { return new Promise(() => {}); }
  nothing() { return undefined; }
  nullValue() { return null; }
  orderCreated(data) { events.push({ pattern: 'order_created', data }); }
  objectEvent(data) { events.push({ pattern: 'obj_event', data }); }
  listEvents() { return events; }
}

decorateMethod(PeerController, 'getUser', MessagePattern({ cmd: 'get_user' }));
decorateMethod(PeerController, 'echo', MessagePattern('echo'));
decorateMethod(PeerController, 'multiKey', MessagePattern({ role: 'user', cmd: 'get', _id: 1 }));
decorateMethod(PeerController, 'stream', MessagePattern({ cmd: 'stream' }));
decorateMethod(PeerController, 'lateCompletion', MessagePattern({ cmd: 'late_completion' }));
decorateMethod(PeerController, 'rpcString', MessagePattern({ cmd: 'rpc_str' }));
decorateMethod(PeerController, 'plainError', MessagePattern({ cmd: 'plain_error' }));
decorateMethod(PeerController, 'sleep', MessagePattern({ cmd: 'sleep' }));
decorateMethod(PeerController, 'never', MessagePattern({ cmd: 'never' }));
decorateMethod(PeerController, 'nothing', MessagePattern({ cmd: 'nothing' }));
decorateMethod(PeerController, 'nullValue', MessagePattern({ cmd: 'null' }));
decorateMethod(PeerController, 'orderCreated', EventPattern('order_created'));
decorateMethod(PeerController, 'objectEvent', EventPattern({ evt: 'obj_event', a: 1 }));
decorateMethod(PeerController, 'listEvents', MessagePattern({ cmd: 'events' }));
decorateClass(PeerController, Controller());

class PeerModule {}
decorateClass(PeerModule, Module({ controllers: [PeerController] }));

async function main() {
  await startTcpMicroservice(PeerModule, Number(process.argv[2]));
}

main().catch((error) => { console.error(error); process.exit(1); });
