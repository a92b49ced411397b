// A Node client on the `eventsource` package that chooses where it starts, by sending its own first
// Last-Event-ID: chosen offsets, or a time (e.g. an hour ago) that the server resolves to offsets.
// After that the EventSource keeps the id of the last event itself and resumes from it on every reconnect.
//   npx tsx recipes/eventsource-client.ts <url> [--offsets '<json>' | --since-ms-ago <ms> [--partitions <n>]] [--max <n>]
// e.g.
//   npx tsx recipes/eventsource-client.ts http://localhost:6917/v1/stream/demo --offsets '[{"topic":"demo","partition":0,"offset":0}]'
//   npx tsx recipes/eventsource-client.ts http://localhost:6917/v1/stream/demo --since-ms-ago 3600000
// Prints one JSON line per event on stdout: {"id": <the event id, parsed>, "data": <the message>}.
// Connection notes go to stderr. --max <n> exits after n events.
import { parseArgs } from 'node:util';
import { EventSource } from 'eventsource';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    offsets: { type: 'string' },
    'since-ms-ago': { type: 'string' },
    partitions: { type: 'string', default: '1' },
    max: { type: 'string' },
  },
});
const url = positionals[0];
if (!url) {
  console.error("usage: eventsource-client.ts <url> [--offsets '<json>' | --since-ms-ago <ms> [--partitions <n>]] [--max <n>]");
  process.exit(2);
}
const max = values.max === undefined ? Infinity : Number(values.max);

/**
 * The first Last-Event-ID: a JSON array of {topic, partition, offset} or {topic, partition, timestamp},
 * exactly the shape of the ids the server sends. A timestamp must name every partition, so the topics
 * come from the URL's last path segment and the partition count from --partitions.
 */
function firstLastEventId(): string | undefined {
  if (values.offsets !== undefined) return values.offsets;
  if (values['since-ms-ago'] === undefined) return undefined; // no header: the server starts at the end
  const timestamp = Date.now() - Number(values['since-ms-ago']);
  const topics = decodeURIComponent(new URL(url!).pathname.split('/').pop() ?? '').split(',');
  const partitions = Number(values.partitions);
  return JSON.stringify(
    topics.flatMap((topic) => Array.from({ length: partitions }, (_, partition) => ({ topic, partition, timestamp }))),
  );
}

const startAt = firstLastEventId();
const eventSource = new EventSource(url, {
  // The EventSource sets Last-Event-ID itself once it has received an id; until then it sends ours.
  // Its own header comes last so that it wins on reconnects.
  fetch: (input, init) =>
    fetch(input, { ...init, headers: { ...(startAt !== undefined ? { 'Last-Event-ID': startAt } : {}), ...init.headers } }),
});
console.error(`--- connecting to ${url}${startAt ? ` from ${startAt}` : ''}`);

let received = 0;
eventSource.onopen = () => console.error('--- opened SSE connection');
eventSource.onmessage = (event) => {
  // Events already received in the same chunk are still dispatched after close(): ignore them.
  if (received >= max) return;
  // event.data is the JSON of one message; event.lastEventId is where a reconnect would resume.
  console.log(JSON.stringify({ id: JSON.parse(event.lastEventId) as unknown, data: JSON.parse(event.data) as unknown }));
  if (++received >= max) eventSource.close();
};
// 'error' listeners get both kinds of error: the server's own `error` event (a MessageEvent whose data
// is the error as JSON, sent just before the server ends the stream) and connection failures.
eventSource.addEventListener('error', (event: Event) => {
  if (event instanceof MessageEvent) {
    console.error(`--- server error event: ${String(event.data)}`);
  } else if (eventSource.readyState === EventSource.CLOSED) {
    // An HTTP error status before the stream (e.g. 404 for an unknown topic): the EventSource gives up.
    const { code, message } = event as Event & { code?: number; message?: string };
    console.error(`--- SSE connection failed${code ? ` (HTTP ${code})` : ''}: ${message ?? ''}`);
    process.exitCode = 1;
  } else {
    console.error('--- connection lost; reconnecting with Last-Event-ID');
  }
});
