'use strict';
// Shared by the peer scripts.
//
// NEST_PEER_DIR picks which NestJS install the scripts load: this folder (Nest 11, the
// default) or ./v12 (Nest 12). Every Nest package, rxjs and reflect-metadata come from that
// one install, so the script files are the same for both versions.
const path = require('path');
const { createRequire } = require('module');

const dir = path.resolve(process.env.NEST_PEER_DIR || __dirname);
const nest = createRequire(path.join(dir, 'package.json'));
nest('reflect-metadata');

// Applies TypeScript-style decorators from plain JavaScript (no build step needed).
function decorateMethod(cls, method, ...decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, method);
  for (const decorator of decorators) decorator(cls.prototype, method, descriptor);
  Object.defineProperty(cls.prototype, method, descriptor);
}

function decorateClass(cls, ...decorators) {
  for (const decorator of decorators) decorator(cls);
  return cls;
}

// Boots a Nest TCP microservice for `module` on 127.0.0.1:`port` and prints "ready <port>",
// which the Rust tests wait for.
// Nest's TCP `tlsOptions` from the test's certificates when TLS_DIR names their folder:
// a server shows server.pem (and with TLS_CLIENT_CERT=1 asks for a client certificate signed
// by ca.pem); a client trusts ca.pem (and with TLS_CLIENT_CERT=1 shows client.pem).
function tlsOptions(side) {
  const dir = process.env.TLS_DIR;
  if (!dir) return {};
  const fs = require('fs');
  const read = (name) => fs.readFileSync(require('path').join(dir, name), 'utf8');
  const mutual = process.env.TLS_CLIENT_CERT === '1';
  if (side === 'server') {
    return { tlsOptions: { key: read('server-key.pem'), cert: read('server.pem'),
      ...(mutual ? { requestCert: true, rejectUnauthorized: true, ca: read('ca.pem') } : {}) } };
  }
  return { tlsOptions: { ca: read('ca.pem'),
    ...(mutual ? { cert: read('client.pem'), key: read('client-key.pem') } : {}) } };
}

async function startTcpMicroservice(module, port) {
  const { NestFactory } = nest('@nestjs/core');
  const { Transport } = nest('@nestjs/microservices');
  const app = await NestFactory.createMicroservice(module, {
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port, ...tlsOptions('server') },
    logger: ['error', 'warn'],
  });
  await app.listen();
  process.stdout.write(`ready ${port}\n`);
  return app;
}

// The `{ transport, options }` of a broker transport, for a client or a microservice.
// RabbitMQ routes by queue, so its queue is required: `queue`, else `q-<ns>`.
function brokerOptions(name, url, queue, ns) {
  const { Transport } = nest('@nestjs/microservices');
  switch (name) {
    case 'nats':
      return { transport: Transport.NATS, options: { servers: [url], ...(queue ? { queue } : {}) } };
    case 'redis': {
      const { hostname, port } = new URL(url);
      return { transport: Transport.REDIS, options: { host: hostname, port: Number(port) } };
    }
    case 'mqtt':
      return { transport: Transport.MQTT, options: { url } };
    case 'mqtt5':
      return { transport: Transport.MQTT, options: { url, protocolVersion: 5 } };
    case 'rmq':
      return { transport: Transport.RMQ, options: { urls: [url], queue: queue || `q-${ns}`, queueOptions: {} } };
    default:
      throw new Error(`unknown transport ${name}`);
  }
}

// Boots a Nest HTTP app (Express) for `module` on 127.0.0.1:`port`, after `configure(app)`
// (versioning, a global prefix), and prints "ready <port>"; exits on a failure to start.
function serveHttpApp(module, port, configure = () => {}) {
  const { NestFactory } = nest('@nestjs/core');
  (async () => {
    const app = await NestFactory.create(module, { logger: false });
    configure(app);
    await app.listen(port, '127.0.0.1');
    process.stdout.write(`ready ${port}\n`);
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { nest, decorateMethod, decorateClass, startTcpMicroservice, serveHttpApp, brokerOptions, tlsOptions };
