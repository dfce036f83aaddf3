'use strict';
// The seed's API gateway in NestJS, as a Nest team writes it: a controller with injected
// ClientProxies, a bearer-token guard, ParseIntPipe, Promise.all for the profile. For
// bench/run.sh. Usage: node gateway.js <express|fastify> <port> <usersPort> <ordersPort> <token>
require('reflect-metadata');
const crypto = require('crypto');
const { Controller, Get, Post, Body, Param, ParseIntPipe, Module, Inject, UseGuards, UnauthorizedException } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { ClientsModule, Transport } = require('@nestjs/microservices');
const { lastValueFrom } = require('rxjs');

const [adapter, port, usersPort, ordersPort, token] = process.argv.slice(2);
const expected = Buffer.from(token);

class AuthGuard {
  canActivate(context) {
    const header = context.switchToHttp().getRequest().headers.authorization || '';
    const presented = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    if (presented.length !== expected.length || !crypto.timingSafeEqual(presented, expected)) {
      throw new UnauthorizedException('Invalid or missing token');
    }
    return true;
  }
}

class GatewayController {
  constructor(users, orders) {
    this.users = users;
    this.orders = orders;
  }
  getUser(id) {
    return this.users.send({ cmd: 'get_user' }, { id, user: { sub: 'api-client' } });
  }
  async profile(id) {
    const user = { sub: 'api-client' };
    const [found, orders] = await Promise.all([
      lastValueFrom(this.users.send({ cmd: 'get_user' }, { id, user })),
      lastValueFrom(this.orders.send({ cmd: 'list_orders' }, { userId: id, user })),
    ]);
    return { id: found.id, name: found.name, orderCount: orders.length, orders };
  }
  async createOrder(dto) {
    const order = await lastValueFrom(this.orders.send({ cmd: 'create_order' }, { ...dto, user: { sub: 'api-client' } }));
    this.orders.emit('order_created', order);
    return order;
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
Param('id', ParseIntPipe)(GatewayController.prototype, 'getUser', 0);
method('profile', Get('users/:id/profile'));
Param('id', ParseIntPipe)(GatewayController.prototype, 'profile', 0);
method('createOrder', Post('orders'));
Body()(GatewayController.prototype, 'createOrder', 0);
UseGuards(AuthGuard)(GatewayController);
Controller()(GatewayController);

class GatewayModule {}
Module({
  imports: [
    ClientsModule.register([
      { name: 'USERS_SERVICE', transport: Transport.TCP, options: { host: '127.0.0.1', port: Number(usersPort) } },
      { name: 'ORDERS_SERVICE', transport: Transport.TCP, options: { host: '127.0.0.1', port: Number(ordersPort) } },
    ]),
  ],
  controllers: [GatewayController],
})(GatewayModule);

async function main() {
  let app;
  if (adapter === 'fastify') {
    const { FastifyAdapter } = require('@nestjs/platform-fastify');
    app = await NestFactory.create(GatewayModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
  } else {
    app = await NestFactory.create(GatewayModule, { logger: ['error', 'warn'] });
  }
  await app.listen(Number(port), '127.0.0.1');
  process.stdout.write(`ready ${port}\n`);
}

main().catch((error) => { console.error(error); process.exit(1); });
