'use strict';
// The seed's gateway as a Nest team documents it with @nestjs/swagger: the seed's controller
// (`GET users/:id`, `POST orders`, `GET users/:id/profile`) with its DTOs annotated
// (`@ApiProperty()`), `@ApiBearerAuth()`, and a terminus health controller (`@HealthCheck()`),
// then `SwaggerModule.createDocument(app, config)` printed as one JSON line.
// Usage: node openapi.js
const { nest, decorateMethod, decorateClass } = require('./common');
const { Controller, Get, Post, Body, Param, Inject, Module } = nest('@nestjs/common');
const { ClientsModule, Transport } = nest('@nestjs/microservices');
const { NestFactory } = nest('@nestjs/core');
const {
  ApiProperty, ApiPropertyOptional, ApiTags, ApiBearerAuth, ApiOperation, ApiOkResponse,
  ApiCreatedResponse, ApiBody, DocumentBuilder, SwaggerModule,
} = nest('@nestjs/swagger');
const { TerminusModule, HealthCheck, HealthCheckService } = nest('@nestjs/terminus');

function prop(cls, name, options) {
  ApiProperty(options)(cls.prototype, name);
}

class UserDto {}
prop(UserDto, 'id', { type: String, description: "The user's id (a string)." });
prop(UserDto, 'name', { type: String, description: "The user's display name." });

class OrderDto {}
prop(OrderDto, 'id', { type: String });
prop(OrderDto, 'items', { type: [String] });

class CreateOrderDto {}
prop(CreateOrderDto, 'userId', { type: String });
prop(CreateOrderDto, 'items', { type: [String] });

class ProfileDto {}
ApiPropertyOptional({ type: String })(ProfileDto.prototype, 'id');
ApiPropertyOptional({ type: String })(ProfileDto.prototype, 'name');
prop(ProfileDto, 'orderCount', { type: Number });
prop(ProfileDto, 'orders', { type: [OrderDto] });

// The seed's controller, its method names and routes unchanged.
class GatewayController {
  constructor(users, orders) { this.users = users; this.orders = orders; }
  getUser(id) { return this.users.send({ cmd: 'get_user' }, { id }); }
  createOrder(dto) { return this.orders.send({ cmd: 'create_order' }, dto); }
  async getProfile(id) { return { id }; }
}
Reflect.defineMetadata('design:paramtypes', [Object, Object], GatewayController);
Inject('USERS_SERVICE')(GatewayController, undefined, 0);
Inject('ORDERS_SERVICE')(GatewayController, undefined, 1);
decorateMethod(GatewayController, 'getUser', Get('users/:id'),
  ApiOperation({ summary: 'A user, from the users service' }), ApiOkResponse({ type: UserDto }));
Reflect.defineMetadata('design:paramtypes', [String], GatewayController.prototype, 'getUser');
Param('id')(GatewayController.prototype, 'getUser', 0);
decorateMethod(GatewayController, 'createOrder', Post('orders'),
  ApiOperation({ summary: 'Places an order with the orders service' }),
  ApiBody({ type: CreateOrderDto }), ApiCreatedResponse({ type: OrderDto }));
Reflect.defineMetadata('design:paramtypes', [CreateOrderDto], GatewayController.prototype, 'createOrder');
Body()(GatewayController.prototype, 'createOrder', 0);
decorateMethod(GatewayController, 'getProfile', Get('users/:id/profile'),
  ApiOperation({ summary: 'A user and their orders, fetched in parallel' }),
  ApiOkResponse({ type: ProfileDto }));
Reflect.defineMetadata('design:paramtypes', [String], GatewayController.prototype, 'getProfile');
Param('id')(GatewayController.prototype, 'getProfile', 0);
decorateClass(GatewayController, Controller(), ApiTags('gateway'), ApiBearerAuth());

class HealthController {
  constructor(health) { this.health = health; }
  ready() { return this.health.check([]); }
  live() { return this.health.check([]); }
}
Reflect.defineMetadata('design:paramtypes', [HealthCheckService], HealthController);
decorateMethod(HealthController, 'ready', Get(), HealthCheck());
decorateMethod(HealthController, 'live', Get('live'), HealthCheck());
decorateClass(HealthController, Controller('health'), ApiTags('health'));

class AppModule {}
decorateClass(AppModule, Module({
  imports: [
    TerminusModule,
    ClientsModule.register([
      { name: 'USERS_SERVICE', transport: Transport.TCP, options: { host: '127.0.0.1', port: 3001 } },
      { name: 'ORDERS_SERVICE', transport: Transport.TCP, options: { host: '127.0.0.1', port: 3002 } },
    ]),
  ],
  controllers: [GatewayController, HealthController],
}));

async function main() {
  const app = await NestFactory.create(AppModule, { logger: false });
  const config = new DocumentBuilder()
    .setTitle('API gateway')
    .setDescription("The seed's gateway: the users and orders services behind one HTTP API")
    .setVersion('1.0')
    .addBearerAuth()
    .build();
  const document = SwaggerModule.createDocument(app, config);
  process.stdout.write(`${JSON.stringify(document)}\n`);
  await app.close();
}

main().catch((error) => { console.error(error); process.exit(1); });
