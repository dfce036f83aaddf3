// src/app.module.ts: the seed's, the ports read from the environment.
import { Module } from '@nestjs/common';
import { ClientsModule, Transport } from '@nestjs/microservices';
import { GatewayController } from './gateway.controller';

@Module({
  imports: [
    ClientsModule.register([
      {
        name: 'USERS_SERVICE',
        transport: Transport.TCP,
        options: { host: '127.0.0.1', port: Number(process.env.USERS_SERVICE_PORT ?? 3001) },
      },
      {
        name: 'ORDERS_SERVICE',
        transport: Transport.TCP,
        options: { host: '127.0.0.1', port: Number(process.env.ORDERS_SERVICE_PORT ?? 3002) },
      },
    ]),
  ],
  controllers: [GatewayController],
})
export class AppModule {}
