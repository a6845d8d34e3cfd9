// What the PROXY protocol costs per UDP datagram (run `npm run build` first, then
// `node bench/micro/proxy-protocol.js`). No sockets: the listener's message handler is called
// directly, with a reply function that only counts.
//
// Two layers:
// - listener only: the dispatcher is a stub that returns at once, so the numbers are the
//   listener's own cost per datagram (the part the PROXY protocol changed);
// - whole hot path: the real dispatcher and chain answering from the cache, as in
//   bench/micro/hot-path.js, so the difference is seen against the cost of a query.
// Variants:
//   before          the handler as it was before the PROXY protocol (copied from the old udp.ts)
//   off             UdpListener with server.proxyProtocol.from empty (the default)
//   on, client      proxyProtocol.from set, an ordinary client (not a proxy) asking
//   on, proxied v4  a datagram from the trusted proxy, IPv4 header stripped
//   on, proxied v6  the same with an IPv6 header
// Rounds are interleaved and the median of each is printed.
'use strict';
const path = require('node:path').join(__dirname, '..', '..', 'dist') + '/';
const dp = require('dns-packet');
const { buildChain } = require(path + 'server/chain');
const { Dispatcher } = require(path + 'server/dispatch');
const { Metrics } = require(path + 'metrics/metrics');
const { AnswerCache } = require(path + 'cache/answer-cache');
const { createLogger } = require(path + 'log/logger');
const { answerFromMessage } = require(path + 'dns/answer');
const { scanMessage } = require(path + 'dns/message');
const { QueryContext } = require(path + 'chain/types');
const { parseQuery } = require(path + 'dns/query');
const { UdpListener } = require(path + 'server/udp');
const { TrustedProxies } = require(path + 'server/proxy-protocol');

const ADDR = { host: '127.0.0.1', port: 53, family: 4 };
const metrics = new Metrics([], { processMetrics: false });
const log = createLogger({ level: 'error', format: 'json' });

// The cached answers of hot-path.js.
const cache = new AnswerCache({ maxEntries: 10000, maxBytes: 1 << 26 });
const qs = [];
for (let i = 0; i < 1000; i++) {
  const name = `n${i}.bench.test`;
  const up = dp.encode({ type: 'response', id: 1, flags: 0x8180, questions: [{ name, type: 'A' }], answers: [{ name, type: 'A', ttl: 3600, data: '192.0.2.1' }] });
  const a = answerFromMessage(up, scanMessage(up), { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 }, Date.now());
  const q = dp.encode({ type: 'query', id: i, flags: 256, questions: [{ name, type: 'A' }] });
  cache.set(new QueryContext(q, parseQuery(q), 0, '127.0.0.1', 1, 0).key, a);
  qs.push(q);
}
const { chain } = buildChain({ metrics, cache, resolve: () => { throw new Error('miss'); } });
const real = new Dispatcher(chain, metrics, log);
const stub = { handle: () => true };

function header(v6) {
  const sig = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
  const block = v6
    ? Buffer.concat([Buffer.from('20010db8000200000000000000000007', 'hex'), Buffer.from('20010db8005300000000000000000001', 'hex'), Buffer.from([0x9c, 0x40, 0, 53])])
    : Buffer.from([10, 2, 3, 44, 10, 0, 0, 53, 0x9c, 0x40, 0, 53]);
  return Buffer.concat([sig, Buffer.from([0x21, v6 ? 0x22 : 0x12, 0, block.length]), block]);
}
const h4 = header(false);
const h6 = header(true);
const proxied4 = qs.map((q) => Buffer.concat([h4, q]));
const proxied6 = qs.map((q) => Buffer.concat([h6, q]));

// Node gives each datagram a new rinfo with a new address string; a few hundred clients.
const clients = Array.from({ length: 1000 }, (_, i) => ({ address: `10.${(i >> 8) & 3}.${i & 255}.${(i * 7) & 255}`, family: 'IPv4', port: 40000 + i, size: 0 }));
const proxyRinfo = Array.from({ length: 1000 }, (_, i) => ({ address: ['127.0.0', '9'].join('.'), family: 'IPv4', port: 50000 + i, size: 0 }));

let sent = 0;
const fakeSock = { send: () => { sent++; } };

function listener(dispatcher, proxies) {
  // The handler start() installs, on a socket that only counts replies; no socket is opened.
  return new UdpListener(ADDR, dispatcher, metrics, log, proxies).messageHandler(fakeSock);
}

/** The 'message' handler of udp.ts before the PROXY protocol, verbatim but for the socket. */
function before(dispatcher) {
  const sock = fakeSock;
  const addr = ADDR;
  return (msg, rinfo) => {
    dispatcher.handle(msg, 0, rinfo.address, rinfo.port, (reply) => {
      sock.send(reply, rinfo.port, rinfo.address);
    }, addr.host);
  };
}

const trusted = new TrustedProxies(['127.0.0.9/32', '10.200.0.0/16', '2001:db8:ffff::/48']);

function variants(dispatcher) {
  return [
    ['before', before(dispatcher), qs, clients],
    ['off', listener(dispatcher, null), qs, clients],
    ['on, client', listener(dispatcher, trusted), qs, clients],
    ['on, proxied v4', listener(dispatcher, trusted), proxied4, proxyRinfo],
    ['on, proxied v6', listener(dispatcher, trusted), proxied6, proxyRinfo],
  ];
}

function measure(fn, msgs, rinfos, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(msgs[i % 1000], rinfos[i % 1000]);
  return Number(process.hrtime.bigint() - t0) / n;
}

function run(title, dispatcher, n, rounds) {
  const vs = variants(dispatcher);
  for (const [, fn, msgs, rinfos] of vs) measure(fn, msgs, rinfos, n); // warm-up
  const samples = vs.map(() => []);
  for (let r = 0; r < rounds; r++) vs.forEach(([, fn, msgs, rinfos], k) => samples[k].push(measure(fn, msgs, rinfos, n)));
  const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
  console.log(`${title} (median of ${rounds} rounds of ${n}):`);
  vs.forEach(([name], k) => console.log(`  ${name.padEnd(16)} ${median(samples[k]).toFixed(1).padStart(7)} ns per datagram`));
}

run('listener only (stub dispatcher)', stub, 2_000_000, 9);
run('whole hot path (cached answers)', real, 300_000, 9);
console.log('replies sent', sent);
