// Nest's gRPC `math` app (integration/microservices/src/grpc/grpc.controller.ts and the
// `Math` service its sum-grpc and math-grpc specs call), as a Nest microservice for our
// ClientGrpc. `node dist/grpc-math.service.js <host:port>` prints "ready" once it listens.
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GrpcMethod, GrpcStreamMethod, RpcException, Transport } from '@nestjs/microservices';
import { Metadata, status } from '@grpc/grpc-js';
import { join } from 'path';
import { Observable } from 'rxjs';
import { map } from 'rxjs/operators';

interface Division {
  dividend: number;
  divisor: number;
}

const divideByZero = () =>
  new RpcException({ code: status.INVALID_ARGUMENT, message: 'dividing by 0 is not possible' });

@Controller()
export class MathController {
  @GrpcMethod('Math')
  sum({ data }: { data: number[] }) {
    return { result: data.reduce((a, b) => a + b, 0) };
  }

  // Waits `x-sleep-ms` (metadata) first, so a caller's deadline can pass; echoes `x-tag`.
  @GrpcMethod('Math')
  async divide({ dividend, divisor }: Division, metadata: Metadata) {
    const sleep = Number(metadata.get('x-sleep-ms')[0] ?? 0);
    await new Promise((resolve) => setTimeout(resolve, sleep));
    if (!divisor) throw divideByZero(); // proto3 sends no 0: it arrives undefined
    const tag = metadata.get('x-tag')[0];
    return { result: Math.trunc(dividend / divisor) + (tag === 'plus-one' ? 1 : 0) };
  }

  @GrpcMethod('Math')
  streamDivide({ data }: { data: Division[] }): Observable<unknown> {
    return new Observable((subscriber) => {
      for (const { dividend, divisor } of data) {
        if (!divisor) return subscriber.error(divideByZero());
        subscriber.next({ data: { result: Math.trunc(dividend / divisor) } });
      }
      subscriber.complete();
    });
  }

  @GrpcStreamMethod('Math')
  sumStream(messages: Observable<{ data: number[] }>): Observable<unknown> {
    return messages.pipe(map(({ data }) => ({ result: data.reduce((a, b) => a + b, 0) })));
  }
}

@Module({ controllers: [MathController] })
export class MathModule {}

async function bootstrap() {
  const [url] = process.argv.slice(2);
  const app = await NestFactory.createMicroservice(MathModule, {
    transport: Transport.GRPC,
    options: { package: 'math', protoPath: join(process.cwd(), '../../examples/proto/math.proto'), url },
    logger: ['error', 'warn'],
  });
  await app.listen();
  console.log('ready');
}
bootstrap();
