'use strict';
// The seed's users and orders services written in NestJS, to put our gateway in front of.
// Usage: node seed-services.js users <port> | node seed-services.js orders <port>
// (prints "ready <port>" once listening). With NATS_URL set, the service listens on NATS
// instead, in the queue group `users` or `orders` (prints "ready nats").
const { nest, decorateMethod, decorateClass, startTcpMicroservice } = require('./common');
const { Controller, Module } = nest('@nestjs/common');
const { MessagePattern, EventPattern, RpcException } = nest('@nestjs/microservices');

class UsersController {
  getUser(data) {
    const id = String(data.id);
    if (id === '42') return { id: '42', name: 'Ada Lovelace' };
    throw new RpcException({ statusCode: 404, message: `User ${id} not found` });
  }
}
decorateMethod(UsersController, 'getUser', MessagePattern({ cmd: 'get_user' }));
decorateClass(UsersController, Controller());

// The seed's orders of user 42; new orders get string ids too.
const orders = [
  { userId: '42', order: { id: 'o-1', items: ['book'] } },
  { userId: '42', order: { id: 'o-2', items: ['pen', 'ink'] } },
];

class OrdersController {
  listOrders(data) {
    return orders.filter((o) => o.userId === String(data.userId)).map((o) => o.order);
  }
  createOrder(data) {
    const order = { id: `o-${orders.length + 1}`, items: data.items };
    if (data.user && data.user.id) order.placedBy = data.user.id;
    orders.push({ userId: String(data.userId), order });
    return order;
  }
  orderCreated(order) {
    void order;
  }
}
decorateMethod(OrdersController, 'listOrders', MessagePattern({ cmd: 'list_orders' }));
decorateMethod(OrdersController, 'createOrder', MessagePattern({ cmd: 'create_order' }));
decorateMethod(OrdersController, 'orderCreated', EventPattern('order_created'));
decorateClass(OrdersController, Controller());

class UsersModule {}
decorateClass(UsersModule, Module({ controllers: [UsersController] }));
class OrdersModule {}
decorateClass(OrdersModule, Module({ controllers: [OrdersController] }));

async function main() {
  const [which, port] = [process.argv[2], Number(process.argv[3])];
  const module = which === 'users' ? UsersModule : OrdersModule;
  if (process.env.NATS_URL) {
    const { NestFactory } = nest('@nestjs/core');
    const { Transport } = nest('@nestjs/microservices');
    const app = await NestFactory.createMicroservice(module, {
      transport: Transport.NATS,
      options: { servers: [process.env.NATS_URL], queue: which },
      logger: ['error', 'warn'],
    });
    await app.listen();
    process.stdout.write('ready nats\n');
    return;
  }
  await startTcpMicroservice(module, port);
}

main().catch((error) => { console.error(error); process.exit(1); });
