'use strict';
// `@nestjs/terminus` health checks, as tests/health.rs declares ours: `node health.js <port>
// <live service port> <dead service port>`, prints "ready <port>". `/health/up` checks what
// is up (a TCP service, memory, disk, a custom indicator); `/health/down` adds what is down
// (a dead TCP service, a custom indicator down, thresholds that cannot hold).
const { nest, decorateClass, decorateMethod, serveHttpApp } = require('./common');
const { Controller, Get, Module } = nest('@nestjs/common');
const { Transport } = nest('@nestjs/microservices');
const {
  DiskHealthIndicator, HealthCheck, HealthCheckService, HealthIndicatorService, MemoryHealthIndicator,
  MicroserviceHealthIndicator, TerminusModule,
} = nest('@nestjs/terminus');

const [port, live, dead] = process.argv.slice(2).map(Number);

class HealthController {
  constructor(health, indicators, microservice, memory, disk) {
    Object.assign(this, { health, indicators, microservice, memory, disk });
  }
  tcp(key, port) {
    return this.microservice.pingCheck(key, { transport: Transport.TCP, options: { host: '127.0.0.1', port }, timeout: 500 });
  }
  up() {
    return this.health.check([
      () => this.tcp('users', live),
      () => this.memory.checkRSS('memory_rss', 2 ** 40),
      () => this.disk.checkStorage('storage', { path: '/', thresholdPercent: 1 }),
      () => this.indicators.check('custom').up({ version: '1.2.3' }),
    ]);
  }
  down() {
    return this.health.check([
      () => this.tcp('users', live),
      () => this.tcp('orders', dead),
      () => this.memory.checkRSS('memory_rss', 1),
      () => this.disk.checkStorage('storage', { path: '/', threshold: 1 }),
      () => this.indicators.check('custom').down({ reason: 'maintenance' }),
    ]);
  }
}
decorateMethod(HealthController, 'up', Get('up'), HealthCheck());
decorateMethod(HealthController, 'down', Get('down'), HealthCheck());
decorateClass(HealthController, Controller('health'));
Reflect.defineMetadata('design:paramtypes', [HealthCheckService, HealthIndicatorService, MicroserviceHealthIndicator, MemoryHealthIndicator, DiskHealthIndicator], HealthController);

class AppModule {}
decorateClass(AppModule, Module({ imports: [TerminusModule.forRoot({ logger: false })], controllers: [HealthController] }));

serveHttpApp(AppModule, port);
