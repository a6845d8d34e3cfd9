const path = require('node:path').join(__dirname, '..', '..', 'dist') + '/';
const { buildChain } = require(path+'server/chain');
const { Dispatcher } = require(path+'server/dispatch');
const { Metrics } = require(path+'metrics/metrics');
const { AnswerCache } = require(path+'cache/answer-cache');
const { createLogger } = require(path+'log/logger');
const dp = require('dns-packet');
const metrics = new Metrics([], { processMetrics: false });
const cache = new AnswerCache({ maxEntries: 10000, maxBytes: 1<<26 });
const { answerFromMessage } = require(path+'dns/answer');
const { scanMessage } = require(path+'dns/message');
const log = createLogger({ level: 'error', format: 'json' });
const resolve = () => { throw new Error('miss'); };
const { chain } = buildChain({ metrics, cache, resolve });
const d = new Dispatcher(chain, metrics, log);
const qs = [];
for (let i = 0; i < 1000; i++) {
  const name = `n${i}.bench.test`;
  const up = dp.encode({ type:'response', id: 1, flags: 0x8180, questions:[{name, type:'A'}], answers:[{name, type:'A', ttl: 3600, data:'192.0.2.1'}]});
  const a = answerFromMessage(up, scanMessage(up), { minTtl:0, maxTtl:86400, maxNegativeTtl:3600 }, Date.now());
  const q = dp.encode({ type:'query', id: i, flags: 256, questions:[{name, type:'A'}]});
  // key as ctx computes it
  const { QueryContext } = require(path+'chain/types'); const { parseQuery } = require(path+'dns/query');
  const ctx = new QueryContext(q, parseQuery(q), 0, '127.0.0.1', 1, 0);
  cache.set(ctx.key, a);
  qs.push(q);
}
let sent = 0; const send = () => { sent++; };
for (let i = 0; i < 200000; i++) d.handle(qs[i % 1000], 0, '127.0.0.1', 5000, send);
const N = 1000000; const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) d.handle(qs[i % 1000], 0, '127.0.0.1', 5000, send);
console.log('ns per cached query (dispatch+chain, no socket):', Number(process.hrtime.bigint() - t0) / N, 'sent', sent);
