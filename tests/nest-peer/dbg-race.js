const { nest, brokerOptions } = require('./common');
const { ClientProxyFactory } = nest('@nestjs/microservices');
const { lastValueFrom } = nest('rxjs');
(async () => {
  const client = ClientProxyFactory.create(brokerOptions('mqtt', 'mqtt://127.0.0.1:1883', undefined, process.argv[2]));
  await client.connect();
  const m = client.mqttClient;
  const log = [];
  const wrap = (name) => { const f = m[name].bind(m); m[name] = (t, ...a) => { const cached = name === 'subscribe' ? Object.prototype.hasOwnProperty.call(m._resubscribeTopics, t) : undefined; log.push([ok, name, typeof t === 'string' ? t.slice(0, 12) : '', cached, [...client.subscriptionsCount.values()][0]]); return f(t, ...a); }; };
  wrap('subscribe'); wrap('unsubscribe');
  let ok = 0; const t0 = Date.now(); let pending = new Set();
  await Promise.race([Promise.all(Array.from({length: 64}, async (_, w) => {
    while (Date.now() - t0 < 4000) { pending.add(w); await lastValueFrom(client.send({cmd:'echo', ns: process.argv[2]}, {a:1})); pending.delete(w); ok++; }
  })), new Promise((r) => setTimeout(r, 8000))]);
  const subs = log.filter(l => l[1] === 'subscribe');
  if (pending.size) console.log(JSON.stringify(log)); console.log(JSON.stringify({ ok, stuck: pending.size, subscribes: subs.length, subscribesSkippedAsCached: subs.filter(l => l[3]).length, unsubscribes: log.filter(l => l[1] === 'unsubscribe').length }));
  process.exit(0);
})();
