// Nest's RabbitMQ exchange apps (`integration/microservices/src/rmq/`), as Nest microservices
// for our client to call: one with `wildcards` (a topic exchange named after its queue, bound
// with each handler's pattern) and one consuming a fanout exchange from an exclusive queue.
// `node dist/rmq-exchanges.service.js <url> <ns>` prints "ready" once both listen.
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, RmqContext, Transport } from '@nestjs/microservices';

@Controller()
export class TopicExchangeController {
  @MessagePattern('wildcard.*.*')
  handleTopicExchange(@Ctx() ctx: RmqContext): string {
    return ctx.getPattern();
  }
}

@Controller()
export class FanoutExchangeConsumerController {
  @MessagePattern('ping')
  handleFanoutExchange(@Ctx() ctx: RmqContext): string {
    return ctx.getPattern() + '/pong';
  }
}

@Module({ controllers: [TopicExchangeController] })
export class TopicModule {}

@Module({ controllers: [FanoutExchangeConsumerController] })
export class FanoutModule {}

async function bootstrap() {
  const [url, ns] = process.argv.slice(2);
  const topic = await NestFactory.createMicroservice(TopicModule, {
    transport: Transport.RMQ,
    options: { urls: [url], queue: `${ns}-topic`, wildcards: true },
    logger: ['error', 'warn'],
  });
  const fanout = await NestFactory.createMicroservice(FanoutModule, {
    transport: Transport.RMQ,
    options: {
      urls: [url],
      queue: '',
      exchange: `${ns}.fanout`,
      exchangeType: 'fanout',
      queueOptions: { exclusive: true },
    },
    logger: ['error', 'warn'],
  });
  await Promise.all([topic.listen(), fanout.listen()]);
  console.log('ready');
}
bootstrap();
