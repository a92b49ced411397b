// Filters in the stream URL (`?key=`, `?header.<name>=`, `?match.<path>=`) through the CLI server on the
// real broker: what each keeps, that dropped records still move the ids, and what a bad filter gets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { produce } from '../helpers/kafka.js';
import { createTopics, messageOffsets, openStream, parseSse, startCli } from '../e2e/helpers/cliProcess.js';

const [topic, resumeTopic] = (await createTopics([
  { prefix: 'url-filter', partitions: 1 },
  { prefix: 'url-filter-resume', partitions: 1 },
])) as [string, string];
const server = await startCli(['--heartbeat', '0']);

const fixture = [
  { key: 'k1', headers: { src: 'web' }, value: { meta: { domain: 'en.wikipedia.org' }, n: 1 } },
  { key: 'k2', headers: { src: 'app' }, value: { meta: { domain: 'de.wikipedia.org' }, n: 2 } },
  { key: 'k1', headers: { src: 'app' }, value: { meta: { domain: 'en.wikipedia.org' }, n: 3 } },
  { key: 'k3', headers: { src: 'web' }, value: { meta: { domain: 'fr.wikipedia.org' }, n: 4 } },
  { key: 'k2', headers: { src: 'web' }, value: { meta: { domain: 'en.wikipedia.org' }, n: '5' } },
  { key: 'k3', headers: { src: 'app' }, value: { meta: { domain: 'de.wikipedia.org' }, n: 6 } },
];
await produce(topic, fixture.map((r) => ({ partition: 0, ...r })));
const FROM_START = JSON.stringify([{ topic, partition: 0, offset: 0 }]);

/** The offset the last `id:` of `text` resumes partition 0 from. */
function lastIdOffset(text: string): number | undefined {
  const id = parseSse(text).filter((b) => b.id !== undefined).at(-1)?.id;
  return id === undefined ? undefined : (JSON.parse(id) as Array<{ offset: number }>)[0]!.offset;
}

/** The offsets a filtered stream from offset 0 sends, once its ids have passed the whole fixture. */
async function offsetsFor(query: string): Promise<string[]> {
  const stream = await openStream(`${server.url}/v1/stream/${topic}?${query}`, { 'Last-Event-ID': FROM_START });
  assert.equal(stream.status, 200, `${query}: ${stream.text()}`);
  const text = await stream.until((t) => lastIdOffset(t) === fixture.length);
  stream.close();
  return messageOffsets(text);
}

test('?key= keeps the records with that key', async () => {
  assert.deepEqual(await offsetsFor('key=k1'), ['0:0', '0:2']);
});

test('?header.<name>= keeps the records with that header value', async () => {
  assert.deepEqual(await offsetsFor('header.src=web'), ['0:0', '0:3', '0:4']);
});

test('?match.<path>= keeps the records whose nested field has that value, as text', async () => {
  assert.deepEqual(await offsetsFor('match.meta.domain=en.wikipedia.org'), ['0:0', '0:2', '0:4']);
  assert.deepEqual(await offsetsFor('match.n=5'), ['0:4'], 'the string "5" matches 5');
  assert.deepEqual(await offsetsFor('match.n=6'), ['0:5']);
});

test('a repeated parameter is OR, different parameters AND; other parameters are ignored', async () => {
  assert.deepEqual(
    await offsetsFor('match.meta.domain=en.wikipedia.org&match.meta.domain=de.wikipedia.org&header.src=app&client=c1&foo=bar'),
    ['0:1', '0:2', '0:5'],
  );
});

test('two streams on one server each get their own filter', async () => {
  const [a, b] = await Promise.all([offsetsFor('key=k2'), offsetsFor('key=k3')]);
  assert.deepEqual(a, ['0:1', '0:4']);
  assert.deepEqual(b, ['0:3', '0:5']);
});

test('dropped records still move the id: a reconnect with the last id repeats nothing', async () => {
  await produce(resumeTopic, [{ partition: 0, key: 'mine', value: { n: 0 } }]);
  const url = `${server.url}/v1/stream/${resumeTopic}?key=mine`;
  const first = await openStream(url, { 'Last-Event-ID': JSON.stringify([{ topic: resumeTopic, partition: 0, offset: 0 }]) });
  await first.until((t) => messageOffsets(t).length === 1);
  // Produced once the stream has caught up, so they come in fetches of their own, where every record is
  // dropped: the id still moves past them (a position block).
  await produce(resumeTopic, [
    { partition: 0, key: 'other', value: { n: 1 } },
    { partition: 0, key: 'other', value: { n: 2 } },
  ]);
  const text = await first.until((t) => lastIdOffset(t) === 3);
  first.close();
  assert.deepEqual(messageOffsets(text), ['0:0']);
  const lastId = parseSse(text).filter((b) => b.id !== undefined).at(-1)!.id!;

  await produce(resumeTopic, [
    { partition: 0, key: 'other', value: { n: 3 } },
    { partition: 0, key: 'mine', value: { n: 4 } },
  ]);
  const again = await openStream(url, { 'Last-Event-ID': lastId });
  const resumed = await again.until((t) => messageOffsets(t).length >= 1 && lastIdOffset(t) === 5);
  again.close();
  assert.deepEqual(messageOffsets(resumed), ['0:4']);
});

test('a malformed filter is a 400 KSSE_INVALID_FILTER saying what is wrong, for GET, HEAD and EventSource', async () => {
  const cases: Array<[string, RegExp]> = [
    ['match.__proto__.polluted=1', /__proto__/],
    ['match.a..b=1', /empty field name/],
    ['header=x', /header\.<name>=/],
    [`key=${'x'.repeat(300)}`, /over 256 bytes/],
    [Array.from({ length: 21 }, (_, i) => `key=${i}`).join('&'), /at most 20 conditions/],
  ];
  for (const [query, says] of cases) {
    for (const headers of [{}, { accept: 'text/event-stream' }] as Array<Record<string, string>>) {
      const res = await fetch(`${server.url}/v1/stream/${topic}?${query}`, { headers });
      assert.equal(res.status, 400, query);
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.code, 'KSSE_INVALID_FILTER');
      assert.equal(body.name, 'InvalidFilterError');
      assert.match(String(body.message), says);
    }
    const head = await fetch(`${server.url}/v1/stream/${topic}?${query}`, { method: 'HEAD' });
    assert.equal(head.status, 400, `HEAD ${query}`);
  }
  // A thousand conditions never reach the filter parser: the URL limit (8 KiB) answers first.
  const many = Array.from({ length: 1000 }, (_, i) => `match.f=${i}`).join('&');
  assert.equal((await fetch(`${server.url}/v1/stream/${topic}?${many}`)).status, 414);
});
