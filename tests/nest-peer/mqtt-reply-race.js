'use strict';
// Shows Nest's MQTT client losing its calls (docs/benchmarks.md, "MQTT: the loop that woke
// itself"): runs `runs` loops of 64 callers for 4 s each against the MQTT service of `ns` (start
// one first: `node broker-service.js mqtt <url> <ns>`), logs every subscribe and unsubscribe the
// client makes to its reply topic, and prints one JSON line a run: the calls answered, the
// calls still waiting 4 s after the loop ended, and, for a run with calls waiting, the log
// (calls answered so far, what was done, whether mqtt.js skipped the SUBSCRIBE as already
// subscribed, Nest's count of calls on the topic).
// Usage: node mqtt-reply-race.js <url> <ns> [runs]
const { nest, brokerOptions } = require('./common');
const { ClientProxyFactory } = nest('@nestjs/microservices');
const { lastValueFrom } = nest('rxjs');

async function run(url, ns) {
  const client = ClientProxyFactory.create(brokerOptions('mqtt', url, undefined, ns));
  await client.connect();
  const mqtt = client.mqttClient;
  const log = [];
  let answered = 0;
  for (const name of ['subscribe', 'unsubscribe']) {
    const original = mqtt[name].bind(mqtt);
    mqtt[name] = (topic, ...rest) => {
      const skipped = name === 'subscribe' && Object.prototype.hasOwnProperty.call(mqtt._resubscribeTopics, topic);
      log.push({ answered, [name]: topic, skipped, count: client.subscriptionsCount.get(topic) });
      return original(topic, ...rest);
    };
  }
  const waiting = new Set();
  const started = Date.now();
  const callers = Array.from({ length: 64 }, async (_, caller) => {
    while (Date.now() - started < 4000) {
      waiting.add(caller);
      await lastValueFrom(client.send({ cmd: 'echo', ns }, { caller }));
      waiting.delete(caller);
      answered += 1;
    }
  });
  await Promise.race([Promise.all(callers), new Promise((r) => setTimeout(r, 8000))]);
  const result = { answered, waiting: waiting.size };
  if (waiting.size > 0) result.log = log;
  mqtt.end(true);
  return result;
}

async function main() {
  const [url, ns, runs = '10'] = process.argv.slice(2);
  for (let i = 0; i < Number(runs); i++) {
    process.stdout.write(JSON.stringify(await run(url, ns)) + '\n');
  }
  process.exit(0);
}

main().catch((error) => { console.error(error); process.exit(1); });
