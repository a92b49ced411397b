// Hostile input against the ready-made server (in process, port 0, real broker): every malformed or
// malicious request gets a JSON error with a stable code and the right status, no stack, nothing logged
// above `warn`, no topic created, no prototype polluted — and the server keeps serving afterwards.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { Kafka, logLevel } from 'kafkajs';
import { closeSharedClient, kafkaSse, type KafkaSseOptions } from '../../src/index.js';
import { createKafkaSseServer, type KafkaSseServerOptions } from '../../src/server/server.js';
import { createTopics, messageOffsets, openStream } from '../e2e/helpers/cliProcess.js';
import { fixtureKafka, produce, testBrokers } from '../helpers/kafka.js';

const [topic, twoPartitions, restrictedOther] = (await createTopics([
  { prefix: 'hostile', partitions: 1 },
  { prefix: 'hostile-two', partitions: 2 },
  { prefix: 'hostile-other', partitions: 1 },
])) as [string, string, string];
await produce(topic, [{ partition: 0, value: { n: 0 } }]);

type LogLine = { level: number; msg: string } & Record<string, unknown>;

/** createKafkaSseServer on 127.0.0.1:0 with every pino line captured (at trace level) and parsed. */
async function startServer(options: KafkaSseServerOptions = {}) {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const server = createKafkaSseServer({ brokers: testBrokers(), port: 0, host: '127.0.0.1', logger, shutdownGraceMs: 500, ...options });
  const { port } = await server.listen();
  after(() => server.close());
  return { server, port, url: `http://127.0.0.1:${port}`, logs };
}

const open = await startServer();
const restricted = await startServer({ allowedTopics: [topic, twoPartitions] });
const objectPrototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `head` (request line and headers, `\r\n`-separated, no blank line) as raw bytes — so nothing
 * (fetch, node:http) normalizes `..`, refuses odd methods or fixes up headers — and reads the answer.
 */
function rawRequest(port: number, head: string, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\nConnection: close\r\n\r\n`));
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms; got ${JSON.stringify(data.toString().slice(0, 300))}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => (data = Buffer.concat([data, chunk])));
    socket.on('error', () => {}); // the server may close first; 'close' settles
    socket.on('close', () => {
      clearTimeout(timer);
      const text = data.toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split === -1) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 300))}`));
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(split + 4) });
    });
  });
}

/** A GET of `path` with extra header lines. Header values are sent as given (they must be latin1). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return rawRequest(port, [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...lines].join('\r\n'));
}

/** Asserts a well-formed JSON error: the status, the stable code, no stack, JSON content type. */
function assertJsonError(res: RawResponse, status: number, code: string, what: string): Record<string, unknown> {
  assert.equal(res.status, status, `${what}: status (body ${res.body.slice(0, 300)})`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/, `${what}: content type`);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  assert.equal(body.code, code, `${what}: code (message: ${String(body.message)})`);
  assert.equal(body.status, status, `${what}: status in the body`);
  assert.equal(typeof body.message, 'string', `${what}: message`);
  assert.ok(!('stack' in body), `${what}: no stack`);
  assert.ok(!res.body.includes('    at '), `${what}: no stack frames anywhere in the body`);
  return body;
}

/** A valid resume from offset 0 still receives the fixture record: the server keeps serving. */
async function assertStillServes(server: { url: string }, what: string): Promise<void> {
  const stream = await openStream(`${server.url}/v1/stream/${topic}`, {
    'Last-Event-ID': JSON.stringify([{ topic, partition: 0, offset: 0 }]),
  });
  assert.equal(stream.status, 200, `after ${what}: a valid stream opens`);
  try {
    await stream.until((t) => messageOffsets(t).includes('0:0'), 10_000);
  } finally {
    stream.close();
  }
}

/** No line above warn (40) since `from`: a client's mistake is not the operator's error. */
function assertQuietLogs(logs: LogLine[], from: number, what: string): void {
  const loud = logs.slice(from).filter((l) => l.level > 40);
  assert.deepEqual(loud.map((l) => `${l.level} ${l.msg} ${JSON.stringify(l).slice(0, 300)}`), [], `${what}: nothing logged above warn`);
}

interface Case {
  name: string;
  path?: string;
  headers?: Record<string, string>;
  method?: string;
  /** A complete raw request head instead of path/headers/method. */
  raw?: string;
  status: number;
  code: string;
}

/** Sends each case to `server`, checks the answer and the logs, then checks a valid stream still works. */
async function refuses(server: { port: number; url: string; logs: LogLine[] }, cases: Case[], t: { test: (name: string, fn: () => Promise<void>) => Promise<void> }) {
  for (const c of cases) {
    await t.test(c.name, async () => {
      const mark = server.logs.length;
      const res = c.raw ? await rawRequest(server.port, c.raw) : await get(server.port, c.path ?? `/v1/stream/${topic}`, c.headers, c.method);
      assertJsonError(res, c.status, c.code, c.name);
      assertQuietLogs(server.logs, mark, c.name);
      await assertStillServes(server, c.name);
    });
  }
}

const leid = (value: unknown) => ({ 'Last-Event-ID': typeof value === 'string' ? value : JSON.stringify(value) });
const entry = (fields: Record<string, unknown>) => [{ topic, partition: 0, offset: 0, ...fields }];
const INVALID = 'KSSE_INVALID_ASSIGNMENT';

test('Last-Event-ID that is not a JSON array of positions: 400 KSSE_INVALID_ASSIGNMENT', async (t) => {
  await refuses(open, [
    { name: 'not JSON', headers: leid('{topic: nope'), status: 400, code: INVALID },
    { name: 'truncated JSON', headers: leid(JSON.stringify(entry({})).slice(0, -3)), status: 400, code: INVALID },
    { name: 'an object, not an array', headers: leid({ topic, partition: 0, offset: 0 }), status: 400, code: INVALID },
    { name: 'a string', headers: leid('"hello"'), status: 400, code: INVALID },
    { name: 'a number', headers: leid('42'), status: 400, code: INVALID },
    { name: 'empty', headers: leid(''), status: 400, code: INVALID },
    { name: 'whitespace only', headers: leid('   '), status: 400, code: INVALID },
    { name: '[]', headers: leid('[]'), status: 400, code: INVALID },
    { name: 'null', headers: leid('null'), status: 400, code: INVALID },
    { name: '[null]', headers: leid('[null]'), status: 400, code: INVALID },
    { name: 'an array of numbers', headers: leid('[1,2,3]'), status: 400, code: INVALID },
    { name: 'an array of arrays', headers: leid([[topic, 0, 0]]), status: 400, code: INVALID },
    { name: 'an entry without a topic', headers: leid([{ partition: 0, offset: 0 }]), status: 400, code: 'KSSE_INVALID_TOPIC_NAME' },
    { name: 'an entry without a partition', headers: leid([{ topic, offset: 0 }]), status: 400, code: INVALID },
    { name: 'the same partition twice', headers: leid([...entry({}), ...entry({ offset: 1 })]), status: 400, code: INVALID },
    { name: 'two Last-Event-ID headers (joined by Node into invalid JSON)', raw: `GET /v1/stream/${topic} HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${JSON.stringify(entry({}))}\r\nLast-Event-ID: ${JSON.stringify(entry({}))}`, status: 400, code: INVALID },
  ], t);
});

test('Last-Event-ID with nested values, negative, fractional, non-numeric or beyond-int64 numbers: 400', async (t) => {
  const big = '99999999999999999999'; // beyond int64 (9223372036854775807)
  await refuses(open, [
    { name: 'partition is an object', headers: leid(entry({ partition: { $gt: 0 } })), status: 400, code: INVALID },
    { name: 'partition is an array', headers: leid(entry({ partition: [0] })), status: 400, code: INVALID },
    { name: 'offset is an object', headers: leid(entry({ offset: { valueOf: 1 } })), status: 400, code: INVALID },
    { name: 'offset is an array', headers: leid(entry({ offset: [0] })), status: 400, code: INVALID },
    { name: 'topic is an array', headers: leid(entry({ topic: [topic] })), status: 400, code: 'KSSE_INVALID_TOPIC_NAME' },
    { name: 'topic is an object', headers: leid(entry({ topic: { toString: topic } })), status: 400, code: 'KSSE_INVALID_TOPIC_NAME' },
    { name: 'timestamp is an object', headers: leid([{ topic, partition: 0, timestamp: {} }]), status: 400, code: INVALID },
    { name: 'negative partition', headers: leid(entry({ partition: -1 })), status: 400, code: INVALID },
    { name: 'negative offset', headers: leid(entry({ offset: -1 })), status: 400, code: INVALID },
    { name: 'negative offset as a string', headers: leid(entry({ offset: '-1' })), status: 400, code: INVALID },
    { name: 'negative timestamp', headers: leid([{ topic, partition: 0, timestamp: -5 }]), status: 400, code: INVALID },
    { name: 'fractional partition', headers: leid(entry({ partition: 0.5 })), status: 400, code: INVALID },
    { name: 'fractional offset', headers: leid(entry({ offset: 1.5 })), status: 400, code: INVALID },
    { name: 'non-numeric offset', headers: leid(entry({ offset: 'abc' })), status: 400, code: INVALID },
    { name: 'hexadecimal offset string', headers: leid(entry({ offset: '0x10' })), status: 400, code: INVALID },
    { name: 'partition as a digit string', headers: leid(entry({ partition: '0' })), status: 400, code: INVALID },
    { name: 'boolean partition', headers: leid(entry({ partition: true })), status: 400, code: INVALID },
    { name: 'offset beyond int64 (number)', headers: leid(`[{"topic":"${topic}","partition":0,"offset":${big}}]`), status: 400, code: INVALID },
    { name: 'offset beyond int64 (string)', headers: leid(entry({ offset: big })), status: 400, code: INVALID },
    { name: 'offset 1e400 (Infinity)', headers: leid(`[{"topic":"${topic}","partition":0,"offset":1e400}]`), status: 400, code: INVALID },
    { name: 'partition beyond int64', headers: leid(`[{"topic":"${topic}","partition":${big},"offset":0}]`), status: 400, code: INVALID },
    { name: 'partition beyond int32', headers: leid(entry({ partition: 2 ** 31 })), status: 400, code: INVALID },
  ], t);
});

test('Last-Event-ID naming partitions that do not exist: 400 KSSE_PARTITION_NOT_FOUND', async (t) => {
  await refuses(open, [
    { name: 'partition 1 of a one-partition topic', headers: leid(entry({ partition: 1 })), status: 400, code: 'KSSE_PARTITION_NOT_FOUND' },
    { name: 'partition 2 of a two-partition topic', headers: leid([{ topic: twoPartitions, partition: 2, offset: 0 }]), status: 400, code: 'KSSE_PARTITION_NOT_FOUND' },
    { name: 'the largest int32 partition', headers: leid(entry({ partition: 2 ** 31 - 1 })), status: 400, code: 'KSSE_PARTITION_NOT_FOUND' },
  ], t);
});

test('__proto__ and constructor keys and topic names: refused or ignored, never polluting a prototype', async (t) => {
  const ghostNames = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'];
  await refuses(open, [
    { name: '__proto__ key only', headers: leid('[{"__proto__":{"polluted":"yes"}}]'), status: 400, code: 'KSSE_INVALID_TOPIC_NAME' },
    { name: 'constructor.prototype key only', headers: leid('[{"constructor":{"prototype":{"polluted":"yes"}}}]'), status: 400, code: 'KSSE_INVALID_TOPIC_NAME' },
    { name: '__proto__ topic in Last-Event-ID (internal-looking name)', headers: leid([{ topic: '__proto__', partition: 0, offset: 0 }]), status: 404, code: 'KSSE_TOPIC_NOT_ALLOWED' },
    { name: 'constructor topic in Last-Event-ID', headers: leid([{ topic: 'constructor', partition: 0, offset: 0 }]), status: 404, code: 'KSSE_TOPIC_NOT_FOUND' },
    ...ghostNames.map((name) => ({
      name: `/v1/stream/${name}`,
      path: `/v1/stream/${name}`,
      status: 404,
      code: name.startsWith('__') ? 'KSSE_TOPIC_NOT_ALLOWED' : 'KSSE_TOPIC_NOT_FOUND',
    })),
    { name: 'qs-style pollution in the query', path: `/v1/stream/nope$?__proto__[polluted]=1&constructor[prototype][polluted]=1`, status: 400, code: 'KSSE_INVALID_TOPIC_NAME' },
    { name: 'a header named __proto__', path: '/v1/stream/nope$', headers: { __proto__: '{"polluted":1}', constructor: 'x' }, status: 400, code: 'KSSE_INVALID_TOPIC_NAME' },
  ], t);

  // Extra keys next to a valid position are ignored: the stream starts where the known keys say.
  const withExtras = `[{"topic":"${topic}","partition":0,"offset":0,"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}]`;
  const stream = await openStream(`${open.url}/v1/stream/${topic}`, leid(withExtras));
  assert.equal(stream.status, 200);
  await stream.until((text) => messageOffsets(text).includes('0:0'));
  stream.close();

  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted');
  assert.equal(([] as unknown as Record<string, unknown>).polluted, undefined, 'Array.prototype is not polluted');
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), objectPrototypeKeys);
  const topics = await (await fixtureKafka().admin).listTopics();
  for (const name of ghostNames) assert.ok(!topics.includes(name), `${name} was not created`);
});

test('thousands of entries and oversized or deeply nested headers are refused quickly, before parsing', async (t) => {
  const validEntries = (n: number) => Array.from({ length: n }, (_, partition) => ({ topic, partition, offset: 0 }));
  await refuses(open, [
    { name: '3,000 empty objects (over the 1,000-entry limit)', headers: leid(Array.from({ length: 3000 }, () => ({}))), status: 400, code: INVALID },
    { name: '5,000 numbers', headers: leid(Array.from({ length: 5000 }, () => 1)), status: 400, code: INVALID },
    { name: '150 copies of one position', headers: leid(Array.from({ length: 150 }, () => entry({})[0])), status: 400, code: INVALID },
    { name: '5,000 levels of nested arrays', headers: leid(`${'['.repeat(5000)}${']'.repeat(5000)}`), status: 400, code: INVALID },
    // Over Node's 16 KiB header limit: the HTTP parser answers first, in the same JSON format.
    { name: '2,000 valid-looking entries (> 16 KiB)', headers: leid(validEntries(2000)), status: 431, code: 'KSSE_HEADER_TOO_LARGE' },
    { name: 'a 20 KiB Last-Event-ID', headers: leid(`["${'x'.repeat(20 * 1024)}"]`), status: 431, code: 'KSSE_HEADER_TOO_LARGE' },
  ], t);
});

test('the library itself rejects Last-Event-ID over its byte limit before parsing, and over its entry limit', async () => {
  // A plain node:http server with a large header allowance, so the library's own limits answer.
  const kafka = new Kafka({ clientId: 'hostile-library', brokers: testBrokers(), logLevel: logLevel.NOTHING });
  after(() => closeSharedClient(kafka));
  let options: KafkaSseOptions = { kafka };
  const server = createServer({ maxHeaderSize: 1024 * 1024 }, (req: IncomingMessage, res: ServerResponse) => void kafkaSse(req, res, topic, options));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;

  // Deeply nested JSON over a 2 KiB limit: a parser running first would answer 400 (or crash); the size
  // check answers 431 without looking inside.
  options = { kafka, maxHeaderBytes: 2048 };
  const nested = await get(port, '/', leid(`${'['.repeat(3000)}${']'.repeat(3000)}`));
  const body = assertJsonError(nested, 431, 'KSSE_HEADER_TOO_LARGE', 'nested over the byte limit');
  assert.equal(body.limit, 2048);
  // Default limits (16 KiB): 40 KiB of entries is refused by size.
  options = { kafka };
  const many = Array.from({ length: 1001 }, (_, partition) => ({ topic, partition, offset: 0 }));
  assertJsonError(await get(port, '/', leid(many)), 431, 'KSSE_HEADER_TOO_LARGE', '1,001 entries, default byte limit');
  // With the byte limit raised, the entry limit (1,000) answers, quickly.
  options = { kafka, maxHeaderBytes: 1024 * 1024 };
  const started = Date.now();
  assertJsonError(await get(port, '/', leid(many)), 400, INVALID, '1,001 entries');
  assertJsonError(await get(port, '/', leid(Array.from({ length: 20_000 }, () => ({})))), 400, INVALID, '20,000 entries');
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
});

test('topic names Kafka does not allow: 400 KSSE_INVALID_TOPIC_NAME', async (t) => {
  const NAME = 'KSSE_INVALID_TOPIC_NAME';
  const names: Array<[string, string]> = [
    ['a space', 'a%20b'],
    ['a dollar sign', 'a$b'],
    ['non-ASCII (é)', 'caf%C3%A9'],
    ['a Greek omicron lookalike', 't%CE%BFpic'],
    ['an encoded slash', 'a%2Fb'],
    ['a NUL byte', 'a%00b'],
    ['a CR LF', 'a%0D%0Ab'],
    ['markup', '%3Cscript%3Ealert(1)%3C%2Fscript%3E'],
    ['..', '..'],
    ['.', '.'],
    ['encoded ..', '%2E%2E'],
    ['empty (nothing after /v1/stream/)', ''],
    ['empty segment a,,b', `${topic},,${topic}`],
    ['a lone comma', ','],
    ['a trailing comma', `${topic},`],
    ['250 characters', 'a'.repeat(250)],
  ];
  await refuses(open, names.map(([name, segment]) => ({ name, path: `/v1/stream/${segment}`, status: 400, code: NAME })), t);
  await refuses(open, [
    { name: 'the same topic twice', path: `/v1/stream/${topic},${topic}`, status: 400, code: INVALID },
    { name: 'a topic in Last-Event-ID with characters Kafka does not allow', headers: leid([{ topic: 'a b', partition: 0, offset: 0 }]), status: 400, code: NAME },
    { name: '.. in Last-Event-ID', headers: leid([{ topic: '..', partition: 0, offset: 0 }]), status: 400, code: NAME },
    { name: 'a 250-character topic in Last-Event-ID', headers: leid([{ topic: 'a'.repeat(250), partition: 0, offset: 0 }]), status: 400, code: NAME },
  ], t);
});

test('topics not in --allowed-topics: 404 KSSE_TOPIC_NOT_ALLOWED, in the path or in Last-Event-ID', async (t) => {
  await refuses(restricted, [
    { name: 'an existing topic that is not allowed', path: `/v1/stream/${restrictedOther}`, status: 404, code: 'KSSE_TOPIC_NOT_ALLOWED' },
    { name: 'an allowed and a not allowed topic', path: `/v1/stream/${topic},${restrictedOther}`, status: 404, code: 'KSSE_TOPIC_NOT_ALLOWED' },
    { name: 'a not allowed topic in Last-Event-ID', headers: leid([{ topic: restrictedOther, partition: 0, offset: 0 }]), status: 404, code: 'KSSE_TOPIC_NOT_ALLOWED' },
    { name: 'an internal topic', path: '/v1/stream/__consumer_offsets', status: 404, code: 'KSSE_TOPIC_NOT_ALLOWED' },
  ], t);
});

test('Kafka internal topics are never streamed by an open server: 404 like a topic not allowed', async (t) => {
  await refuses(open, [
    { name: '__consumer_offsets', path: '/v1/stream/__consumer_offsets?since=0', status: 404, code: 'KSSE_TOPIC_NOT_ALLOWED' },
    { name: '__transaction_state', path: '/v1/stream/__transaction_state', status: 404, code: 'KSSE_TOPIC_NOT_ALLOWED' },
    { name: '__consumer_offsets in Last-Event-ID', headers: leid([{ topic: '__consumer_offsets', partition: 0, offset: 0 }]), status: 404, code: 'KSSE_TOPIC_NOT_ALLOWED' },
  ], t);
  // … unless the operator lists one explicitly.
  const operator = await startServer({ allowedTopics: ['__consumer_offsets'] });
  const res = await fetch(`${operator.url}/v1/stream/__consumer_offsets`, { method: 'HEAD' });
  assert.equal(res.status, 200);
});

test('topics that do not exist: 404 KSSE_TOPIC_NOT_FOUND, and they are never created (auto.create.topics.enable is on)', async (t) => {
  const stamp = Date.now().toString(36);
  const ghosts = [`ghost-path-${stamp}`, `ghost-multi-${stamp}`, `ghost-leid-${stamp}`, `ghost-since-${stamp}`, `ghost-head-${stamp}`];
  await refuses(open, [
    { name: 'in the path', path: `/v1/stream/${ghosts[0]}`, status: 404, code: 'KSSE_TOPIC_NOT_FOUND' },
    { name: 'next to an existing topic', path: `/v1/stream/${topic},${ghosts[1]}`, status: 404, code: 'KSSE_TOPIC_NOT_FOUND' },
    { name: 'in Last-Event-ID', headers: leid([{ topic: ghosts[2], partition: 0, offset: 0 }]), status: 404, code: 'KSSE_TOPIC_NOT_FOUND' },
    { name: 'with ?since=', path: `/v1/stream/${ghosts[3]}?since=0`, status: 404, code: 'KSSE_TOPIC_NOT_FOUND' },
  ], t);
  await (await fetch(`${open.url}/v1/stream/${ghosts[4]}`, { method: 'HEAD' })).body?.cancel();
  // Asked again after a pause, in case the broker created one asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const topics = await (await fixtureKafka().admin).listTopics();
  for (const ghost of ghosts) assert.ok(!topics.includes(ghost), `${ghost} was created`);
});

test('?since= that is not a date: 400 KSSE_INVALID_TIMESTAMP', async (t) => {
  const sinces = ['yesterday', '', '-1', '1e3', '12.5', '2024-02-30', '2024-13-01T00:00:00Z', '99999999999999999999', 'NaN', `${'9'.repeat(70)}`];
  await refuses(
    open,
    sinces.map((since) => ({ name: `since=${since.slice(0, 30) || '(empty)'}`, path: `/v1/stream/${topic}?since=${encodeURIComponent(since)}`, status: 400, code: 'KSSE_INVALID_TIMESTAMP' })),
    t,
  );
});

test('unknown query parameters are ignored: the stream works', async () => {
  const stream = await openStream(`${open.url}/v1/stream/${topic}?utm_source=x&foo=&bar=%00&since_=1&SINCE=bad&${'p'.repeat(100)}=1&a[b]=c`, leid(entry({})));
  assert.equal(stream.status, 200);
  await stream.until((text) => messageOffsets(text).includes('0:0'));
  stream.close();
});

test('methods other than GET and HEAD: 405 with Allow, even CONNECT and TRACE; unknown methods 400', async (t) => {
  const methods = ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND'];
  await refuses(open, methods.map((method) => ({ name: method, method, status: 405, code: 'KSSE_METHOD_NOT_ALLOWED' })), t);
  await refuses(open, [
    { name: 'CONNECT', raw: 'CONNECT 127.0.0.1:9092 HTTP/1.1\r\nHost: 127.0.0.1:9092', status: 405, code: 'KSSE_METHOD_NOT_ALLOWED' },
    { name: 'a method Node does not know', raw: `BREW /v1/stream/${topic} HTTP/1.1\r\nHost: x`, status: 400, code: 'KSSE_BAD_REQUEST' },
    { name: 'not HTTP at all', raw: 'hello there', status: 400, code: 'KSSE_BAD_REQUEST' },
    { name: 'HTTP/1.1 without Host', raw: `GET /v1/stream/${topic} HTTP/1.1`, status: 400, code: 'KSSE_BAD_REQUEST' },
  ], t);
  // A HEAD has no body, but its status and type match what the GET would answer.
  const head = await get(open.port, '/v1/stream/a%20b', {}, 'HEAD');
  assert.equal(head.status, 400);
  assert.match(head.headers['content-type'] ?? '', /^application\/json/);
  const post = await get(open.port, `/v1/stream/${topic}`, {}, 'POST');
  assert.equal(post.headers.allow, 'GET, HEAD');
  const connectRes = await rawRequest(open.port, 'CONNECT 127.0.0.1:9092 HTTP/1.1\r\nHost: 127.0.0.1:9092');
  assert.equal(connectRes.headers.allow, 'GET, HEAD');
});

test('over-long request targets: 414 up to the HTTP parser limit, 431 beyond it; both JSON', async (t) => {
  await refuses(open, [
    { name: '9 KiB topic list', path: `/v1/stream/${'a'.repeat(9 * 1024)}`, status: 414, code: 'KSSE_URI_TOO_LONG' },
    { name: '9 KiB query string', path: `/v1/stream/${topic}?q=${'x'.repeat(9 * 1024)}`, status: 414, code: 'KSSE_URI_TOO_LONG' },
    { name: '9 KiB unknown path', path: `/${'z'.repeat(9 * 1024)}`, status: 414, code: 'KSSE_URI_TOO_LONG' },
    { name: '20 KiB path (Node answers first)', path: `/v1/stream/${'a'.repeat(20 * 1024)}`, status: 431, code: 'KSSE_HEADER_TOO_LARGE' },
  ], t);
});

test('a client that sends its headers too slowly (slowloris) gets a JSON 408', async () => {
  const slow = await startServer({ headersTimeoutMs: 500 });
  const started = Date.now();
  const res = await new Promise<RawResponse>((resolve, reject) => {
    const socket = connect(slow.port, '127.0.0.1', () => socket.write(`GET /v1/stream/${topic} HTTP/1.1\r\nHost: x\r\n`));
    // One header byte every 100 ms: never finishing, always busy.
    const drip = setInterval(() => socket.write('X'), 100);
    let text = '';
    const timer = setTimeout(() => {
      clearInterval(drip);
      socket.destroy();
      reject(new Error(`still open after 5 s: ${text}`));
    }, 5000);
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(drip);
      clearTimeout(timer);
      const split = text.indexOf('\r\n\r\n');
      const headers: Record<string, string> = {};
      for (const line of text.slice(0, split).split('\r\n').slice(1)) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status: Number(text.split(' ')[1]), headers, body: text.slice(split + 4) });
    });
  });
  assertJsonError(res, 408, 'KSSE_REQUEST_TIMEOUT', 'slow headers');
  assert.ok(Date.now() - started < 3000, `cut after ${Date.now() - started} ms`);
  assertQuietLogs(slow.logs, 0, 'slowloris');
  await assertStillServes(slow, 'a slow client');
});

test('after every case above: nothing was logged above warn and no prototype was polluted', () => {
  assertQuietLogs(open.logs, 0, 'the whole file (open server)');
  assertQuietLogs(restricted.logs, 0, 'the whole file (restricted server)');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), objectPrototypeKeys);
  // The refusals were logged (at warn or below), so an operator can still see them.
  assert.ok(open.logs.some((l) => l.msg === 'request refused' && l.level === 40));
});
