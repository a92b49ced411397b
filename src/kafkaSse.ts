// The default handler: parse and validate the request, resolve it against Kafka, then run the default
// pipeline (src/pipeline.ts: consume → defaultStages → streamFraming → sink).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Kafka, KafkaConfig } from 'kafkajs';
import { pipe } from 'it-pipe';
import { v4 as uuidv4 } from 'uuid';
import { ForbiddenError, KafkaSseError, KafkaUnavailableError, TokenExpiredError, TooManyClientConnectionsError, TooManyConnectionsError, toClientError } from './errors.js';
import { KafkaClient, closeSharedClient, sharedClient, type ClientTuning } from './kafka/client.js';
import { silentLogger } from './logger.js';
import { parseAssignments, parseLastEventId, parseTimestamp, type Assignment, type ParseLimits } from './position.js';
import { refuseTopics, resolveStart } from './resolve.js';
import { consume } from './stages/consume.js';
import { defaultStages, streamFraming } from './pipeline.js';
import type { Deserializer } from './stages/deserialize.js';
import type { Filterer } from './stages/filter.js';
import type { StreamCounters } from './stages/meter.js';
import { encodeComment, encodeEvent, encodePosition } from './stages/sseEncode.js';
import { drained, sink } from './stages/sink.js';
import { errorEventText, stageError } from './stages/errorEvent.js';
import { preambleText } from './stages/preamble.js';
import { Fanout, advance, type CohortEvents, type CohortMember, type CohortShape, type Departure } from './fanout/cohort.js';
import { HeartbeatWheel, type Beating } from './fanout/heartbeatWheel.js';
import { compress, negotiateEncoding, type CompressOptions, type StreamEncoding } from './stages/compress.js';
import { webSink } from './stages/webSink.js';
import type { DeserializedRecord, KafkaRecord, Logger, Position, RecordBatch, RequestLike, Stage } from './types.js';

/** The instrumentation events a stream emits, named as kafkajs's consumer events are. */
export type KafkaInstrumentationEventType =
  | 'consumer.connect'
  | 'consumer.fetch_start'
  | 'consumer.fetch'
  | 'consumer.start_batch_process'
  | 'consumer.end_batch_process'
  | 'consumer.crash'
  | 'consumer.disconnect';

/** A kafkajs-style instrumentation event. */
export interface KafkaInstrumentationEvent {
  id: number;
  type: KafkaInstrumentationEventType;
  timestamp: number;
  payload: Record<string, unknown>;
}

export interface KafkaSseOptions extends ParseLimits {
  /** kafkajs config for a client made per connection (client id `KafkaSSE-<connection id>`). */
  kafkaConfig?: KafkaConfig;
  /** A kafkajs instance shared by every stream of the process (recommended): one set of broker connections. */
  kafka?: Kafka;
  /** Only these topics may be streamed; others get 404. */
  allowedTopics?: string[];
  /** Turns a record into `record.message` (default: UTF-8 JSON plus `_kafka` metadata). */
  deserializer?: Deserializer;
  /** Returns true to send a deserialized record. */
  filterer?: Filterer;
  /**
   * A filter for one request, after `filterer` (for example from its URL:
   * `(req) => urlFilter(new URL(req.url ?? '/', 'http://localhost').searchParams)`). Called once per request,
   * before anything touches Kafka; throwing a KafkaSseError (such as `InvalidFilterError`) refuses the
   * request with its status. Give the filterer a `cohortKey` (urlFilter does) so streams with equal filters
   * share their encoding.
   */
  requestFilter?: (req: RequestLike) => Filterer | undefined;
  /** A stage of your own, run on deserialized, filtered batches before ids are assigned. */
  transform?: Stage<RecordBatch<DeserializedRecord>, RecordBatch<DeserializedRecord>>;
  /** Event ids carry timestamps instead of offsets (for crossing between Kafka clusters). */
  useTimestampForId?: boolean;
  /** Tombstones (null values): `'skip'` (default), or `'delete'`: sent as `event: delete` with data `{ _kafka }`. */
  tombstones?: 'skip' | 'delete';
  /** Answers errors found before the stream starts. Default: JSON body with the error's status. */
  connectErrorHandler?: (error: KafkaSseError, req: IncomingMessage, res: ServerResponse) => void;
  /** pino-compatible logger; each connection logs through `logger.child({ connectionId })`. */
  logger?: Logger;
  /** Handlers for consumer instrumentation events (`consumer.connect`, `consumer.fetch`, …). */
  kafkaEventHandlers?: Partial<Record<KafkaInstrumentationEventType, (event: KafkaInstrumentationEvent) => void>>;
  /**
   * Tuning of the Kafka client: the per-connection one made from `kafkaConfig`, or the shared one of
   * `kafka` (applied when that is made; every request using the instance must then pass the same).
   */
  clientTuning?: ClientTuning;
  /**
   * Decides whether this request may read these topics (those in the URL or in `Last-Event-ID`), before
   * anything touches Kafka. Return true to allow; return false (403) or throw an `UnauthorizedError` (401)
   * or `ForbiddenError` (403) to deny. Or return `{ allowed, expiresAt }`: an allowed stream ends at
   * `expiresAt` (ms since the epoch; a token's expiry) after one `event: error` `KSSE_TOKEN_EXPIRED`.
   */
  authorize?: (req: RequestLike, topics: string[]) => boolean | AuthorizeResult | Promise<boolean | AuthorizeResult>;
  /** Streams open at once through this options object; one more gets 503 with `Retry-After`. */
  maxConnections?: number;
  /** Streams open at once per client address through this options object (off by default); one more gets 429 with `Retry-After`. */
  maxConnectionsPerClient?: number;
  /** Send an SSE comment after this many ms without output (default 15,000; 0 turns it off). */
  heartbeatMs?: number;
  /** The reconnection delay the stream suggests to clients with `retry:` (ms; default 2,000; 0: none). */
  retryMs?: number;
  /** End each stream cleanly after this many ms; clients resume from their last id (default: never). */
  maxLifetimeMs?: number;
  /** Aborting ends the stream cleanly (reason `server closing`): for graceful shutdown. */
  signal?: AbortSignal;
  /** Longest time connecting to Kafka and resolving the start may take before a 503 (ms; default 4,000). */
  setupTimeoutMs?: number;
  /** Called once per stream that started, when it ends: for logs and metrics. */
  onStreamEnd?: (summary: StreamSummary) => void;
  /** Called as each chunk goes to the client, with the events and bytes it holds: for live metrics. */
  onProgress?: (sent: { events: number; bytes: number }) => void;
  /** Called once per request refused before streaming. */
  onRequestError?: (error: KafkaSseError, req: RequestLike) => void;
  /**
   * Compress streams for clients that send `Accept-Encoding: gzip` or `br` (gzip preferred), flushed
   * after every batch and heartbeat so no event waits: `true`, or `{ gzip, br }` levels (false: not
   * offered). Off by default. Byte counts (`onProgress`, summaries) are before compression.
   */
  compress?: boolean | CompressOptions;
  /**
   * Fan-out (default true): with a shared `kafka`, streams that have caught up and read the same partitions
   * with the same output shape share one fetch and one encoding of each batch, written to every member's
   * socket as the same Buffer (docs/decisions/011-cohort-fan-out.md). false: every stream runs its own
   * pipeline all the time.
   */
  cohorts?: boolean;
}

/** What `authorize` may return instead of a boolean: whether the request may stream, and until when. */
export interface AuthorizeResult {
  allowed: boolean;
  /** When the credentials run out (ms since the epoch): the stream sends `KSSE_TOKEN_EXPIRED` and ends then. */
  expiresAt?: number;
}

/** What happened on one stream, reported to `onStreamEnd` and logged when it closes. */
export interface StreamSummary {
  connectionId: string;
  topics: string[];
  clientAddress: string | undefined;
  durationMs: number;
  events: number;
  bytes: number;
  /** `client disconnected`, `lifetime reached`, `server closing`, `ended`, or an error code. */
  reason: string;
}

/** A stream's identity, as seen in logs and in the Kafka client id. */
function connectionIdOf(req: RequestLike): string {
  const header = req.headers['x-request-id'];
  const value = Array.isArray(header) ? header[0] : header;
  // uuid builds its string from a dozen concatenations, which V8 keeps as a tree of ~11 strings (350 B)
  // for as long as the stream holds the id: copied once into one flat string.
  return value && /^[\w.:-]{1,128}$/.test(value) ? value : Buffer.from(uuidv4(), 'latin1').toString('latin1');
}

function headerValue(req: RequestLike, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * The format a request gets: NDJSON when it accepts `application/json` and not `text/event-stream`,
 * else SSE. The one place this is decided (the server's HEAD answers use it too).
 */
export function streamFormat(req: RequestLike): 'sse' | 'ndjson' {
  const accept = headerValue(req, 'accept') ?? '';
  return accept.includes('application/json') && !accept.includes('text/event-stream') ? 'ndjson' : 'sse';
}

function wantsNdjson(req: RequestLike): boolean {
  return streamFormat(req) === 'ndjson';
}

/** Open streams of one handle, in total and per client address: the connection limits. */
class ConnectionLimiter {
  private total = 0;
  private readonly perClient = new Map<string, number>();

  constructor(
    private readonly max: number | undefined,
    private readonly maxPerClient: number | undefined,
  ) {}

  get open(): number {
    return this.total;
  }

  /** Takes a slot, or throws TooManyConnectionsError (503) / TooManyClientConnectionsError (429). Returns the slot (`release` is idempotent). */
  take(clientAddress: string | undefined): Slot {
    const address = clientAddress ?? 'unknown';
    const mine = this.perClient.get(address) ?? 0;
    if (this.max !== undefined && this.total >= this.max) {
      throw new TooManyConnectionsError('The server is at its connection limit; try again shortly', { retryAfterSeconds: 5 });
    }
    if (this.maxPerClient !== undefined && mine >= this.maxPerClient) {
      throw new TooManyClientConnectionsError('Too many streams from this address; close one or try again later', { retryAfterSeconds: 5 });
    }
    this.total++;
    this.perClient.set(address, mine + 1);
    return new Slot(this, address);
  }

  /** Gives back a slot of `address` (through `Slot.release`). */
  free(address: string): void {
    this.total--;
    const left = (this.perClient.get(address) ?? 1) - 1;
    if (left > 0) this.perClient.set(address, left);
    else this.perClient.delete(address);
  }
}

/** One stream's place in its handle's limits. An object, not a closure: thousands are held at once. */
class Slot {
  private released = false;
  constructor(
    private readonly limiter: ConnectionLimiter,
    private readonly address: string,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.limiter.free(this.address);
  }
}

interface PreparedStream {
  connectionId: string;
  /** The handle's logger. The stream's own is `streamLogger(prepared)`, made when needed, not kept. */
  baseLogger: Logger;
  topics: string[];
  positions: Position[];
  ndjson: boolean;
  client: KafkaClient;
  /** The start timestamp, when the stream starts at a point in time. */
  at: number | undefined;
  /** When the stream's authorization runs out (ms since the epoch), if `authorize` said. */
  expiresAt: number | undefined;
  /** `filterer` and the request's own filter, combined. */
  filterer: Filterer | undefined;
  /** For a cohortable stream of whole topics from now: what names its topics' cohort at the end of the log. */
  tailKey: string | undefined;
  /** The slot, a per-connection client, and the instrumentation events. */
  resources: StreamResources;
}

/**
 * Everything before the first byte: parse, validate, connect, resolve. Throws a KafkaSseError the
 * client may see; nothing is left open when it throws.
 */
/** What every stream of one handle shares: its options (validated), its limiter, its closing signal. */
interface HandleContext {
  options: KafkaSseOptions;
  limiter: ConnectionLimiter;
  /** Aborted by the handle's `close()` (and by `options.signal`). */
  closing: AbortSignal;
  /** The streams running now: ended one by one when `closing` aborts (one listener, not one per stream). */
  streams: Set<StreamLife>;
  /** The cohorts of caught-up streams (with a shared `kafka`, unless `cohorts: false`). */
  fanout: Fanout | undefined;
  /** The heartbeats of streams run by `drive`. */
  wheel: HeartbeatWheel | undefined;
}

async function prepare(
  ctx: HandleContext,
  req: RequestLike,
  assignments: unknown,
  atTimestamp: number | undefined,
  /** The stream will be run by `drive` (a Node response whose bytes a cohort can share). */
  cohortable = false,
): Promise<PreparedStream> {
  const { options } = ctx;
  const connectionId = connectionIdOf(req);
  const baseLogger = options.logger ?? silentLogger;
  // The header, or `?lastEventId=` for browsers reopening an EventSource (they cannot set the header).
  const lastEventId = headerValue(req, 'last-event-id') ?? queryParameter(req.url, 'lastEventId');
  const request =
    lastEventId !== undefined ? parseLastEventId(lastEventId, options) : parseAssignments(assignments, options);
  const at = atTimestamp === undefined ? undefined : parseTimestamp(atTimestamp);
  const ndjson = wantsNdjson(req);
  const topics = [...new Set([...request.topics, ...request.partitions.map((p) => p.topic)])];
  // Everything that can be refused without Kafka is refused before it is touched.
  refuseTopics(topics, options.allowedTopics);
  const filterer = combineFilters(options.filterer, options.requestFilter?.(req));
  const authorized = options.authorize ? await options.authorize(req, topics) : true;
  if (typeof authorized === 'object' ? authorized?.allowed !== true : !authorized) {
    throw new ForbiddenError('You may not read these topics', { topics });
  }
  const expiresAt = typeof authorized === 'object' && Number.isFinite(authorized.expiresAt) ? authorized.expiresAt : undefined;
  // Before taking a slot: a shared client asked for conflicting tuning throws (an operator's mistake, a 500).
  const shared = options.kafka ? sharedClient(options.kafka, options.clientTuning) : undefined;
  const slot = ctx.limiter.take(req.socket?.remoteAddress);

  const perConnection = !shared;
  const client =
    shared ??
    KafkaClient.fromConfig(
      // Fail fast unless told otherwise: a client waiting on a dead broker should get its 503 quickly.
      {
        brokers: ['localhost:9092'],
        connectionTimeout: 1000,
        retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 1000 },
        ...options.kafkaConfig,
        clientId: `KafkaSSE-${connectionId}`,
      },
      options.clientTuning,
      baseLogger.child({ connectionId }),
    );
  const resources = new StreamResources(options, connectionId, slot, perConnection ? client : undefined);
  try {
    // A stream of whole topics from now, when a cohort reading exactly those topics waits at the end of
    // the log: it starts where that cohort stands, with no request to Kafka (a crowd of browsers opening a
    // live feed). Anything else, or a cohort busy with a batch, resolves its start against Kafka.
    const tailKey =
      cohortable && ctx.fanout && request.partitions.length === 0 && at === undefined
        ? tailKeyOf(client, ndjson ? 'ndjson' : 'sse', filterer, request.topics)
        : undefined;
    const positions: Position[] =
      (tailKey !== undefined ? ctx.fanout!.tailPositions(tailKey) : undefined) ??
      (await withDeadline(
        client.connect().then(() => resolveStart(client, request, { allowedTopics: options.allowedTopics, atTimestamp: at })),
        options.setupTimeoutMs ?? 4000,
      ));
    resources.emit('consumer.connect', { positions });
    return { connectionId, baseLogger, topics, positions, ndjson, client, at, expiresAt, filterer, tailKey, resources };
  } catch (err) {
    await resources.release();
    throw err;
  }
}

/**
 * What a stream holds for its life besides its response: its slot, a per-connection client if it has
 * one, and its instrumentation events (numbered per stream). Methods on one object, not closures over
 * `prepare`'s context, which would keep everything `prepare` parsed on the way.
 */
class StreamResources {
  private eventId = 0;
  constructor(
    private readonly options: KafkaSseOptions,
    private readonly connectionId: string,
    private readonly slot: Slot,
    private readonly ownClient: KafkaClient | undefined,
  ) {}

  /** Gives the connection slot back and closes a per-connection client. */
  async release(): Promise<void> {
    this.slot.release();
    await this.ownClient?.close();
  }

  emit(type: KafkaInstrumentationEventType, payload: Record<string, unknown> = {}): void {
    const handler = this.options.kafkaEventHandlers?.[type];
    if (handler) handler({ id: ++this.eventId, type, timestamp: Date.now(), payload: { connectionId: this.connectionId, ...payload } });
  }
}

/** Both filters (the handle's, then the request's), as one; its `cohortKey` names both. */
function combineFilters(handle: Filterer | undefined, request: Filterer | undefined): Filterer | undefined {
  if (!handle || !request) return handle ?? request;
  return Object.assign((record: Parameters<Filterer>[0]) => handle(record) && request(record), {
    cohortKey: `${filterKey(handle)}&${filterKey(request)}`,
  });
}

const filterIds = new WeakMap<Filterer, number>();
let nextFilterId = 0;

/** What tells filters apart in a cohort key: their `cohortKey`, else the function itself. */
function filterKey(filterer: Filterer | undefined): string {
  if (!filterer) return '';
  if (typeof filterer.cohortKey === 'string') return filterer.cohortKey;
  let id = filterIds.get(filterer);
  if (id === undefined) filterIds.set(filterer, (id = ++nextFilterId));
  return `fn:${id}`;
}

/**
 * The stream's logger, `logger.child({ connectionId })`. Made when a line is logged rather than held: a
 * child logger (with pino, an object and its bindings text) per stream of thousands that mostly log
 * twice, opening and closing.
 */
function streamLogger(prepared: Pick<PreparedStream, 'baseLogger' | 'connectionId'>): Logger {
  return prepared.baseLogger.child({ connectionId: prepared.connectionId });
}

/** Rejects with KafkaUnavailableError when `work` takes longer than `ms`. */
async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new KafkaUnavailableError('Kafka is not reachable; try again shortly', { retryAfterSeconds: 2 })), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function queryParameter(url: string | undefined, name: string): string | undefined {
  if (url === undefined || !url.includes(`${name}=`)) return undefined;
  return new URL(url, 'http://localhost').searchParams.get(name) ?? undefined;
}

function defaultConnectErrorHandler(error: KafkaSseError, req: IncomingMessage, res: ServerResponse): void {
  sendRefusal(req, res, error);
}

/**
 * True for a refusal that will pass by itself: Kafka unreachable or still starting, a connection limit
 * (503 for the handle's, 429 for one client address's), a server closing. A client should retry these
 * with the same request.
 */
export function isTransientRefusal(error: KafkaSseError): boolean {
  return error.status === 503 || error.status === 429;
}

/** True when the client asked for an event stream, as every `EventSource` does. */
function acceptsEventStream(req: RequestLike): boolean {
  return (headerValue(req, 'accept') ?? '').includes('text/event-stream');
}

/**
 * The answer to a request refused before streaming. An `EventSource` that gets anything but a 200 closes
 * for good, so a transient refusal of a `text/event-stream` request is a 200 stream holding a `retry:`
 * hint and one `error` event with the code, then its end: the client reconnects by itself, keeping its
 * `Last-Event-ID`. Other refusals, and every refusal of other clients (NDJSON, curl), keep their HTTP
 * status as a JSON body (503s and 429s with `Retry-After`). See docs/decisions/006-transient-refusals.md.
 */
export function refusalResponse(
  req: RequestLike,
  error: KafkaSseError,
  retryMs = 2000,
): { status: number; headers: Record<string, string>; body: string } {
  if (isTransientRefusal(error) && acceptsEventStream(req)) {
    const after = typeof error.details.retryAfterSeconds === 'number' ? error.details.retryAfterSeconds * 1000 : 0;
    const body = `retry: ${Math.round(Math.max(retryMs, after))}\n\n` + encodeEvent('error', undefined, JSON.stringify(error));
    return { status: 200, headers: { ...streamHeaders(false), 'x-kafka-sse-error': error.code }, body };
  }
  return { status: error.status, headers: errorHeaders(error), body: JSON.stringify(error) };
}

/** Sends `refusalResponse` on a Node response (ends it if headers went out already). */
export function sendRefusal(req: IncomingMessage, res: ServerResponse, error: KafkaSseError, retryMs?: number): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const { status, headers, body } = refusalResponse(req, error, retryMs);
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** Headers of a JSON error response, with `Retry-After` when the error suggests one. */
function errorHeaders(error: KafkaSseError): Record<string, string> {
  return {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-cache',
    ...(typeof error.details.retryAfterSeconds === 'number' ? { 'retry-after': String(error.details.retryAfterSeconds) } : {}),
  };
}

// Refusals that need the operator; a client cannot cause them. Kafka being unreachable is logged at warn:
// it passes by itself (a restart, a leader election) and clients retry.
const OPERATOR_ERRORS = new Set(['KSSE_INTERNAL', 'KSSE_NO_TOPICS_AVAILABLE']);

/** Logs and reports a request refused before streaming. The log has the cause; the client never does. */
function refused(options: KafkaSseOptions, req: RequestLike, err: unknown): KafkaSseError {
  const clientError = toClientError(err);
  const logger = options.logger ?? silentLogger;
  if (OPERATOR_ERRORS.has(clientError.code)) logger.error({ err, code: clientError.code }, 'request failed');
  else if (clientError instanceof KafkaUnavailableError) logger.warn({ err, code: clientError.code }, 'request refused: Kafka is not reachable');
  else logger.warn({ code: clientError.code, message: clientError.message }, 'request refused');
  options.onRequestError?.(clientError, req);
  return clientError;
}


/** One configuration of kafka-sse, checked once: it owns the connection limits and ends its streams on `close()`. */
export interface KafkaSseHandle {
  /** Streams to a Node response (as `kafkaSse` does). Settles when the stream ends; never rejects. */
  handle(req: IncomingMessage, res: ServerResponse, assignments: string | Array<string | Assignment>, atTimestamp?: number): Promise<void>;
  /** The same stream as a fetch `Response` (as `kafkaSseResponse` does). Never rejects. */
  response(request: Request, assignments: string | Array<string | Assignment>, atTimestamp?: number): Promise<Response>;
  /** Streams open now. */
  readonly openStreams: number;
  /** Cohorts running now, and the streams in them (the others are catching up alone, or run pipelines of their own). */
  readonly cohorts: { cohorts: number; members: number };
  /** Ends every open stream cleanly (reason `server closing`; clients resume elsewhere) and closes the shared client of `kafka`. */
  close(): Promise<void>;
}

const NUMBER_OPTIONS = ['maxConnections', 'maxConnectionsPerClient', 'heartbeatMs', 'retryMs', 'maxLifetimeMs', 'setupTimeoutMs', 'maxHeaderBytes', 'maxAssignments'] as const;
const FUNCTION_OPTIONS = ['deserializer', 'filterer', 'requestFilter', 'transform', 'connectErrorHandler', 'authorize', 'onStreamEnd', 'onProgress', 'onRequestError'] as const;
const EVENT_TYPES: ReadonlySet<string> = new Set<KafkaInstrumentationEventType>([
  'consumer.connect',
  'consumer.fetch_start',
  'consumer.fetch',
  'consumer.start_batch_process',
  'consumer.end_batch_process',
  'consumer.crash',
  'consumer.disconnect',
]);

/** Throws a TypeError naming the first option that cannot work. Runs once per handle, not per request. */
function validateOptions(options: KafkaSseOptions): void {
  if (options.kafka && options.kafkaConfig) {
    throw new TypeError('kafka-sse: pass either `kafka` (a shared kafkajs instance) or `kafkaConfig` (a client per connection), not both');
  }
  for (const name of NUMBER_OPTIONS) {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
      throw new TypeError(`kafka-sse: option ${name} must be a number ≥ 0 (ms for durations), got ${String(value)}`);
    }
  }
  for (const name of FUNCTION_OPTIONS) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw new TypeError(`kafka-sse: option ${name} must be a function`);
  }
  validateCompress(options.compress);
  if (options.cohorts !== undefined && typeof options.cohorts !== 'boolean') throw new TypeError('kafka-sse: option cohorts must be true or false');
  if (options.tombstones !== undefined && options.tombstones !== 'skip' && options.tombstones !== 'delete') {
    throw new TypeError(`kafka-sse: option tombstones must be 'skip' or 'delete', got ${String(options.tombstones)}`);
  }
  if (options.allowedTopics !== undefined && (!Array.isArray(options.allowedTopics) || options.allowedTopics.some((t) => typeof t !== 'string'))) {
    throw new TypeError('kafka-sse: option allowedTopics must be an array of topic names');
  }
  for (const type of Object.keys(options.kafkaEventHandlers ?? {})) {
    if (!EVENT_TYPES.has(type)) throw new TypeError(`kafka-sse: kafkaEventHandlers has no event ${type}; the events are ${[...EVENT_TYPES].join(', ')}`);
  }
}

function validateCompress(compress: KafkaSseOptions['compress']): void {
  if (compress === undefined || typeof compress === 'boolean') return;
  if (typeof compress !== 'object' || compress === null) throw new TypeError('kafka-sse: option compress must be true, false or { gzip, br }');
  const ranges = { gzip: [1, 9], br: [0, 11] } as const;
  for (const [coding, [min, max]] of Object.entries(ranges)) {
    const level = compress[coding as keyof CompressOptions];
    if (level !== undefined && level !== false && (!Number.isInteger(level) || level < min || level > max)) {
      throw new TypeError(`kafka-sse: option compress.${coding} must be false or an integer ${min}–${max}, got ${String(level)}`);
    }
  }
}

/**
 * kafka-sse for one set of options, checked once: `handle(req, res, assignments)` streams to a Node
 * response, `response(request, assignments)` to a fetch `Response`, `close()` ends every stream. The
 * connection limits count the streams of this handle. Throws a TypeError for options that cannot work,
 * and an Error when `kafka` already runs with other `clientTuning`.
 */
export function createKafkaSse(options: KafkaSseOptions = {}): KafkaSseHandle {
  validateOptions(options);
  // A shared client asked for conflicting tuning throws here, once (an operator's mistake).
  if (options.kafka) sharedClient(options.kafka, options.clientTuning);
  const closing = new AbortController();
  if (options.signal?.aborted) closing.abort(options.signal.reason);
  else options.signal?.addEventListener('abort', () => closing.abort(options.signal!.reason), { once: true });
  const streams = new Set<StreamLife>();
  // An EventTarget listener costs close to 1 KiB: the handle holds one, and ends its streams itself.
  closing.signal.addEventListener('abort', () => {
    for (const stream of [...streams]) stream.end('server closing');
  });
  const ctx: HandleContext = {
    options,
    limiter: new ConnectionLimiter(options.maxConnections, options.maxConnectionsPerClient),
    closing: closing.signal,
    streams,
    fanout: options.kafka && options.cohorts !== false ? new Fanout(cohortEvents(options)) : undefined,
    wheel: (options.heartbeatMs ?? 15_000) > 0 ? new HeartbeatWheel(options.heartbeatMs ?? 15_000) : undefined,
  };
  return {
    handle: (req, res, assignments, atTimestamp) => serveNode(ctx, req, res, assignments, atTimestamp),
    response: (request, assignments, atTimestamp) => serveFetch(ctx, request, assignments, atTimestamp),
    get openStreams() {
      return ctx.limiter.open;
    },
    get cohorts() {
      return ctx.fanout?.stats ?? { cohorts: 0, members: 0 };
    },
    async close() {
      closing.abort(new Error('server closing'));
      if (options.kafka) await closeSharedClient(options.kafka);
    },
  };
}

/** A cohort's fetches, as `consumer.fetch` events without a connectionId (one fetch serves every member). */
function cohortEvents(options: KafkaSseOptions): CohortEvents | undefined {
  const handler = options.kafkaEventHandlers?.['consumer.fetch'];
  if (!handler) return undefined;
  let id = 0;
  return (type, payload) => handler({ id: ++id, type, timestamp: Date.now(), payload: { cohort: true, ...payload } });
}

const handles = new WeakMap<object, KafkaSseHandle | Error>();

/** The handle of an options object, made on first use (the seed-compatible functions take options per call). */
function handleOf(options: KafkaSseOptions): KafkaSseHandle | Error {
  let handle = handles.get(options);
  if (!handle) {
    try {
      handle = createKafkaSse(options);
    } catch (err) {
      handle = err as Error;
    }
    handles.set(options, handle);
  }
  return handle;
}

/**
 * Streams Kafka to one HTTP client as Server-Sent Events (or NDJSON for `Accept: application/json`).
 * `assignments`: topic names, "a,b", or `{topic, partition, offset|timestamp}` objects; a
 * `Last-Event-ID` header replaces them. Settles when the stream ends; never rejects. The seed's
 * signature: options are checked on their first use and the limits count per options object;
 * `createKafkaSse(options).handle` is the same with the checks up front.
 */
export async function kafkaSse(
  req: IncomingMessage,
  res: ServerResponse,
  assignments: string | Array<string | Assignment>,
  options: KafkaSseOptions = {},
  atTimestamp?: number,
): Promise<void> {
  const handle = handleOf(options);
  if (handle instanceof Error) {
    const clientError = refused(options, req, handle);
    sendRefusal(req, res, clientError, options.retryMs);
    return;
  }
  return handle.handle(req, res, assignments, atTimestamp);
}

async function serveNode(
  ctx: HandleContext,
  req: IncomingMessage,
  res: ServerResponse,
  assignments: string | Array<string | Assignment>,
  atTimestamp?: number,
): Promise<void> {
  const { options } = ctx;
  const onConnectError =
    options.connectErrorHandler ?? ((error: KafkaSseError, req: IncomingMessage, res: ServerResponse) => sendRefusal(req, res, error, options.retryMs));
  const encoding = negotiateEncoding(req, options.compress);
  // Streams whose bytes depend only on their partitions, format and filter can share a cohort's
  // encoding; anything a user stage, a compressor or timestamp ids shape runs its own pipeline.
  const cohortable = ctx.fanout !== undefined && !encoding && !options.useTimestampForId && !options.deserializer && !options.transform;
  let prepared: PreparedStream;
  try {
    prepared = await prepare(ctx, req, assignments, atTimestamp, cohortable);
  } catch (err) {
    const clientError = refused(options, req, err);
    try {
      onConnectError(clientError, req, res);
    } catch (handlerError) {
      (options.logger ?? silentLogger).error({ err: handlerError }, 'connectErrorHandler threw');
      if (!res.headersSent) defaultConnectErrorHandler(clientError, req, res);
    }
    return;
  }

  const stream = new StreamLife(prepared, options, req.socket?.remoteAddress, ctx);
  // `on`, not `once` (which wraps the listener): `end` keeps the first reason anyway.
  const onClose = () => stream.end('client disconnected');
  res.on('close', onClose);
  // A client that left while the stream was being set up.
  if (res.destroyed || req.socket?.destroyed) onClose();
  const finish = () => {
    res.off('close', onClose);
    if (!res.writableEnded) res.end();
  };
  try {
    res.writeHead(200, streamHeaders(prepared.ndjson, options.compress, encoding));
    res.flushHeaders();
  } catch (err) {
    finish();
    throw err;
  }
  // The cohort path is returned, not awaited, and finishes the response itself: no frame of this
  // function stays suspended for a stream's life.
  if (cohortable && ctx.fanout) {
    return stream.drive(res, ctx.fanout, ctx.wheel, finish);
  }
  try {
    await sink(res)(compressed(stream.chunks(), options.compress, encoding));
  } finally {
    finish();
  }
}

function streamHeaders(ndjson: boolean, compression?: KafkaSseOptions['compress'], encoding?: StreamEncoding): Record<string, string> {
  return {
    'content-type': ndjson ? 'application/json; charset=utf-8' : 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...(compression ? { vary: 'Accept-Encoding' } : {}),
    ...(encoding ? { 'content-encoding': encoding } : {}),
  };
}

/** The stream's chunks through the negotiated compressor (src/stages/compress.ts), or as they are. */
function compressed(chunks: AsyncIterable<string | Uint8Array>, compression: KafkaSseOptions['compress'], encoding: StreamEncoding | undefined) {
  return encoding ? compress(encoding, typeof compression === 'object' ? compression : {})(chunks) : chunks;
}

/**
 * The life of one started stream, whatever carries it (a Node response or a Web stream): its chunks
 * (preamble, events, heartbeats, and one error event if it fails), the reasons it can end (client gone,
 * server closing, lifetime), and the log lines, events and summary when it does.
 */
class StreamLife {
  /** Why the stream was ended, once it was. */
  private endedWith: Error | undefined;
  /**
   * The stream's AbortSignal, made only when something needs one (its own pipeline): an AbortSignal is an
   * EventTarget with two Maps, about 0.5 KiB, which a stream that only sits in a cohort never uses.
   */
  private controller: AbortController | undefined;
  /** Stops the pipeline of a stream catching up alone (`catchUp`). */
  private stopAlone: (() => void) | undefined;
  private reason = 'ended';
  private readonly counters: StreamCounters = { events: 0, bytes: 0 };
  private startedAt = 0;
  private lifetime: NodeJS.Timeout | undefined;
  /** Called once when the stream is ended (`end`): how a stream waiting in a cohort hears of it. */
  interrupt: (() => void) | undefined;
  /** An error the stream must tell its client before it ends (its authorization ran out). */
  private failure: KafkaSseError | undefined;

  constructor(
    private readonly prepared: PreparedStream,
    private readonly options: KafkaSseOptions,
    private readonly clientAddress: string | undefined,
    /** The handle's closing signal and its set of running streams. */
    private readonly handle: Pick<HandleContext, 'closing' | 'streams'>,
  ) {}

  /** Ends the stream for `why`; the first reason given is the one reported. */
  end(why: string): void {
    if (this.reason === 'ended') this.reason = why;
    this.endedWith ??= new Error(why);
    this.controller?.abort(this.endedWith);
    this.stopAlone?.();
    const interrupt = this.interrupt;
    this.interrupt = undefined;
    interrupt?.();
  }

  get ended(): boolean {
    return this.endedWith !== undefined;
  }

  private get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.endedWith) this.controller.abort(this.endedWith);
    }
    return this.controller.signal;
  }

  /** What both ways of running a stream do first: listen for the reasons it ends, log it open. */
  private open(): void {
    const { prepared, options } = this;
    if (this.handle.closing.aborted) this.end('server closing');
    else this.handle.streams.add(this);
    if (options.maxLifetimeMs !== undefined && options.maxLifetimeMs > 0) {
      this.lifetime = setTimeout(() => this.end('lifetime reached'), options.maxLifetimeMs);
    }
    this.startedAt = Date.now();
    streamLogger(prepared).info({ topics: prepared.topics, clientAddress: this.clientAddress, positions: prepared.positions.length, ndjson: prepared.ndjson }, 'stream opened');
  }

  /** What both do last: release what the stream held, and report it. */
  private async close(): Promise<void> {
    const { prepared, options } = this;
    clearTimeout(this.lifetime);
    this.handle.streams.delete(this);
    this.endedWith ??= new Error('stream ended');
    this.controller?.abort(this.endedWith);
    await prepared.resources.release().catch(() => {});
    prepared.resources.emit('consumer.disconnect', { reason: this.reason });
    const summary: StreamSummary = {
      connectionId: prepared.connectionId,
      topics: prepared.topics,
      clientAddress: this.clientAddress,
      durationMs: Date.now() - this.startedAt,
      events: this.counters.events,
      bytes: this.counters.bytes,
      reason: this.reason,
    };
    const { connectionId: _bound, ...fields } = summary; // the child logger already carries connectionId
    streamLogger(prepared).info(fields, 'stream closed');
    options.onStreamEnd?.(summary);
  }

  /** The error that ended the stream: its reason, a log line and an instrumentation event. */
  private failed(err: unknown, clientError: KafkaSseError): void {
    this.reason = clientError.code;
    if (clientError instanceof TokenExpiredError) {
      streamLogger(this.prepared).info({ code: clientError.code }, 'stream ended: its authorization expired');
      return;
    }
    this.prepared.resources.emit('consumer.crash', { error: clientError.message });
    streamLogger(this.prepared).error({ err, code: clientError.code }, 'stream ended by an error');
  }

  /** The record part of the pipeline, for a stream reading from `positions`. */
  private records(positions: Position[]): Stage<RecordBatch<KafkaRecord>, string | Uint8Array> {
    const { prepared, options } = this;
    return defaultStages({
      positions,
      format: prepared.ndjson ? 'ndjson' : 'sse',
      logger: streamLogger(prepared),
      counters: this.counters,
      useTimestampForId: options.useTimestampForId === true,
      ...(prepared.at !== undefined ? { startTimestamp: prepared.at } : {}),
      ...(options.deserializer ? { deserializer: options.deserializer } : {}),
      ...(prepared.filterer ? { filterer: prepared.filterer } : {}),
      ...(options.transform ? { transform: options.transform } : {}),
      ...(options.tombstones ? { tombstones: options.tombstones } : {}),
    });
  }

  /** The stream as one pipeline of its own, start to end: what every Web stream and any stream with user stages gets. */
  async *chunks(): AsyncGenerator<string | Uint8Array> {
    const { prepared, options } = this;
    this.open();
    const signal = this.signal;
    const format = prepared.ndjson ? 'ndjson' : 'sse';
    try {
      // The same public compositions a pipeline of one's own is built from (src/pipeline.ts).
      yield* pipe(
        // consume names only the consumer.* events of KafkaInstrumentationEventType.
        consume(prepared.client, prepared.positions, { signal, onEvent: (type: string, payload: Record<string, unknown>) => prepared.resources.emit(type as KafkaInstrumentationEventType, payload), readAhead: true }),
        this.records(prepared.positions),
        (chunks) => (prepared.expiresAt === undefined ? chunks : untilExpiry(chunks, prepared.expiresAt)),
        streamFraming({
          format,
          connectionId: prepared.connectionId,
          counters: this.counters,
          signal,
          ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}),
          ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
          onError: (err, clientError) => this.failed(err, clientError),
        }),
      );
    } finally {
      await this.close();
    }
  }

  /**
   * The stream written straight to a Node response, in turns: alone (its own pipeline) until it has
   * caught up, then as a member of the cohort at its positions, which sends it each batch as a Buffer
   * shared with every other member; when its socket cannot take a batch it leaves, waits for the socket
   * to drain, and catches up alone again. Same bytes as `chunks()`, apart from when position blocks and
   * heartbeats come. Settles when the stream ends.
   */
  async drive(res: ServerResponse, fanout: Fanout, wheel: HeartbeatWheel | undefined, finish: () => void): Promise<void> {
    const { prepared, options } = this;
    this.open();
    const sse = !prepared.ndjson;
    const member = new StreamMember(res, this.counters, options.onProgress, (err) => {
      this.failure ??= stageError(err);
      this.end(this.failure.code);
    });
    const expiry = prepared.expiresAt === undefined ? undefined : expiryTimer(prepared.expiresAt, (err) => {
      this.failure = err;
      this.end(err.code);
    });
    const shape: CohortShape = {
      format: sse ? 'sse' : 'ndjson',
      // The cohort's encoding is shared: what it logs (a skipped record) is the cohort's, not one stream's.
      logger: prepared.baseLogger,
      ...(prepared.filterer ? { filterer: prepared.filterer } : {}),
      ...(options.tombstones ? { tombstones: options.tombstones } : {}),
    };
    const key = fanout.sharedKey(cohortKey(prepared, shape));
    let error: unknown;
    try {
      if (sse) {
        member.write(preambleText(`kafka-sse stream ${prepared.connectionId}`, options.retryMs));
        wheel?.add(member);
      }
      let positions = prepared.positions;
      let round = 0;
      let rejected = false;
      // A stream that starts where its cohort stands (a browser opening the live tail, most often) joins at
      // once: it has nothing to catch up, so it needs no pipeline, and no fetch, of its own.
      let joinNow = fanout.state(key, positions) === 'same';
      if (joinNow) {
        round++;
        if (sse) member.write(encodePosition(JSON.stringify(positions.map(({ topic, partition, offset }) => ({ topic, partition, offset })))));
      }
      while (!this.ended) {
        if (!joinNow) positions = await this.catchUp(member, positions, { fanout, key, first: round++ === 0, rejected });
        joinNow = false;
        if (this.ended) break;
        const how = await member.join(fanout, key, prepared.client, shape, positions, this, prepared.tailKey);
        if (how === undefined) break; // the stream ended while in the cohort
        rejected = how.kind === 'rejected';
        if (how.kind === 'error') throw how.error;
        if (how.kind === 'behind') {
          positions = how.positions;
          if (res.writableNeedDrain && !(await drained(res))) break;
        }
      }
    } catch (err) {
      if (!this.ended) error = err;
    } finally {
      wheel?.remove(member);
      fanout.leave(member);
      expiry?.cancel();
      const told = this.failure ?? error;
      if (told !== undefined) {
        const clientError = stageError(told);
        this.failed(told, clientError);
        if (sse && !res.destroyed) member.write(errorEventText(clientError));
      }
      try {
        await this.close();
      } finally {
        finish();
      }
    }
  }

  /**
   * Runs the stream's own pipeline from `from` until it may join its cohort: when it has caught up and no
   * cohort is elsewhere (or it was just turned away), or when it stands where the cohort stands. Returns
   * the positions it reached; everything before them has been written.
   */
  private async catchUp(
    member: StreamMember,
    from: Position[],
    turn: { fanout: Fanout; key: string; first: boolean; rejected: boolean },
  ): Promise<Position[]> {
    const { prepared } = this;
    let at = from;
    const local = new AbortController();
    if (this.endedWith) local.abort(this.endedWith);
    this.stopAlone = () => local.abort(this.endedWith);
    const { fanout, key } = turn;
    async function* untilJoinable(source: AsyncIterable<RecordBatch<KafkaRecord>>): AsyncGenerator<RecordBatch<KafkaRecord>> {
      for await (const batch of source) {
        yield batch;
        // Pulled again: everything made of this batch has been written.
        at = advance(at, batch.progress);
        const caughtUp = batch.records.length === 0 && batch.progress.length === 0;
        const state = fanout.state(key, at);
        if (state === 'same' || (caughtUp && (state === 'none' || !turn.rejected))) return;
      }
    }
    try {
      let skip = turn.first || prepared.ndjson ? 0 : 1; // the opening position block: the client has it
      const chunks = pipe(
        consume(prepared.client, from, {
          signal: local.signal,
          onEvent: (type: string, payload: Record<string, unknown>) => prepared.resources.emit(type as KafkaInstrumentationEventType, payload),
          readAhead: true,
        }),
        untilJoinable,
        this.records(from),
      );
      for await (const chunk of chunks) {
        if (skip > 0) {
          skip--;
          continue;
        }
        if (member.closed) break;
        if (!member.write(chunk) && !(await drained(member.res))) break;
      }
    } finally {
      this.stopAlone = undefined;
      local.abort(new Error('caught up'));
    }
    return at;
  }
}

/** One stream as its cohort and the heartbeat wheel see it: a Node response and its counters. */
class StreamMember implements CohortMember, Beating {
  lastWrite = Date.now();
  private departed: ((how: Departure | undefined) => void) | undefined;
  private reported = 0;

  constructor(
    readonly res: ServerResponse,
    private readonly counters: StreamCounters,
    private readonly onProgress: KafkaSseOptions['onProgress'],
    /** A heartbeat's write failed (a throwing `onProgress`): the stream ends with the error. */
    readonly failed: (err: unknown) => void,
  ) {}

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  /** Writes a chunk; false when the socket's buffer is full. Counts bytes and reports progress as `meter` does. */
  write(chunk: string | Uint8Array, now = Date.now()): boolean {
    const ok = this.res.write(chunk);
    const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    this.counters.bytes += bytes;
    if (this.onProgress) {
      this.onProgress({ events: this.counters.events - this.reported, bytes });
      this.reported = this.counters.events;
    }
    this.lastWrite = now;
    return ok;
  }

  deliver(chunk: Buffer, events: number, now: number): boolean {
    // A client that is gone leaves through its stream's end ('close'), not by falling behind.
    if (this.closed) return true;
    this.counters.events += events;
    return this.write(chunk, now);
  }

  beat(now: number): void {
    if (!this.closed && !this.res.writableNeedDrain) this.write(HEARTBEAT, now);
  }

  /**
   * Joins the cohort of `key` at `positions`; settles when the member is out again: with the reason, or
   * undefined when the stream ended (`signal`).
   */
  join(
    fanout: Fanout,
    key: string,
    source: KafkaClient,
    shape: CohortShape,
    positions: Position[],
    life: { ended: boolean; interrupt: (() => void) | undefined },
    tailKey: string | undefined,
  ): Promise<Departure | undefined> {
    return new Promise((resolve) => {
      this.departed = (how) => {
        life.interrupt = undefined;
        resolve(how);
      };
      // No EventTarget listener (about 1 KiB each): the stream calls this when it ends.
      life.interrupt = () => {
        fanout.leave(this);
        this.depart(undefined);
      };
      if (life.ended) life.interrupt();
      else fanout.join(key, source, shape, this, positions, tailKey);
    });
  }

  depart(how: Departure | undefined): void {
    const departed = this.departed;
    this.departed = undefined;
    departed?.(how);
  }
}

const HEARTBEAT = encodeComment('heartbeat');


/** Everything that shapes a stream's bytes in a cohort: the source, its partitions in id order, format and filter. */
function cohortKey(prepared: PreparedStream, shape: CohortShape): string {
  const id = sourceId(prepared.client);
  const partitions = prepared.positions.map((p) => `${p.topic}\u0000${p.partition}`).join('\u0001');
  return `${id}\u0002${shape.format}\u0002${filterKey(shape.filterer)}\u0002${partitions}`;
}
const sourceIds = new WeakMap<KafkaClient, number>();
let nextSourceId = 0;

function sourceId(client: KafkaClient): number {
  let id = sourceIds.get(client);
  if (id === undefined) sourceIds.set(client, (id = ++nextSourceId));
  return id;
}

/** Names the cohort of whole `topics` read from now: the source, format, filter and the topics in order. */
function tailKeyOf(client: KafkaClient, format: 'sse' | 'ndjson', filterer: Filterer | undefined, topics: string[]): string {
  return `${sourceId(client)}\u0002${format}\u0002${filterKey(filterer)}\u0002${topics.join('\u0001')}`;
}

/** Calls `onExpired` with a TokenExpiredError at `expiresAt` (ms since the epoch). */
function expiryTimer(expiresAt: number, onExpired: (err: TokenExpiredError) => void): { cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  // setTimeout holds at most 2^31-1 ms (24.8 days): re-armed until the time has come.
  const arm = () => {
    const left = expiresAt - Date.now();
    if (left > 0) timer = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
    else onExpired(new TokenExpiredError('Your authorization has expired; reconnect with a fresh token', { expiredAt: new Date(expiresAt).toISOString() }));
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}

/**
 * The chunks until `expiresAt` (ms since the epoch), then a TokenExpiredError, which `errorEvent` sends as
 * the stream's last event: a stream authorized by a token ends when the token does.
 */
async function* untilExpiry<T>(source: AsyncIterable<T>, expiresAt: number): AsyncGenerator<T> {
  const chunks = source[Symbol.asyncIterator]();
  let timer: { cancel(): void } | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = expiryTimer(expiresAt, reject);
  });
  expired.catch(() => {});
  let pending: Promise<IteratorResult<T>> | undefined;
  try {
    for (;;) {
      pending = chunks.next();
      const next = await Promise.race([pending, expired]);
      pending = undefined;
      if (next.done) return;
      yield next.value;
    }
  } finally {
    timer?.cancel();
    // Expired while the source waited (an idle stream): let it finish when the stream's signal stops it.
    if (pending) {
      pending.catch(() => {});
      void chunks.return?.()?.catch(() => {});
    } else await chunks.return?.();
  }
}

/**
 * The same stream for fetch-style frameworks (Hono, Bun, Deno, workers): takes a `Request`, returns a
 * `Response` whose body is the SSE (or NDJSON) stream, or the refusal. Never rejects.
 */
export async function kafkaSseResponse(
  request: Request,
  assignments: string | Array<string | Assignment>,
  options: Omit<KafkaSseOptions, 'connectErrorHandler'> = {},
  atTimestamp?: number,
): Promise<Response> {
  const handle = handleOf(options);
  if (handle instanceof Error) {
    const req: RequestLike = { headers: Object.fromEntries(request.headers), url: request.url };
    const { status, headers, body } = refusalResponse(req, refused(options, req, handle), options.retryMs);
    if (status === 200) delete headers.connection; // a hop-by-hop header: fetch-style runtimes set it themselves
    return new Response(body, { status, headers });
  }
  return handle.response(request, assignments, atTimestamp);
}

async function serveFetch(
  ctx: HandleContext,
  request: Request,
  assignments: string | Array<string | Assignment>,
  atTimestamp?: number,
): Promise<Response> {
  const { options } = ctx;
  const req: RequestLike = { headers: Object.fromEntries(request.headers), url: request.url };
  let prepared: PreparedStream;
  try {
    prepared = await prepare(ctx, req, assignments, atTimestamp);
  } catch (err) {
    const { status, headers, body } = refusalResponse(req, refused(options, req, err), options.retryMs);
    if (status === 200) delete headers.connection; // a hop-by-hop header: fetch-style runtimes set it themselves
    return new Response(body, { status, headers });
  }
  const stream = new StreamLife(prepared, options, undefined, ctx);
  if (request.signal?.aborted) stream.end('client disconnected');
  request.signal?.addEventListener('abort', () => stream.end('client disconnected'), { once: true });
  const encoding = negotiateEncoding(req, options.compress);
  const headers = streamHeaders(prepared.ndjson, options.compress, encoding);
  delete headers.connection; // a hop-by-hop header: fetch-style runtimes set it themselves
  return new Response(webSink(compressed(stream.chunks(), options.compress, encoding), { onCancel: () => stream.end('client disconnected') }), { status: 200, headers });
}
