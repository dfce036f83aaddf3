// A Nest HTTP app whose `ClientGrpc` calls a `math` service (Nest's GrpcController's
// `POST /sum`, and the other methods of the `Math` service), the peer for our gRPC server.
// Each route answers what grpc-js got: the reply, or the error's `{ code, details }`.
// `node dist/grpc-math.gateway.js <grpc host:port> <http port>` prints "ready" once it listens.
import { Body, Controller, HttpCode, Inject, Module, OnModuleInit, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientGrpc, ClientsModule, Transport } from '@nestjs/microservices';
import { Metadata } from '@grpc/grpc-js';
import { join } from 'path';
import { forkJoin, from, Observable, of } from 'rxjs';
import { catchError, map, toArray } from 'rxjs/operators';

const [grpcUrl, httpPort] = process.argv.slice(2);

interface MathService {
  sum(request: { data: number[] }, metadata?: Metadata): Observable<{ result: number }>;
  divide(request: { dividend: number; divisor: number }, metadata?: Metadata): Observable<unknown>;
  streamDivide(request: { data: unknown[] }): Observable<unknown>;
  sumStream(requests: Observable<{ data: number[] }>): Observable<{ result: number }>;
}

const failure = (error: { code: number; details: string }) => of({ code: error.code, details: error.details });

@Controller()
export class GatewayController implements OnModuleInit {
  private math: MathService;

  constructor(@Inject('MATH_PACKAGE') private readonly client: ClientGrpc) {}

  onModuleInit() {
    this.math = this.client.getService<MathService>('Math');
  }

  @Post('sum')
  @HttpCode(200)
  sum(@Body() data: number[]) {
    return this.math.sum({ data });
  }

  @Post('divide')
  @HttpCode(200)
  divide(@Body() body: { dividend: number; divisor: number; tag?: string }) {
    const metadata = new Metadata();
    if (body.tag) metadata.add('x-tag', body.tag);
    return this.math.divide({ dividend: body.dividend, divisor: body.divisor }, metadata).pipe(catchError(failure));
  }

  // A server stream collected: its values, then the error that ended it, if any.
  @Post('stream-divide')
  @HttpCode(200)
  streamDivide(@Body() body: { data: unknown[] }) {
    const items: unknown[] = [];
    return this.math.streamDivide(body).pipe(
      map((item) => items.push(item)),
      toArray(),
      map(() => ({ items })),
      catchError((error) => of({ items, error: { code: error.code, details: error.details } })),
    );
  }

  // A sum per array sent, over one bidirectional call.
  @Post('sum-stream')
  @HttpCode(200)
  sumStream(@Body() lists: number[][]) {
    return this.math.sumStream(from(lists.map((data) => ({ data })))).pipe(toArray());
  }

  // `count` sums at once on the client's one connection.
  @Post('sum-many')
  @HttpCode(200)
  sumMany(@Body() body: { count: number }) {
    const calls = Array.from({ length: body.count }, (_, i) => this.math.sum({ data: [i, i] }).pipe(map((r) => r.result ?? 0)));
    return forkJoin(calls);
  }
}

@Module({
  imports: [
    ClientsModule.register([
      {
        name: 'MATH_PACKAGE',
        transport: Transport.GRPC,
        options: { package: 'math', protoPath: join(process.cwd(), '../../examples/proto/math.proto'), url: grpcUrl },
      },
    ]),
  ],
  controllers: [GatewayController],
})
export class GatewayModule {}

async function bootstrap() {
  const app = await NestFactory.create(GatewayModule, { logger: ['error', 'warn'] });
  await app.listen(Number(httpPort), '127.0.0.1');
  console.log('ready');
}
bootstrap();
