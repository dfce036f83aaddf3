'use strict';
// The seed's users and orders services written in NestJS, to put our gateway in front of.
// Usage: node seed-services.js users <port> | node seed-services.js orders <port>
// (prints "ready <port>" once listening)
const { nest, decorateMethod, decorateClass, startTcpMicroservice } = require('./common');
const { Controller, Module } = nest('@nestjs/common');
const { MessagePattern, EventPattern, RpcException } = nest('@nestjs/microservices');

class UsersController {
  getUser(data) {
    const id = Number(data.id);
    if (id === 42) return { id: 42, name: 'Ada Lovelace' };
    throw new RpcException({ statusCode: 404, message: `User ${id} not found` });
  }
}
decorateMethod(UsersController, 'getUser', MessagePattern({ cmd: 'get_user' }));
decorateClass(UsersController, Controller());

const orders = [
  { id: 1, userId: 42, item: 'Analytical Engine', quantity: 1 },
  { id: 2, userId: 42, item: 'Punched cards', quantity: 100 },
];

class OrdersController {
  listOrders(data) {
    return orders.filter((o) => o.userId === Number(data.userId));
  }
  createOrder(data) {
    if (!data.item || !String(data.item).trim()) {
      throw new RpcException({ statusCode: 400, message: 'item must not be empty' });
    }
    const order = { id: orders.length + 1, userId: Number(data.userId), item: data.item, quantity: data.quantity ?? 1 };
    if (data.user && data.user.sub) order.placedBy = data.user.sub;
    orders.push(order);
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
  await startTcpMicroservice(which === 'users' ? UsersModule : OrdersModule, port);
}

main().catch((error) => { console.error(error); process.exit(1); });
