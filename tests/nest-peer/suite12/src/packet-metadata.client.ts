// A Nest 12 TCP client with a dispatch hook, as the packet-metadata spec sets it, calling our
// microservice: `node v12/suite12-dist/packet-metadata.client.js <port>` prints one JSON object.
import { ClientProxyFactory, Transport } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';

async function main() {
  const port = Number(process.argv[2]);
  const client = ClientProxyFactory.create({
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port },
  });
  await client.connect();
  const plain = await firstValueFrom(client.send('echo-metadata', 'plain'));
  const seen: unknown[] = [];
  client.setOnDispatchHook((packet) => {
    seen.push({ pattern: packet.pattern, data: packet.data });
    packet.metadata = { 'x-request-id': 'trace-1' };
  });
  const echoed = await firstValueFrom(client.send('echo-metadata', { orderId: 7 }));
  await firstValueFrom(client.emit('record-metadata', {}), { defaultValue: undefined });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const event = await firstValueFrom(client.send('last-event-metadata', {}));
  await client.close();
  console.log(JSON.stringify({ plain, echoed, event, seen }));
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
