// The ready-made server behind `kafka-sse serve`: node:http routing around the library's public API,
// used exactly as any application would use it (one shared kafkajs instance, one options object).
import { existsSync, readFileSync } from 'node:fs';
import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs';
import { pino, type Logger as PinoLogger } from 'pino';
import type { Registry } from 'prom-client';
import {
  HeaderTooLargeError,
  KafkaSseError,
  KafkaUnavailableError,
  TopicNotAllowedError,
  closeSharedClient,
  createKafkaSse,
  negotiateEncoding,
  parseAssignments,
  parseLastEventId,
  parseTimestamp,
  sharedClient,
  sendRefusal,
  kafkajsLogCreator,
  streamFormat,
  isTransientRefusal,
  toClientError,
  urlFilter,
  type Filterer,
  type KafkaSseOptions,
  type RequestLike,
} from '../index.js'; // a user's server would import from 'kafka-eventsource'
import { jwtAuthorizer, readableTopics } from './auth.js';
import type { ServeConfig } from './config.js';
import {
  BadRequestError,
  MethodNotAllowedError,
  RequestTimeoutError,
  RouteNotFoundError,
  ServerClosingError,
  UriTooLongError,
} from './errors.js';
import { logDestination } from './logDestination.js';
import { createMetricsServer, createServerMetrics } from './metrics.js';
import { StreamRegistry, settlesWithin } from './streams.js';

/** Settings of `createKafkaSseServer`: the CLI's, all optional, plus hooks for programmatic use. */
export interface KafkaSseServerOptions extends Partial<ServeConfig> {
  /** A pino logger to use instead of one made at `logLevel` on stdout. */
  logger?: PinoLogger;
  /** The reconnection delay suggested to clients (`retry:`), in ms (library default 2,000). */
  retryMs?: number;
  /** Who may read which topics (the library's `authorize` option); replaces the JWT settings. */
  authorize?: KafkaSseOptions['authorize'];
  /** Called when a stream ends, after the server's own bookkeeping. */
  onStreamEnd?: KafkaSseOptions['onStreamEnd'];
  /** Called when a stream request is refused by the library. */
  onRequestError?: KafkaSseOptions['onRequestError'];
  /** Longest time `close()` waits for open streams to finish before cutting connections (ms, default 3,000). */
  shutdownGraceMs?: number;
  /** Longest time `/healthz` waits for Kafka (ms, default 2,000). */
  healthTimeoutMs?: number;
  /** Longest time a client may take to send its request headers (ms, default 10,000); then 408. */
  headersTimeoutMs?: number;
}

export interface KafkaSseServer {
  readonly server: Server;
  /** The shared kafkajs instance every stream reads through. */
  readonly kafka: Kafka;
  readonly logger: PinoLogger;
  /** Streams open right now. */
  readonly openStreams: number;
  /** Cohorts running now, and the streams in them (docs/decisions/011-cohort-fan-out.md). */
  readonly cohorts: { cohorts: number; members: number };
  /** The Prometheus registry behind `/metrics`. */
  readonly metrics: Registry;
  /** The listener of `GET /metrics`, with `metricsPort` only: never the public port. */
  readonly metricsServer: Server | undefined;
  /**
   * Starts listening (and the metrics listener, with `metricsPort`); resolves with the addresses (port 0
   * picks a free port).
   */
  listen(): Promise<{ url: string; port: number; host: string; metricsUrl?: string }>;
  /**
   * Graceful shutdown: stops accepting, ends every stream cleanly (clients resume elsewhere from their
   * `Last-Event-ID`), closes Kafka connections. Resolves true if everything finished within the grace time.
   */
  close(): Promise<boolean>;
}

/** Longest request target accepted (bytes); longer ones get 414. */
export const MAX_URL_BYTES = 8 * 1024;
const DEFAULT_PORT = 6917;
// Next to this module (src/server/public, or dist/server/public once the build has copied it), else the
// sources' copy when running from a build that did not copy it.
const PUBLIC_DIRS = [new URL('./public/', import.meta.url), new URL('../../src/server/public/', import.meta.url)];

/** The demo page's files, read once at start-up. */
const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/demo.js': { file: 'demo.js', type: 'text/javascript; charset=utf-8' },
  '/demo.css': { file: 'demo.css', type: 'text/css; charset=utf-8' },
};

function loadStatic(): Map<string, { body: Buffer; type: string }> {
  const dir = PUBLIC_DIRS.find((d) => existsSync(new URL('index.html', d)));
  if (!dir) throw new Error(`The demo page is missing: looked in ${PUBLIC_DIRS.map((d) => fileURLToPath(d)).join(' and ')}`);
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(STATIC_FILES)) files.set(path, { body: readFileSync(new URL(file, dir)), type });
  return files;
}


/**
 * The kafkajs instance the server shares across streams. Retries are few and connection timeouts short,
 * so a broker that is down yields a quick 503 instead of a request hanging for half a minute.
 */
export function serverKafka(brokers: string[], logger: PinoLogger): Kafka {
  return new Kafka({
    clientId: 'kafka-sse-server',
    brokers,
    logLevel: kafkaLogLevel.ERROR,
    logCreator: kafkajsLogCreator(logger),
    connectionTimeout: 1000,
    requestTimeout: 10_000,
    retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-cache',
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, error: KafkaSseError, headers: Record<string, string> = {}): void {
  const retryAfter = error.details.retryAfterSeconds;
  sendJson(res, error.status, error, { ...(typeof retryAfter === 'number' ? { 'retry-after': String(retryAfter) } : {}), ...headers });
}

/** The raw HTTP answer for requests Node's parser rejected (or took over) before any handler ran. */
function rawErrorResponse(error: KafkaSseError, headers: Record<string, string> = {}): string {
  const body = JSON.stringify(error);
  return (
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('') +
    'Connection: close\r\n\r\n' +
    body
  );
}

/**
 * Kafka's internal topics (`__consumer_offsets`, `__transaction_state`, …) hold other clients' state and
 * are never streamed unless `--allowed-topics` names them. Runs as part of the library's `authorize`
 * hook, so it covers the topics named in `Last-Event-ID` too, before anything touches Kafka.
 */
function guardInternalTopics(
  allowedTopics: string[] | undefined,
  authorize: KafkaSseOptions['authorize'],
): NonNullable<KafkaSseOptions['authorize']> {
  return (req, topics) => {
    const internal = topics.find((t) => t.startsWith('__') && !allowedTopics?.includes(t));
    // The same answer as a topic outside --allowed-topics, so nothing tells the client the topic exists.
    if (internal !== undefined) throw new TopicNotAllowedError(`Topic ${internal} is not available for streaming`, { topic: internal });
    return authorize ? authorize(req, topics) : true;
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KafkaUnavailableError(`${what} did not answer within ${ms} ms`)), ms);
  });
  promise.catch(() => {}); // the loser of the race must not become an unhandled rejection
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Route {
  /** Methods the route answers (HEAD is added wherever GET is). */
  methods: string[];
  handle(req: IncomingMessage, res: ServerResponse, match: RegExpExecArray, query: URLSearchParams): void | Promise<void>;
}

/** Creates the server; nothing listens or connects until `listen()` and the first request. */
export function createKafkaSseServer(options: KafkaSseServerOptions = {}): KafkaSseServer {
  // Lines to a stdout nobody reads are dropped and counted, never waited for (logDestination.ts).
  const logs = options.logger ? undefined : logDestination();
  const logger = options.logger ?? pino({ name: 'kafka-sse', level: options.logLevel ?? 'info' }, logs);
  const kafka = serverKafka(options.brokers ?? ['localhost:9092'], logger);
  const client = sharedClient(kafka);
  const registry = new StreamRegistry();
  const staticFiles = options.demo ? loadStatic() : new Map<string, { body: Buffer; type: string }>();
  const healthTimeoutMs = options.healthTimeoutMs ?? 2000;
  const metrics = createServerMetrics({ logLinesDropped: () => logs?.droppedLines ?? 0, cohorts: () => streams.cohorts });
  const authorize =
    options.authorize ??
    (options.jwtSecret || options.jwksUrl
      ? jwtAuthorizer({
          ...(options.jwtSecret ? { secret: options.jwtSecret } : {}),
          ...(options.jwksUrl ? { jwksUrl: options.jwksUrl } : {}),
          ...(options.jwtIssuer ? { issuer: options.jwtIssuer } : {}),
          ...(options.jwtAudience ? { audience: options.jwtAudience } : {}),
          ...(options.jwtTopicsClaim ? { topicsClaim: options.jwtTopicsClaim } : {}),
        })
      : undefined);
  let closing: Promise<boolean> | undefined;
  // Aborted by close(): every running stream ends cleanly, and its close line says `server closing`.
  const shutdown = new AbortController();

  // The filter of the request a stream serves (`?key=`, `?header.…=`, `?match.…=`), parsed (and refused
  // with a 400) by the route, and handed to the library through `requestFilter`.
  const urlFilters = new WeakMap<RequestLike, Filterer>();

  // One options object for the whole server: connection limits are counted per options object.
  const streamOptions: KafkaSseOptions = {
    kafka,
    logger,
    signal: shutdown.signal,
    ...(options.allowedTopics ? { allowedTopics: options.allowedTopics } : {}),
    useTimestampForId: options.timestampIds === true,
    heartbeatMs: Math.round((options.heartbeatSeconds ?? 15) * 1000),
    ...(options.compress ? { compress: true } : {}),
    ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.maxConnectionsPerClient !== undefined ? { maxConnectionsPerClient: options.maxConnectionsPerClient } : {}),
    ...(options.maxLifetimeSeconds ? { maxLifetimeMs: Math.round(options.maxLifetimeSeconds * 1000) } : {}),
    ...(options.tombstones ? { tombstones: options.tombstones } : {}),
    cohorts: options.fanout !== 'naive',
    authorize: guardInternalTopics(options.allowedTopics, authorize),
    requestFilter: (req) => urlFilters.get(req),
    kafkaEventHandlers: metrics.hooks.kafkaEventHandlers,
    onProgress: metrics.hooks.onProgress,
    onStreamEnd(summary) {
      metrics.hooks.onStreamEnd(summary);
      options.onStreamEnd?.(summary);
    },
    onRequestError(error, req) {
      metrics.hooks.onRequestError(error, req);
      options.onRequestError?.(error, req);
    },
    connectErrorHandler(error, req, res) {
      if (error.status === 401 && !res.headersSent) res.setHeader('www-authenticate', 'Bearer');
      sendRefusal(req, res, error, options.retryMs);
    },
  };

  // One handle for the whole server: its limits count every stream, and its cohorts are shared by all.
  const streams = createKafkaSse(streamOptions);

  const stream: Route = {
    methods: ['GET'],
    async handle(req, res, match, query) {
      let topics: string;
      try {
        topics = decodeURIComponent(match[1]!);
      } catch {
        throw new BadRequestError('The topic list in the path is not valid percent-encoding');
      }
      const since = query.get('since');
      const atTimestamp = since === null ? undefined : parseTimestamp(since);
      const clientId = query.get('client')?.slice(0, 64) ?? undefined;
      // A malformed filter is a 400 before anything else happens (HEAD included).
      const filterer = urlFilter(query);
      const lastEventId = req.headers['last-event-id'];
      logger.debug(
        {
          topics,
          since: since ?? undefined,
          clientId,
          clientAddress: req.socket.remoteAddress,
          lastEventId: typeof lastEventId === 'string' ? lastEventId.slice(0, 512) : undefined,
        },
        'stream requested',
      );
      if (req.method === 'HEAD') {
        // A HEAD must not hold a Kafka stream open for a body nobody reads: answer the headers only, after
        // the checks that need no Kafka (a malformed request gets the same 400 as its GET would).
        if (typeof lastEventId === 'string') parseLastEventId(lastEventId);
        else parseAssignments(topics);
        const ndjson = streamFormat(req) === 'ndjson';
        const encoding = negotiateEncoding(req, options.compress);
        res.writeHead(200, {
          'content-type': ndjson ? 'application/json; charset=utf-8' : 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          // The coding the GET would get (RFC 9110 §9.3.2: a HEAD's headers are its GET's).
          ...(options.compress ? { vary: 'Accept-Encoding' } : {}),
          ...(encoding ? { 'content-encoding': encoding } : {}),
        });
        res.end();
        return;
      }
      if (filterer) urlFilters.set(req, filterer);
      const done = streams.handle(req, res, topics, atTimestamp);
      // Not awaited: the handle never rejects, and the registry follows the stream to its end. A frame
      // suspended here (and one in the router) for a stream's whole life would cost every stream ~1 KiB.
      registry.track({ res, clientId, clientAddress: req.socket.remoteAddress, done });
    },
  };

  const topicsRoute: Route = {
    methods: ['GET'],
    async handle(req, res) {
      const list = options.allowedTopics
        ? await withTimeout(
            client.connect().then(() => client.topicPartitions(options.allowedTopics!)),
            healthTimeoutMs * 5,
            'Kafka',
          ).then((found) => [...found].map(([topic, partitions]) => ({ topic, partitions })).sort((a, b) => a.topic.localeCompare(b.topic)))
        : await withTimeout(client.connect().then(() => client.listTopics()), healthTimeoutMs * 5, 'Kafka');
      // With authorization on, a client sees only the topics its credentials let it read.
      sendJson(res, 200, { topics: authorize ? await readableTopics(authorize, req, list) : list });
    },
  };

  const healthz: Route = {
    methods: ['GET'],
    async handle(_req, res) {
      try {
        await withTimeout(client.connect().then(() => client.listTopics()), healthTimeoutMs, 'Kafka');
        sendJson(res, 200, { status: 'ok' });
      } catch (err) {
        const error = toClientError(err);
        const unavailable = error instanceof KafkaUnavailableError ? error : new KafkaUnavailableError('Kafka did not answer');
        logger.warn({ reason: unavailable.message }, 'health check failed');
        sendJson(res, 503, { ...unavailable.toJSON(), reason: unavailable.message });
      }
    },
  };

  const staticRoute: Route = {
    methods: ['GET'],
    handle(_req, res, match) {
      const file = staticFiles.get(match[0])!;
      res.writeHead(200, {
        'content-type': file.type,
        'content-length': file.body.length,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        // The page loads only its own script and style and talks only to this server.
        'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
      });
      res.end(file.body);
    },
  };

  const drop: Route = {
    methods: ['POST'],
    handle(req, res, _match, query) {
      const clientId = query.get('client') ?? undefined;
      const victims = registry.ofClient(clientId, req.socket.remoteAddress);
      // Cut the TCP connection, as a crashing instance or a flaky network would: no clean end of stream.
      for (const { res: victim } of victims) victim.socket?.destroy();
      logger.info({ clientId, dropped: victims.length }, 'demo: dropped streams on request');
      sendJson(res, 200, { dropped: victims.length });
    },
  };

  const routes: Array<[RegExp, Route]> = [
    [/^\/v1\/stream\/([^/]*)$/, stream],
    [/^\/v1\/topics$/, topicsRoute],
    [/^\/healthz$/, healthz],
    // What only operators need stays off the public port: the demo with --demo, metrics on their own listener.
    ...(options.demo
      ? ([
          [/^\/(?:demo\.js|demo\.css)?$/, staticRoute],
          [/^\/demo\/drop$/, drop],
        ] as Array<[RegExp, Route]>)
      : []),
  ];

  function corsHeaders(res: ServerResponse): void {
    if (!options.corsOrigin) return;
    res.setHeader('access-control-allow-origin', options.corsOrigin);
    if (options.corsOrigin === '*') return;
    res.setHeader('vary', 'Origin');
    // One named origin may send credentials (the token cookie with `withCredentials`); `*` never can.
    res.setHeader('access-control-allow-credentials', 'true');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    // Node's own check would answer an empty 400; this one answers in the JSON error format.
    if (req.httpVersion === '1.1' && req.headers.host === undefined) throw new BadRequestError('HTTP/1.1 requests need a Host header');
    if (Buffer.byteLength(target) > MAX_URL_BYTES) throw new UriTooLongError(`Request targets are limited to ${MAX_URL_BYTES} bytes`, { limit: MAX_URL_BYTES });
    if (closing) {
      res.setHeader('connection', 'close');
      throw new ServerClosingError('The server is shutting down; try again shortly', { retryAfterSeconds: 1 });
    }
    const queryAt = target.indexOf('?');
    const path = queryAt === -1 ? target : target.slice(0, queryAt);
    const query = new URLSearchParams(queryAt === -1 ? '' : target.slice(queryAt + 1));
    for (const [pattern, route] of routes) {
      const match = pattern.exec(path);
      if (!match) continue;
      const allowed = route.methods.includes('GET') ? [...route.methods, 'HEAD'] : route.methods;
      const method = req.method ?? 'GET';
      if (method === 'OPTIONS' && options.corsOrigin) {
        // CORS preflight, e.g. a fetch-based client sending Last-Event-ID or Authorization itself.
        res.writeHead(204, {
          'access-control-allow-methods': allowed.join(', '),
          'access-control-allow-headers': 'Last-Event-ID, Accept, Authorization, Content-Type',
          'access-control-max-age': '600',
        });
        res.end();
        return;
      }
      if (!allowed.includes(method)) {
        throw new MethodNotAllowedError(`${method} is not allowed here; use ${allowed.join(' or ')}`, { allow: allowed });
      }
      await route.handle(req, res, match, query);
      return;
    }
    throw new RouteNotFoundError(`No route for ${path.slice(0, 200)}; streams are at /v1/stream/:topics`);
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    corsHeaders(res);
    handle(req, res).catch((err: unknown) => {
      const error = toClientError(err);
      metrics.hooks.onRequestError(error, req);
      if (error.status >= 500 && error.status !== 503) logger.error({ err }, 'request failed');
      // The path only: the query may carry an access token.
      else logger.debug({ code: error.code, method: req.method, path: req.url?.split('?')[0]?.slice(0, 200) }, 'request refused');
      if (res.headersSent) {
        res.end();
        return;
      }
      if (isTransientRefusal(error)) {
        // A server closing, say: an EventSource is told to come back instead of giving up.
        sendRefusal(req, res, error, options.retryMs);
        return;
      }
      const extra: Record<string, string> =
        error instanceof MethodNotAllowedError
          ? { allow: (error.details.allow as string[]).join(', ') }
          : error.status === 401
            ? { 'www-authenticate': 'Bearer' }
            : {};
      sendError(res, error, extra);
    });
  }

  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const server = createServer(
    {
      requireHostHeader: false, // checked in handle(), to answer in JSON
      // Slow clients (slowloris) get 408 once their headers take longer than this; Node checks every
      // `connectionsCheckingInterval` (default 30 s, far coarser than the limit).
      headersTimeout,
      connectionsCheckingInterval: Math.min(1000, headersTimeout),
    },
    onRequest,
  );
  // Requests Node's HTTP parser rejects (headers too large, too slow, garbage) get the same JSON error format.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const error =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? new HeaderTooLargeError('The request headers are too large')
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? new RequestTimeoutError(`The request headers did not arrive within ${headersTimeout} ms`)
          : new BadRequestError('The request is not valid HTTP/1.1');
    metrics.hooks.onRequestError(error, { headers: {}, socket });
    logger.debug({ code: err.code }, 'malformed request');
    socket.end(rawErrorResponse(error));
  });
  // CONNECT (a proxy tunnel) never reaches the request handler; without this Node drops the connection
  // with no answer at all.
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    const error = new MethodNotAllowedError('CONNECT is not allowed here; use GET or HEAD', { allow: ['GET', 'HEAD'] });
    metrics.hooks.onRequestError(error, req);
    logger.debug({ code: error.code, method: req.method }, 'request refused');
    socket.end(rawErrorResponse(error, { Allow: 'GET, HEAD' }));
  });

  const metricsServer = options.metricsPort === undefined ? undefined : createMetricsServer(metrics);

  async function close(): Promise<boolean> {
    closing ??= (async () => {
      const started = Date.now();
      const graceMs = options.shutdownGraceMs ?? 3000;
      logger.info({ openStreams: registry.size }, 'shutting down: ending every stream');
      shutdown.abort();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      const streamsEnded = await registry.endAll(graceMs);
      server.closeIdleConnections();
      const idle = await settlesWithin(serverClosed, Math.max(0, graceMs - (Date.now() - started)));
      if (!idle) server.closeAllConnections();
      await settlesWithin(closeSharedClient(kafka), 1000);
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      logger.info({ ms: Date.now() - started, clean: streamsEnded && idle }, 'shut down');
      return streamsEnded && idle;
    })();
    return closing;
  }

  return {
    server,
    kafka,
    logger,
    get openStreams() {
      return registry.size;
    },
    get cohorts() {
      return streams.cohorts;
    },
    metrics: metrics.registry,
    metricsServer,
    async listen() {
      const host = options.host ?? 'localhost';
      const { port, address } = await listenOn(server, options.port ?? DEFAULT_PORT, host);
      const url = urlOf(host, port);
      const metricsHost = options.metricsHost ?? 'localhost';
      const metricsUrl = metricsServer && `${urlOf(metricsHost, (await listenOn(metricsServer, options.metricsPort!, metricsHost)).port)}metrics`;
      logger.info(
        { url, address, port, ...(metricsUrl ? { metricsUrl } : {}), brokers: options.brokers ?? ['localhost:9092'], demo: options.demo === true },
        'listening',
      );
      return { url, port, host: address, ...(metricsUrl ? { metricsUrl } : {}) };
    },
    close,
  };
}

function listenOn(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** The URL to show for a listener: a wildcard address is shown as localhost. */
function urlOf(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
}
