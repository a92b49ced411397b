// Smoke tests of every recipe in recipes/: each runs as its own process against the real broker, and
// its real output — SSE events read with the `eventsource` package, or stdout — is checked.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { produce } from '../helpers/kafka.js';
import { createRecipeTopic as createTopic, fromStart, readEvents, runRecipe, startServerRecipe, type ReceivedEvent } from '../helpers/recipes.js';

const HOUR = 3_600_000;

interface DefaultMessage {
  n: number;
  _kafka: { topic: string; partition: number; offset: number; key: string | null };
}

/** Every event's message n and metadata, ordered by topic then offset (order across topics is not defined). */
function byTopicAndOffset(events: ReceivedEvent[]) {
  return events
    .map((e) => e.data as DefaultMessage)
    .map((m) => ({ topic: m._kafka.topic, offset: m._kafka.offset, n: m.n }))
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.offset - b.offset);
}

// The four ways to mount the handler: each must stream two comma-separated topics from a Last-Event-ID.
const servers = [
  { recipe: 'node-http.ts', path: (topics: string) => `/${topics}` },
  { recipe: 'express.ts', path: (topics: string) => `/v1/stream/${topics}` },
  { recipe: 'fastify.ts', path: (topics: string) => `/v1/stream/${topics}` },
  { recipe: 'hono.ts', path: (topics: string) => `/v1/stream/${topics}` },
];

describe('server recipes stream comma-separated topics from the Last-Event-ID', () => {
  for (const { recipe, path } of servers) {
    test(recipe, async () => {
      const server = await startServerRecipe(recipe);
      try {
        const [a, b] = [await createTopic(1, 'recipe-a'), await createTopic(1, 'recipe-b')];
        await produce(a, [0, 1].map((n) => ({ partition: 0, value: { n } })));
        await produce(b, [10, 11].map((n) => ({ partition: 0, value: { n } })));

        const events = await readEvents(`${server.url}${path(`${a},${b}`)}`, fromStart(a, b), 4);

        assert.deepEqual(byTopicAndOffset(events), [
          { topic: a, offset: 0, n: 0 },
          { topic: a, offset: 1, n: 1 },
          { topic: b, offset: 0, n: 10 },
          { topic: b, offset: 1, n: 11 },
        ]);
        // The id after the last event names the next offset of both topics, in Last-Event-ID order.
        assert.deepEqual(events.at(-1)!.id, [
          { topic: a, partition: 0, offset: 2 },
          { topic: b, partition: 0, offset: 2 },
        ]);
      } finally {
        await server.stop();
      }
    });
  }
});

test('custom-deserializer.ts sends its own message: key, header and readable time, no _kafka; tombstones skipped', async () => {
  const server = await startServerRecipe('custom-deserializer.ts');
  try {
    const topic = await createTopic(1, 'recipe-deser');
    const timestamp = Date.UTC(2024, 0, 2, 3, 4, 5);
    await produce(topic, [
      { partition: 0, key: 'order-1', value: { price: 12 }, timestamp, headers: { source: 'checkout' } },
      { partition: 0, key: 'order-1', value: null, timestamp },
      { partition: 0, key: 'order-2', value: { price: 3 }, timestamp },
    ]);

    const events = await readEvents(`${server.url}/v1/stream/${topic}`, fromStart(topic), 2);

    assert.deepEqual(
      events.map((e) => e.data),
      [
        { price: 12, key: 'order-1', source: 'checkout', receivedAt: '2024-01-02T03:04:05.000Z' },
        { price: 3, key: 'order-2', source: null, receivedAt: '2024-01-02T03:04:05.000Z' },
      ],
    );
    assert.deepEqual(
      events.map((e) => e.id[0]!.offset),
      [1, 3],
    );
  } finally {
    await server.stop();
  }
});

test('server-side-filter.ts sends only price >= 10, and its ids move past the records it dropped', async () => {
  const server = await startServerRecipe('server-side-filter.ts');
  try {
    const topic = await createTopic(1, 'recipe-filter');
    const prices = [5, 10, 15, 9.99, 20, 3, 'ten', 50];
    await produce(topic, prices.map((price) => ({ partition: 0, value: { price } })));

    const events = await readEvents(`${server.url}/v1/stream/${topic}`, fromStart(topic), 4);

    assert.deepEqual(
      events.map((e) => (e.data as { price: number }).price),
      [10, 15, 20, 50],
    );
    assert.deepEqual(
      events.map((e) => e.id[0]!.offset),
      [2, 3, 5, 8],
    );
  } finally {
    await server.stop();
  }
});

test('custom-stage.ts projects every message onto id and price', async () => {
  const server = await startServerRecipe('custom-stage.ts');
  try {
    const topic = await createTopic(1, 'recipe-stage');
    await produce(topic, [
      { partition: 0, value: { id: 'a', price: 12, customer: 'secret', items: [1, 2] } },
      { partition: 0, value: { id: 'b', note: 'no price' } },
    ]);

    const events = await readEvents(`${server.url}/v1/stream/${topic}`, fromStart(topic), 2);

    assert.deepEqual(
      events.map((e) => e.data),
      [
        { id: 'a', price: 12 },
        { id: 'b', price: null },
      ],
    );
    assert.deepEqual(
      events.map((e) => e.id),
      [[{ topic, partition: 0, offset: 1 }], [{ topic, partition: 0, offset: 2 }]],
    );
  } finally {
    await server.stop();
  }
});

describe('no-http-pipeline.ts', () => {
  function parseNdjson(stdout: string): DefaultMessage[] {
    return stdout
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as DefaultMessage);
  }

  test('--from-beginning --max 3 prints the first three messages as NDJSON and exits 0', async () => {
    const topic = await createTopic(1, 'recipe-nohttp');
    await produce(topic, [0, 1, 2, 3, 4].map((n) => ({ partition: 0, key: `k${n}`, value: { n } })));

    const { code, stdout, stderr } = await runRecipe('no-http-pipeline.ts', [topic, '--from-beginning', '--max', '3']);

    assert.equal(code, 0, stderr);
    assert.deepEqual(
      parseNdjson(stdout).map((m) => ({ n: m.n, offset: m._kafka.offset, key: m._kafka.key })),
      [
        { n: 0, offset: 0, key: 'k0' },
        { n: 1, offset: 1, key: 'k1' },
        { n: 2, offset: 2, key: 'k2' },
      ],
    );
  });

  test('--since starts at the first record at or after that time', async () => {
    const topic = await createTopic(1, 'recipe-nohttp-since');
    const now = Date.now();
    await produce(topic, [
      { partition: 0, value: { n: 0 }, timestamp: now - 2 * HOUR },
      { partition: 0, value: { n: 1 }, timestamp: now - 2 * HOUR },
      { partition: 0, value: { n: 2 }, timestamp: now - 1000 },
      { partition: 0, value: { n: 3 }, timestamp: now },
    ]);

    const since = new Date(now - HOUR).toISOString();
    const { code, stdout, stderr } = await runRecipe('no-http-pipeline.ts', [topic, '--since', since, '--max', '2']);

    assert.equal(code, 0, stderr);
    assert.deepEqual(
      parseNdjson(stdout).map((m) => m.n),
      [2, 3],
    );
  });

  test('an unknown topic: exit code 1 and the error code on stderr, nothing on stdout', async () => {
    const { code, stdout, stderr } = await runRecipe('no-http-pipeline.ts', [`recipe-missing-${Date.now().toString(36)}`, '--max', '1']);

    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /KSSE_TOPIC_NOT_FOUND/);
  });
});

describe('eventsource-client.ts against node-http.ts', () => {
  function parseLines(stdout: string): Array<{ id: ReceivedEvent['id']; data: DefaultMessage }> {
    return stdout
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as { id: ReceivedEvent['id']; data: DefaultMessage });
  }

  test('--offsets starts at the chosen offset and --max 2 exits after two events', async () => {
    const server = await startServerRecipe('node-http.ts');
    try {
      const topic = await createTopic(1, 'recipe-client');
      await produce(topic, [0, 1, 2, 3].map((n) => ({ partition: 0, value: { n } })));

      const offsets = JSON.stringify([{ topic, partition: 0, offset: 1 }]);
      const { code, stdout, stderr } = await runRecipe('eventsource-client.ts', [`${server.url}/${topic}`, '--offsets', offsets, '--max', '2']);

      assert.equal(code, 0, stderr);
      assert.deepEqual(
        parseLines(stdout).map((e) => ({ n: e.data.n, id: e.id })),
        [
          { n: 1, id: [{ topic, partition: 0, offset: 2 }] },
          { n: 2, id: [{ topic, partition: 0, offset: 3 }] },
        ],
      );
    } finally {
      await server.stop();
    }
  });

  test('--since-ms-ago 3600000 starts at the first record of the last hour, on every partition', async () => {
    const server = await startServerRecipe('node-http.ts');
    try {
      const topic = await createTopic(2, 'recipe-client-since');
      const now = Date.now();
      await produce(topic, [
        { partition: 0, value: { n: 0 }, timestamp: now - 2 * HOUR },
        { partition: 1, value: { n: 1 }, timestamp: now - 2 * HOUR },
        { partition: 0, value: { n: 2 }, timestamp: now - 60_000 },
        { partition: 1, value: { n: 3 }, timestamp: now - 60_000 },
      ]);

      const { code, stdout, stderr } = await runRecipe('eventsource-client.ts', [
        `${server.url}/${topic}`,
        '--since-ms-ago',
        String(HOUR),
        '--partitions',
        '2',
        '--max',
        '2',
      ]);

      assert.equal(code, 0, stderr);
      assert.deepEqual(
        parseLines(stdout)
          .map((e) => e.data.n)
          .sort(),
        [2, 3],
      );
    } finally {
      await server.stop();
    }
  });

  test('an unknown topic: the client reports the HTTP status and exits 1', async () => {
    const server = await startServerRecipe('node-http.ts');
    try {
      const { code, stdout, stderr } = await runRecipe('eventsource-client.ts', [`${server.url}/recipe-missing-${Date.now().toString(36)}`, '--max', '1']);

      assert.equal(code, 1);
      assert.equal(stdout, '');
      assert.match(stderr, /HTTP 404/);
    } finally {
      await server.stop();
    }
  });
});
