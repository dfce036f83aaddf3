// src/main.ts: the seed's, with its excerpt `app.useGlobalGuards(new AuthGuard())`; the port
// read from the environment.
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { AuthGuard } from './auth.guard';

async function bootstrap() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.useGlobalGuards(new AuthGuard());
  const port = Number(process.env.GATEWAY_PORT ?? 3000);
  await app.listen(port);
  console.log(`API gateway listening on http://localhost:${port}`);
}
bootstrap();
