'use strict';
// The seed's API gateway in NestJS: the seed's controller (string ids, the service's reply
// returned as it came, firstValueFrom and Promise.all for the profile) and the seed's guard
// (with a constant-time comparison, as ours does). For bench/run.sh. Usage: node gateway.js <express|fastify> <port> <usersPort> <ordersPort> <token>
// NEST_DIR picks the NestJS install: this folder (Nest 11, the default) or ./v12 (Nest 12,
// fastify only). Every Nest package, rxjs and reflect-metadata come from that one install.
const path = require('path');
const { createRequire } = require('module');
const nest = createRequire(path.join(path.resolve(__dirname, process.env.NEST_DIR || '.'), 'package.json'));
nest('reflect-metadata');
const crypto = require('crypto');
const { Controller, Get, Post, Body, Param, Module, Inject, UseGuards, UnauthorizedException } = nest('@nestjs/common');
const { NestFactory } = nest('@nestjs/core');
const { ClientsModule, Transport } = nest('@nestjs/microservices');
const { firstValueFrom } = nest('rxjs');

const [adapter, port, usersPort, ordersPort, token] = process.argv.slice(2);
const expected = Buffer.from(token);

class AuthGuard {
  canActivate(context) {
    const req = context.switchToHttp().getRequest();
    const presented = Buffer.from(req.headers['authorization']?.replace('Bearer ', '') ?? '');
    if (presented.length === 0 || presented.length !== expected.length || !crypto.timingSafeEqual(presented, expected)) {
      throw new UnauthorizedException('Invalid or missing token');
    }
    req.user = { id: 'verified-from-token' };
    return true;
  }
}

class GatewayController {
  constructor(users, orders) {
    this.users = users;
    this.orders = orders;
  }
  getUser(id) {
    return this.users.send({ cmd: 'get_user' }, { id });
  }
  async profile(id) {
    const [user, orders] = await Promise.all([
      firstValueFrom(this.users.send({ cmd: 'get_user' }, { id })),
      firstValueFrom(this.orders.send({ cmd: 'list_orders' }, { userId: id })),
    ]);
    return { id: user.id, name: user.name, orderCount: orders.length, orders };
  }
  createOrder(dto) {
    return this.orders.send({ cmd: 'create_order' }, dto);
  }
}

// Decorators, applied as TypeScript would.
Inject('USERS_SERVICE')(GatewayController, undefined, 0);
Inject('ORDERS_SERVICE')(GatewayController, undefined, 1);
Reflect.defineMetadata('design:paramtypes', [Object, Object], GatewayController);
function method(name, ...decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(GatewayController.prototype, name);
  for (const d of decorators) d(GatewayController.prototype, name, descriptor);
  Object.defineProperty(GatewayController.prototype, name, descriptor);
}
method('getUser', Get('users/:id'));
Param('id')(GatewayController.prototype, 'getUser', 0);
method('profile', Get('users/:id/profile'));
Param('id')(GatewayController.prototype, 'profile', 0);
method('createOrder', Post('orders'));
Body()(GatewayController.prototype, 'createOrder', 0);
UseGuards(AuthGuard)(GatewayController);
Controller()(GatewayController);

class GatewayModule {}
Module({
  imports: [
    // Over NATS when NATS_URL is set (the services in their queue groups), else TCP.
    ClientsModule.register(process.env.NATS_URL ? [
      { name: 'USERS_SERVICE', transport: Transport.NATS, options: { servers: [process.env.NATS_URL] } },
      { name: 'ORDERS_SERVICE', transport: Transport.NATS, options: { servers: [process.env.NATS_URL] } },
    ] : [
      { name: 'USERS_SERVICE', transport: Transport.TCP, options: { host: '127.0.0.1', port: Number(usersPort) } },
      { name: 'ORDERS_SERVICE', transport: Transport.TCP, options: { host: '127.0.0.1', port: Number(ordersPort) } },
    ]),
  ],
  controllers: [GatewayController],
})(GatewayModule);

async function main() {
  let app;
  if (adapter === 'fastify') {
    const { FastifyAdapter } = nest('@nestjs/platform-fastify');
    app = await NestFactory.create(GatewayModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
  } else {
    app = await NestFactory.create(GatewayModule, { logger: ['error', 'warn'] });
  }
  await app.listen(Number(port), '127.0.0.1');
  process.stdout.write(`ready ${port}\n`);
}

main().catch((error) => { console.error(error); process.exit(1); });
