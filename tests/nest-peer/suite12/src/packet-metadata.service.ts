// Nest 12's packet-metadata app (`integration/microservices/e2e/packet-metadata-tcp.spec.ts`),
// as a Nest microservice for our client: a handler echoing its payload and the metadata its
// context gives, and an event handler keeping the last event's metadata.
// `node v12/suite12-dist/packet-metadata.service.js <port>` prints "ready" once listening.
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, MessagePattern, Payload, TcpContext, Transport } from '@nestjs/microservices';

@Controller()
class MetadataController {
  static lastEventMetadata: Record<string, string> | null = null;

  @MessagePattern('echo-metadata')
  echo(@Payload() data: unknown, @Ctx() context: TcpContext) {
    return { data, metadata: context.getMetadata() ?? null };
  }

  @EventPattern('record-metadata')
  record(@Ctx() context: TcpContext) {
    MetadataController.lastEventMetadata = context.getMetadata() ?? null;
  }

  @MessagePattern('last-event-metadata')
  lastEvent() {
    return MetadataController.lastEventMetadata;
  }
}

@Module({ controllers: [MetadataController] })
class MetadataModule {}

async function bootstrap() {
  const port = Number(process.argv[2]);
  const app = await NestFactory.createMicroservice(MetadataModule, {
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port },
    logger: ['error', 'warn'],
  });
  await app.listen();
  console.log('ready');
}
bootstrap();
