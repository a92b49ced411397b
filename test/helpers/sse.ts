// HTTP-side test helpers: a node:http server mounting kafkaSse on port 0, and event collection with the
// real `eventsource` client.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after } from 'node:test';
import { EventSource } from 'eventsource';
import { Kafka, logLevel } from 'kafkajs';
import { closeSharedClient, kafkaSse, type KafkaSseOptions } from '../../src/index.js';
import { testBrokers } from './kafka.js';

/** One shared kafkajs instance per test file, as a user's server would have; its connections close with the file. */
export function sharedKafka(): Kafka {
  const kafka = new Kafka({ clientId: 'kafka-sse-test-server', brokers: testBrokers(), logLevel: logLevel.NOTHING });
  after(() => closeSharedClient(kafka));
  return kafka;
}

export interface TestServer {
  url: string;
  /** Destroys every open client socket (a server-side cut). */
  cutAll(): void;
  /** Last-Event-ID headers of every request, in order (undefined when absent). */
  lastEventIds: Array<string | undefined>;
  /** Settled kafkaSse promises, one per finished request. */
  finished: number;
  close(): Promise<void>;
}

/**
 * Serves `kafkaSse(req, res, <path without the leading slash>, options(req), ?at)` on 127.0.0.1:0.
 * `?at=<ms>` becomes atTimestamp. Closed automatically when the test file ends.
 */
export async function startServer(
  options: KafkaSseOptions | ((req: IncomingMessage) => KafkaSseOptions),
  assignments?: (req: IncomingMessage) => Parameters<typeof kafkaSse>[2],
): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const state: TestServer = {
    url: '',
    lastEventIds: [],
    finished: 0,
    cutAll: () => {
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      state.cutAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    state.lastEventIds.push(req.headers['last-event-id'] as string | undefined);
    const at = url.searchParams.get('at');
    void kafkaSse(
      req,
      res,
      assignments ? assignments(req) : decodeURIComponent(url.pathname.slice(1)),
      typeof options === 'function' ? options(req) : options,
      at === null ? undefined : Number(at),
    ).then(() => {
      state.finished++;
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  after(() => state.close());
  return state;
}

export interface ReceivedEvent {
  type: string;
  data: string;
  lastEventId: string;
}

export interface CollectOptions {
  /** Sent as the first request's Last-Event-ID. */
  lastEventId?: string;
  /** Resolve once this holds (checked after every event). */
  until: (events: ReceivedEvent[]) => boolean;
  /** Called after every message event, e.g. to cut the connection at chosen points. */
  onEvent?: (event: ReceivedEvent, all: ReceivedEvent[]) => void;
  /** Called when a connection opens: the server has resolved its start positions by then. */
  onOpen?: (opens: number) => void;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/**
 * Connects with the `eventsource` package (which reconnects by itself with Last-Event-ID) and collects
 * message events until `until` holds. Rejects on timeout with what it had.
 */
export function collectEvents(url: string, options: CollectOptions): Promise<{ events: ReceivedEvent[]; source: EventSource; errors: ReceivedEvent[]; opens: number }> {
  const events: ReceivedEvent[] = [];
  const errors: ReceivedEvent[] = [];
  let first = true;
  let opens = 0;
  const es = new EventSource(url, {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      for (const [k, v] of Object.entries(options.headers ?? {})) headers.set(k, v);
      if (first && options.lastEventId !== undefined) headers.set('Last-Event-ID', options.lastEventId);
      first = false;
      return fetch(input, { ...init, headers });
    },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      es.close();
      reject(new Error(`timed out after ${events.length} events (${errors.length} errors): last id ${events.at(-1)?.lastEventId}`));
    }, options.timeoutMs ?? 20_000);
    const done = () => {
      clearTimeout(timer);
      es.close();
      resolve({ events, source: es, errors, opens });
    };
    es.addEventListener('open', () => {
      opens++;
      options.onOpen?.(opens);
    });
    es.addEventListener('message', (e: MessageEvent<string>) => {
      const event = { type: e.type, data: e.data, lastEventId: e.lastEventId };
      events.push(event);
      options.onEvent?.(event, events);
      if (options.until(events)) done();
    });
    es.addEventListener('error', (e: Event & { data?: string }) => {
      if (typeof e.data === 'string') errors.push({ type: 'error', data: e.data, lastEventId: '' });
      if (options.until(events)) done();
    });
    if (options.until(events)) done();
  });
}

/** Reads a raw HTTP response body until `until(text)` holds or the timeout passes; then aborts. */
export async function readRaw(
  url: string,
  init: RequestInit & { until: (text: string) => boolean; timeoutMs?: number },
): Promise<{ status: number; headers: Headers; text: string; ended: boolean }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), init.timeoutMs ?? 10_000);
  const res = await fetch(url, { ...init, signal: abort.signal });
  let text = '';
  let ended = false;
  try {
    const decoder = new TextDecoder();
    let stopped = false;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if (init.until(text)) {
        stopped = true;
        break;
      }
    }
    ended = !stopped;
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return { status: res.status, headers: res.headers, text, ended };
}

/** Parses message data and returns `[partition, offset]` pairs from `_kafka`. */
export function kafkaCoordinates(events: ReceivedEvent[]): Array<[number, number]> {
  return events.map((e) => {
    const { _kafka } = JSON.parse(e.data) as { _kafka: { partition: number; offset: number } };
    return [_kafka.partition, _kafka.offset];
  });
}
