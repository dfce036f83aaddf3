// The seed's users service, as a Nest team writes it: user 42 is Ada Lovelace.
// `node dist/users.service.js <port>` prints "ready <port>" once listening.
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload, RpcException, Transport } from '@nestjs/microservices';

const users = [{ id: '42', name: 'Ada Lovelace' }];

@Controller()
export class UsersController {
  @MessagePattern({ cmd: 'get_user' })
  getUser(@Payload() data: { id: string }) {
    if (data.id === 'boom') {
      // A bug in a service: anything but an RpcException.
      throw new Error('boom');
    }
    const user = users.find((u) => u.id === String(data.id));
    if (!user) {
      throw new RpcException({ statusCode: 404, message: `User ${data.id} not found` });
    }
    return user;
  }
}

@Module({ controllers: [UsersController] })
export class UsersModule {}

async function bootstrap() {
  const port = Number(process.argv[2] ?? 3001);
  const app = await NestFactory.createMicroservice(UsersModule, {
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port },
    logger: ['error', 'warn'],
  });
  await app.listen();
  console.log(`ready ${port}`);
}
bootstrap();
