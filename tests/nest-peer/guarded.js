'use strict';
// Guards on message handlers, on both sides.
// `node guarded.js serve <port>`: a Nest TCP microservice whose controller is guarded by
//   ApiKeyGuard (the key from `switchToRpc().getData()`), with one handler also guarded by a
//   guard that throws an HttpException; prints "ready <port>".
// `node guarded.js client <port>`: a Nest ClientProxy calling those handlers; prints one
//   JSON object of outcomes, to compare Nest's service with ours.
const { nest, decorateClass, decorateMethod, startTcpMicroservice } = require('./common');
const { Controller, Module, UseGuards, UnauthorizedException } = nest('@nestjs/common');
const { ClientProxyFactory, MessagePattern, Transport } = nest('@nestjs/microservices');
const { lastValueFrom } = nest('rxjs');

class ApiKeyGuard {
  canActivate(context) {
    const data = context.switchToRpc().getData();
    return context.getType() === 'rpc' && data != null && data.apiKey === 'k-1';
  }
}

class FailingGuard {
  canActivate() {
    throw new UnauthorizedException('no');
  }
}

class GuardedController {
  whoami() { return 'svc'; }
  boom() { return true; }
}
decorateMethod(GuardedController, 'whoami', MessagePattern({ cmd: 'whoami' }));
decorateMethod(GuardedController, 'boom', MessagePattern({ cmd: 'boom' }), UseGuards(FailingGuard));
decorateClass(GuardedController, Controller(), UseGuards(ApiKeyGuard));

class AppModule {}
decorateClass(AppModule, Module({ controllers: [GuardedController] }));

async function outcome(observable) {
  try { return { ok: await lastValueFrom(observable) }; } catch (e) { return { err: e instanceof Error ? { jsError: e.message } : e }; }
}

async function client(port) {
  const proxy = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  await proxy.connect();
  const r = {};
  r.noKey = await outcome(proxy.send({ cmd: 'whoami' }, {}));
  r.wrongKey = await outcome(proxy.send({ cmd: 'whoami' }, { apiKey: 'nope' }));
  r.withKey = await outcome(proxy.send({ cmd: 'whoami' }, { apiKey: 'k-1' }));
  r.failingGuard = await outcome(proxy.send({ cmd: 'boom' }, { apiKey: 'k-1' }));
  proxy.close();
  process.stdout.write(JSON.stringify(r) + '\n');
}

const [mode, port] = [process.argv[2], Number(process.argv[3])];
(mode === 'serve' ? startTcpMicroservice(AppModule, port) : client(port)).catch((e) => {
  console.error(e);
  process.exit(1);
});
