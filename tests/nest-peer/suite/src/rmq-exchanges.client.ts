// Nest clients on RabbitMQ exchanges, as Nest's exchange specs make them, calling our
// microservices: one with `wildcards` (publishing through the topic exchange named after the
// queue, keyed by the pattern), one sending to the queue, one publishing to a fanout exchange.
// `node dist/rmq-exchanges.client.js <url> <ns>` prints one JSON object of answers.
import { ClientProxyFactory, Transport } from '@nestjs/microservices';
import { lastValueFrom, timeout } from 'rxjs';

async function answer(client: ReturnType<typeof ClientProxyFactory.create>, pattern: string) {
  try {
    return { ok: await lastValueFrom(client.send<string>(pattern, 1).pipe(timeout(5000))) };
  } catch (e) {
    return { err: e instanceof Error ? e.message : e };
  }
}

async function main() {
  const [url, ns] = process.argv.slice(2);
  const wildcards = ClientProxyFactory.create({
    transport: Transport.RMQ,
    options: { urls: [url], queue: `${ns}-topic`, wildcards: true },
  });
  const queue = ClientProxyFactory.create({
    transport: Transport.RMQ,
    options: { urls: [url], queue: `${ns}-topic` },
  });
  const fanout = ClientProxyFactory.create({
    transport: Transport.RMQ,
    options: { urls: [url], exchange: `${ns}.fanout`, exchangeType: 'fanout' },
  });
  const result = {
    wildcards: await answer(wildcards, 'wildcard.a.b'),
    queue: await answer(queue, 'wildcard.c.d'),
    fanout: await answer(fanout, 'ping'),
  };
  await Promise.all([wildcards.close(), queue.close(), fanout.close()]);
  console.log(JSON.stringify(result));
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
