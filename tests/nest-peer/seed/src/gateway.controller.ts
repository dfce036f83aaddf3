// src/gateway.controller.ts: the seed's, with its profile excerpt.
import { Controller, Get, Post, Body, Param, Inject } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';

@Controller()
export class GatewayController {
  constructor(
    @Inject('USERS_SERVICE') private readonly users: ClientProxy,
    @Inject('ORDERS_SERVICE') private readonly orders: ClientProxy,
  ) {}

  @Get('users/:id')
  getUser(@Param('id') id: string) {
    return this.users.send({ cmd: 'get_user' }, { id });
  }

  @Post('orders')
  createOrder(@Body() dto: { userId: string; items: string[] }) {
    return this.orders.send({ cmd: 'create_order' }, dto);
  }

  @Get('users/:id/profile')
  async getProfile(@Param('id') id: string) {
    const [user, orders] = await Promise.all([
      firstValueFrom(this.users.send({ cmd: 'get_user' }, { id })),
      firstValueFrom(this.orders.send({ cmd: 'list_orders' }, { userId: id })),
    ]);

    return {
      id: user.id,
      name: user.name,
      orderCount: orders.length,
      orders,
    };
  }
}
