// What a request refused before streaming gets back, by client kind: an EventSource (Accept:
// text/event-stream) must never see a non-200 for a condition that passes; everyone else gets the status.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  KafkaSseError,
  KafkaUnavailableError,
  TooManyClientConnectionsError,
  TooManyConnectionsError,
  TopicNotFoundError,
  UnauthorizedError,
  refusalResponse,
} from '../../src/index.js';

const eventSource = { headers: { accept: 'text/event-stream' } };
const ndjson = { headers: { accept: 'application/json' } };
const curl = { headers: { accept: '*/*' } };

test('a transient refusal of an EventSource is a 200 event stream: retry hint, one error event, no id', () => {
  const answer = refusalResponse(eventSource, new KafkaUnavailableError('Kafka is not reachable; try again shortly', { retryAfterSeconds: 2 }), 500);
  assert.equal(answer.status, 200);
  assert.match(answer.headers['content-type']!, /^text\/event-stream/);
  assert.equal(answer.headers['x-kafka-sse-error'], 'KSSE_KAFKA_UNAVAILABLE');
  assert.match(answer.body, /^retry: 2000\n\n/, 'the larger of retryMs and Retry-After');
  assert.match(answer.body, /\nevent: error\ndata: \{.*"code":"KSSE_KAFKA_UNAVAILABLE".*\}\n\n$/);
  assert.doesNotMatch(answer.body, /^id:/m);
});

test('retryMs wins when it is the larger delay', () => {
  const answer = refusalResponse(eventSource, new TooManyConnectionsError('full', { retryAfterSeconds: 1 }), 7000);
  assert.match(answer.body, /^retry: 7000\n\n/);
});

test('every 503 condition is transient for an EventSource, the server closing included', () => {
  for (const error of [new TooManyConnectionsError('full'), new KafkaSseError('KSSE_SERVER_CLOSING', 503, 'closing') /* the server's own 503 */]) {
    assert.equal(refusalResponse(eventSource, error).status, 200, error.code);
  }
});

test('the per-client limit (429) is transient too: a 200 stream for an EventSource, a 429 with Retry-After for others', () => {
  const error = new TooManyClientConnectionsError('too many from here', { retryAfterSeconds: 5 });
  const browser = refusalResponse(eventSource, error);
  assert.equal(browser.status, 200);
  assert.equal(browser.headers['x-kafka-sse-error'], 'KSSE_TOO_MANY_CLIENT_CONNECTIONS');
  assert.match(browser.body, /^retry: 5000\n\n/);
  const script = refusalResponse(curl, error);
  assert.equal(script.status, 429);
  assert.equal(script.headers['retry-after'], '5');
});

test('clients that did not ask for an event stream get 503 with Retry-After and the JSON body', () => {
  for (const req of [ndjson, curl, { headers: {} }]) {
    const answer = refusalResponse(req, new KafkaUnavailableError('Kafka is not reachable; try again shortly', { retryAfterSeconds: 2 }));
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], '2');
    assert.equal((JSON.parse(answer.body) as { code: string }).code, 'KSSE_KAFKA_UNAVAILABLE');
  }
});

test('permanent refusals keep their status even for an EventSource, so it stops', () => {
  assert.equal(refusalResponse(eventSource, new TopicNotFoundError('no such topic')).status, 404);
  assert.equal(refusalResponse(eventSource, new UnauthorizedError('no token')).status, 401);
});
