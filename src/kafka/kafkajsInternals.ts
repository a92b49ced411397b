// The one place that reaches below kafkajs's public API. kafkajs's consumer must join a group, and a
// group costs every connection a rebalance delay and the broker a group per client; its protocol layer
// (Cluster, Broker) can fetch assigned partitions with no group at all. That layer is not public, so
// the kafkajs version is pinned exactly and `assertSupportedKafkajs` fails loudly if the pin moves.
// Nothing of kafkajs is loaded here at import time: its private modules are required on first use, from
// the kafkajs copy that made the user's instance, after that copy's version is checked.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Kafka } from 'kafkajs';
import type { KafkaRecord } from '../types.js';
import { errorClassesOf, type KafkajsErrorClasses } from './errors.js';
import { decodeFetchV11, type DecodedFetch, type LegacyMessage, type LegacyMessageSetDecoder } from './fetchDecoder.js';

const require = createRequire(import.meta.url);

/** The only kafkajs version whose internals this module has been checked against. */
export const PINNED_KAFKAJS_VERSION = '2.2.4';

export interface RawMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | Array<Buffer | string> | undefined>;
  isControlRecord?: boolean;
}

export interface RawFetchResponse {
  responses: Array<{
    topicName: string;
    partitions: Array<{ partition: number; errorCode: number; highWatermark: string; messages: RawMessage[]; abortedTransactions?: unknown[] }>;
  }>;
}

export interface RawMetadata {
  brokers: Array<{ nodeId: number; host: string; port: number }>;
  topicMetadata: Array<{
    topic: string;
    topicErrorCode: number;
    partitionMetadata: Array<{ partitionId: number; leader: number; partitionErrorCode: number }>;
  }>;
}

export interface FetchRequest {
  maxWaitTime: number;
  minBytes: number;
  maxBytes: number;
  topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
}

export interface RawBroker {
  fetch(request: FetchRequest): Promise<RawFetchResponse>;
  listOffsets(request: {
    topics: Array<{ topic: string; partitions: Array<{ partition: number; timestamp: string }> }>;
  }): Promise<{ responses: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> }>;
  metadata(topics: string[]): Promise<RawMetadata>;
}

export interface RawCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  findBroker(query: { nodeId: number | string }): Promise<RawBroker>;
  brokerPool: { findConnectedBroker(): Promise<RawBroker>; connectionPoolBuilder?: RawConnectionPoolBuilder };
}

/** kafkajs 2.2.4's per-connection request queue: only what `stopIdleSpin` touches. */
interface RawRequestQueue {
  pending: unknown[];
  throttledUntil: number;
  scheduleCheckPendingRequests(): void;
}

interface RawConnection {
  requestQueue?: RawRequestQueue;
  connect(): Promise<boolean>;
}

interface RawConnectionPoolBuilder {
  build(options?: unknown): Promise<{ pool?: RawConnection[] }>;
}

export interface ClusterOptions {
  allowAutoTopicCreation: false;
  maxInFlightRequests: null;
  metadataMaxAge: number;
}

/** The private parts of one kafkajs copy that this module uses, loaded once per copy after its version check. */
export interface KafkajsInternals {
  /** The kafkajs package folder. */
  root: string;
  version: string;
  errors: KafkajsErrorClasses;
  sendRequest: SendRequest;
  fetchRequests: unknown;
  fetchApiKey: number;
  /** kafkajs's check of per-partition error codes (OFFSET_OUT_OF_RANGE and the rest become its errors). */
  parseFetchErrors(data: unknown): Promise<unknown>;
  /** kafkajs's decoder for the pre-0.11 message formats, which Kafka 4 no longer writes. */
  decodeLegacyMessageSet: LegacyMessageSetDecoder;
}

interface CachedModule {
  filename: string;
  exports: unknown;
}

/**
 * The kafkajs copy whose `Kafka` class made `kafka` (the library's own copy when none is given): its
 * package folder and its exports. Found in require's cache, where every CommonJS module lives, kafkajs
 * included when it was imported from ESM. A user's kafkajs may not be ours: a different version, or the
 * same one installed twice; its internals are what its instances use.
 */
function kafkajsModuleOf(kafka: Kafka | undefined): { root: string; exports: Record<string, unknown> } {
  if (!kafka) {
    const filename = require.resolve('kafkajs');
    return { root: packageRoot(filename), exports: require('kafkajs') as Record<string, unknown> };
  }
  const known = modulesByConstructor.get((kafka as { constructor?: object }).constructor ?? {});
  if (known) return known;
  const cache = Object.values(require.cache) as Array<CachedModule | undefined>;
  for (let proto: object | null = Object.getPrototypeOf(kafka) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    const ctor = (proto as { constructor?: unknown }).constructor;
    if (typeof ctor !== 'function') continue;
    const module = cache.find((m) => (m?.exports as { Kafka?: unknown } | null | undefined)?.Kafka === ctor);
    if (module) {
      const found = { root: packageRoot(module.filename), exports: module.exports as Record<string, unknown> };
      // Keyed by the instance's own class (a subclass of kafkajs's, maybe): a client per connection asks again.
      modulesByConstructor.set((kafka as { constructor: object }).constructor, found);
      return found;
    }
  }
  throw new Error(
    `kafka-sse reads Kafka through kafkajs ${PINNED_KAFKAJS_VERSION}'s protocol layer, but the Kafka instance it was given ` +
      "was not made by a kafkajs package loaded through Node's module loader (a bundled or mocked kafkajs?), so its version cannot be checked.",
  );
}

const modulesByConstructor = new WeakMap<object, { root: string; exports: Record<string, unknown> }>();

/** The folder of the kafkajs package holding `filename`. */
function packageRoot(filename: string): string {
  for (let dir = dirname(filename); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'kafkajs') return dir;
      } catch {
        // not a package we can read: keep looking upwards
      }
    }
    if (dirname(dir) === dir) throw new Error(`kafka-sse could not find the kafkajs package holding ${filename}`);
  }
}

const loadedInternals = new Map<string, KafkajsInternals>();

/**
 * The internals of the kafkajs copy that made `kafka`, loaded on first use after checking that copy's
 * version. Throws the pin message when the version is not the pinned one, or when a private module or
 * hook it needs is missing (a moved file), never MODULE_NOT_FOUND.
 */
export function kafkajsInternals(kafka?: Kafka): KafkajsInternals {
  const { root, exports } = kafkajsModuleOf(kafka);
  const cached = loadedInternals.get(root);
  if (cached) return cached;
  let version: unknown;
  try {
    version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version;
  } catch {
    version = undefined;
  }
  if (version !== PINNED_KAFKAJS_VERSION) {
    throw new Error(
      `kafka-sse reads Kafka through kafkajs ${PINNED_KAFKAJS_VERSION}'s protocol layer, but the kafkajs that made this Kafka instance ` +
        `(${root}) is version ${String(version)}. Install kafkajs ${PINNED_KAFKAJS_VERSION}, or re-check src/kafka/kafkajsInternals.ts against the new one.`,
    );
  }
  const missing = (what: string, cause?: unknown) =>
    new Error(
      `kafka-sse reads Kafka through kafkajs ${PINNED_KAFKAJS_VERSION}'s protocol layer, but the kafkajs at ${root} ` +
        `(version ${version}) has no ${what}: reinstall kafkajs ${PINNED_KAFKAJS_VERSION}, or re-check src/kafka/kafkajsInternals.ts.`,
      cause === undefined ? undefined : { cause },
    );
  const requireFromKafkajs = createRequire(join(root, 'package.json'));
  const load = <T>(path: string): T => {
    try {
      return requireFromKafkajs(`./${path}`) as T;
    } catch (cause) {
      throw missing(path, cause);
    }
  };
  const errors = errorClassesOf(exports);
  if (typeof errors === 'string') throw missing(`export ${errors}`);
  const fetchRequests = load<{ requests?: { Fetch?: unknown } }>('src/protocol/requests').requests?.Fetch;
  const fetchApiKey = load<{ Fetch?: unknown }>('src/protocol/requests/apiKeys').Fetch;
  const parseFetchErrors = load<{ parse?: unknown }>('src/protocol/requests/fetch/v1/response').parse;
  const Decoder = load<unknown>('src/protocol/decoder');
  const decodeMessageSet = load<unknown>('src/protocol/messageSet/decoder');
  const brokerProto = load<{ prototype?: Record<symbol, unknown> }>('src/broker').prototype ?? {};
  const symbol = Object.getOwnPropertySymbols(brokerProto).find((s) => s.description === 'private:Broker:sendRequest');
  const sendRequest = symbol ? brokerProto[symbol] : undefined;
  if (fetchRequests === undefined) throw missing('Fetch request definitions in src/protocol/requests');
  if (typeof fetchApiKey !== 'number') throw missing('Fetch api key in src/protocol/requests/apiKeys');
  if (typeof parseFetchErrors !== 'function') throw missing('parse() in src/protocol/requests/fetch/v1/response');
  if (typeof Decoder !== 'function' || typeof decodeMessageSet !== 'function') throw missing('message-set decoder in src/protocol');
  if (typeof sendRequest !== 'function') throw missing('Broker#sendRequest, which fetches are sent through');
  const LegacyDecoder = Decoder as new (buffer: Buffer) => unknown;
  const decodeLegacy = decodeMessageSet as (decoder: unknown, size: number) => Promise<LegacyMessage[]>;
  const internals: KafkajsInternals = {
    root,
    version: PINNED_KAFKAJS_VERSION,
    errors,
    sendRequest: sendRequest as SendRequest,
    fetchRequests,
    fetchApiKey,
    parseFetchErrors: parseFetchErrors as (data: unknown) => Promise<unknown>,
    decodeLegacyMessageSet: (records) => decodeLegacy(new LegacyDecoder(records), records.length),
  };
  loadedInternals.set(root, internals);
  return internals;
}

/**
 * Throws the pin message unless the kafkajs that made `kafka` (without one: the library's own kafkajs)
 * is the pinned version and still has every private module and hook used here.
 */
export function assertSupportedKafkajs(kafka?: Kafka): void {
  kafkajsInternals(kafka);
  if (kafka && !createClusterHook(kafka)) {
    throw new Error('kafkajs no longer exposes its cluster factory; see src/kafka/kafkajsInternals.ts');
  }
}

function createClusterHook(kafka: Kafka): ((options: ClusterOptions) => RawCluster) | undefined {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const hook = symbol ? (kafka as unknown as Record<symbol, unknown>)[symbol] : undefined;
  return typeof hook === 'function' ? (hook as (options: ClusterOptions) => RawCluster) : undefined;
}

/**
 * A group-less connection to the cluster behind a kafkajs `Kafka` instance: same brokers, TLS, SASL,
 * logger and socket factory, its own broker connections. Never creates topics.
 */
export function createCluster(kafka: Kafka): RawCluster {
  assertSupportedKafkajs(kafka);
  const hook = createClusterHook(kafka)!;
  const cluster = hook({ allowAutoTopicCreation: false, maxInFlightRequests: null, metadataMaxAge: 300_000 });
  patchConnections(cluster);
  return cluster;
}

/**
 * Two kafkajs 2.2.4 defects, mended on the connections of our clusters only (never on the user's own
 * producers and consumers):
 * - it re-arms a 1 ms timer after every response even when no request waits and nothing is throttled
 *   (kafkajs issues #1556, #1704), so each connection spins a timer forever: ~3 % of a core per idle
 *   process here. The check is now scheduled only when a request is pending or the broker throttles us;
 * - `Connection.connect` has no guard against concurrent calls, so streams whose first fetches start
 *   together each open a socket and all but the last are orphaned (never closed on disconnect). Concurrent
 *   callers now share one connect.
 */
function patchConnections(cluster: RawCluster): void {
  const builder = cluster.brokerPool.connectionPoolBuilder;
  if (!builder || typeof builder.build !== 'function') {
    throw new Error('kafkajs no longer builds connection pools as expected; see src/kafka/kafkajsInternals.ts');
  }
  const build = builder.build.bind(builder);
  builder.build = async (options?: unknown) => {
    const connectionPool = await build(options);
    for (const connection of connectionPool.pool ?? []) {
      const queue = connection.requestQueue;
      if (!queue || typeof queue.scheduleCheckPendingRequests !== 'function') {
        throw new Error('kafkajs no longer has a per-connection request queue; see src/kafka/kafkajsInternals.ts');
      }
      const schedule = queue.scheduleCheckPendingRequests;
      queue.scheduleCheckPendingRequests = function (this: RawRequestQueue) {
        if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
        schedule.call(this);
      };
      const connect = connection.connect;
      let connecting: Promise<boolean> | undefined;
      connection.connect = function (this: RawConnection) {
        connecting ??= connect.call(this).finally(() => {
          connecting = undefined;
        });
        return connecting;
      };
    }
    return connectionPool;
  };
}

interface ProtocolRequest {
  request: { apiVersion: number };
  response: { decode(payload: Buffer): Promise<unknown>; parse(data: unknown): Promise<unknown> };
}
type SendRequest = (this: RawBroker, request: ProtocolRequest) => Promise<unknown>;
type LookupRequest = (apiKey: number, definition: unknown) => (options: Record<string, unknown>) => ProtocolRequest;

const READ_COMMITTED = 1;

/**
 * A read_committed fetch whose answer is decoded by `decodeFetchV11` (records with number offsets, no
 * control or aborted records) when the broker speaks Fetch v11, as every broker since Kafka 2.3 does; by
 * kafkajs's decoder otherwise, converted to the same shape. Errors are kafkajs's either way.
 */
export async function fetchRecords(internals: KafkajsInternals, broker: RawBroker, request: FetchRequest): Promise<DecodedFetch> {
  const lookup = (broker as unknown as { lookupRequest: LookupRequest }).lookupRequest;
  const protocolRequest = lookup(internals.fetchApiKey, internals.fetchRequests)({ ...request, isolationLevel: READ_COMMITTED });
  if (protocolRequest.request.apiVersion === 11) {
    protocolRequest.response = {
      decode: (payload: Buffer) => decodeFetchV11(payload, internals.decodeLegacyMessageSet),
      parse: (data: unknown) => partitionErrors(internals, data),
    };
    return (await internals.sendRequest.call(broker, protocolRequest)) as DecodedFetch;
  }
  return fromKafkajs(await broker.fetch(request));
}

/**
 * kafkajs's check of partition error codes, applied to each partition alone: a partition with an error
 * keeps it (as kafkajs's error, with its `type` and `retriable`) instead of failing the whole response,
 * so streams reading other partitions of the same fetch go on.
 */
async function partitionErrors(internals: KafkajsInternals, data: unknown): Promise<DecodedFetch> {
  const fetch = data as DecodedFetch;
  for (const { topicName, partitions } of fetch.responses) {
    for (const part of partitions) {
      if (part.errorCode === 0 || part.error !== undefined) continue;
      try {
        await internals.parseFetchErrors({ ...fetch, responses: [{ topicName, partitions: [part] }] });
      } catch (err) {
        part.error = err;
      }
    }
  }
  return fetch;
}

/** kafkajs's decoded fetch in `DecodedFetch`'s shape (exported for its test). */
export function fromKafkajs(response: RawFetchResponse): DecodedFetch {
  return {
    clientSideThrottleTime: 0,
    responses: response.responses.map(({ topicName, partitions }) => ({
      topicName,
      partitions: partitions.map(({ partition, errorCode, highWatermark, messages }) => {
        const records: KafkaRecord[] = [];
        for (const m of messages) {
          if (m.isControlRecord) continue;
          records.push({ topic: topicName, partition, offset: Number(m.offset), timestamp: Number(m.timestamp), key: m.key, value: m.value, headers: m.headers });
        }
        const last = messages[messages.length - 1];
        return { partition, errorCode, highWatermark: Number(highWatermark), records, nextOffset: last ? Number(last.offset) + 1 : -1 };
      }),
    })),
  };
}
