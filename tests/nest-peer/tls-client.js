'use strict';
// A Nest TCP ClientProxy with `tlsOptions` (from TLS_DIR, see common.js) calling `sum` and
// `echo` once; prints their answers as one JSON object.
// Usage: node tls-client.js <port>
const { nest, tlsOptions } = require('./common');
const { ClientProxyFactory, Transport } = nest('@nestjs/microservices');
const { lastValueFrom } = nest('rxjs');

async function main() {
  const port = Number(process.argv[2]);
  const client = ClientProxyFactory.create({
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port, ...tlsOptions('client') },
  });
  await client.connect();
  const sum = await lastValueFrom(client.send('sum', [1, 2, 3, 4, 5]));
  const echo = await lastValueFrom(client.send('echo', 'héllo 😀 日本'));
  client.close();
  process.stdout.write(JSON.stringify({ sum, echo }) + '\n');
}

main().catch((error) => { console.error(error); process.exit(1); });
