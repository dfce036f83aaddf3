// The seed's orders service, as a Nest team writes it: user 42's orders o-1 and o-2; new
// orders get string ids. `node dist/orders.service.js <port>` prints "ready <port>".
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, MessagePattern, Payload, Transport } from '@nestjs/microservices';

interface Order {
  id: string;
  items: string[];
}

const orders: { userId: string; order: Order }[] = [
  { userId: '42', order: { id: 'o-1', items: ['book'] } },
  { userId: '42', order: { id: 'o-2', items: ['pen', 'ink'] } },
];

@Controller()
export class OrdersController {
  @MessagePattern({ cmd: 'list_orders' })
  listOrders(@Payload() data: { userId: string }) {
    return orders.filter((o) => o.userId === String(data.userId)).map((o) => o.order);
  }

  @MessagePattern({ cmd: 'create_order' })
  createOrder(@Payload() dto: { userId: string; items: string[] }) {
    const order: Order = { id: `o-${orders.length + 1}`, items: dto.items };
    orders.push({ userId: String(dto.userId), order });
    return order;
  }

  @EventPattern('order_created')
  orderCreated(@Payload() order: Order) {
    void order;
  }
}

@Module({ controllers: [OrdersController] })
export class OrdersModule {}

async function bootstrap() {
  const port = Number(process.argv[2] ?? 3002);
  const app = await NestFactory.createMicroservice(OrdersModule, {
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port },
    logger: ['error', 'warn'],
  });
  await app.listen();
  console.log(`ready ${port}`);
}
bootstrap();
