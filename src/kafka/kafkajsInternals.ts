// The one place that reaches below kafkajs's public API. kafkajs's consumer must join a group, and a
// group costs every connection a rebalance delay and the broker a group per client; its protocol layer
// (Cluster, Broker) can fetch assigned partitions with no group at all. That layer is not public, so
// the kafkajs version is pinned exactly and `assertSupportedKafkajs` fails loudly if the pin moves.
import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';
import type { KafkaRecord } from '../types.js';
import { decodeFetchV11, type DecodedFetch } from './fetchDecoder.js';

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

interface KafkajsPackage {
  version: string;
}

/** Throws unless the installed kafkajs is the pinned version and still has the private hook we use. */
export function assertSupportedKafkajs(kafka?: Kafka): void {
  const { version } = require('kafkajs/package.json') as KafkajsPackage;
  if (version !== PINNED_KAFKAJS_VERSION) {
    throw new Error(
      `kafka-sse reads Kafka through kafkajs ${PINNED_KAFKAJS_VERSION}'s protocol layer, but kafkajs ${version} is installed. ` +
        'Install the pinned version, or re-check src/kafka/kafkajsInternals.ts against the new one.',
    );
  }
  brokerSendRequest();
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

/** The kafkajs error type name (`OFFSET_OUT_OF_RANGE`, …) of a thrown error, if it has one. */
export function kafkaErrorType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

/** kafkajs's own verdict on whether retrying may help. */
export function isRetriable(err: unknown): boolean {
  return (err as { retriable?: unknown } | null)?.retriable === true;
}

interface ProtocolRequest {
  request: { apiVersion: number };
  response: { decode(payload: Buffer): Promise<unknown>; parse(data: unknown): Promise<unknown> };
}
type SendRequest = (this: RawBroker, request: ProtocolRequest) => Promise<unknown>;
type LookupRequest = (apiKey: number, definition: unknown) => (options: Record<string, unknown>) => ProtocolRequest;

const fetchRequests = (require('kafkajs/src/protocol/requests') as { requests: { Fetch: unknown } }).requests.Fetch;
const FETCH_API_KEY = (require('kafkajs/src/protocol/requests/apiKeys') as { Fetch: number }).Fetch;
// kafkajs's check of per-partition error codes (OFFSET_OUT_OF_RANGE and the rest become its errors).
const parseFetchErrors = (require('kafkajs/src/protocol/requests/fetch/v1/response') as { parse(data: unknown): Promise<unknown> }).parse;
const READ_COMMITTED = 1;

let sendRequest: SendRequest | undefined;

/** kafkajs's private `Broker#[sendRequest]`, which fetches are sent through (looked up once). */
function brokerSendRequest(): SendRequest {
  if (sendRequest) return sendRequest;
  const proto = (require('kafkajs/src/broker') as { prototype: Record<symbol, unknown> }).prototype;
  const symbol = Object.getOwnPropertySymbols(proto).find((s) => s.description === 'private:Broker:sendRequest');
  const send = symbol ? proto[symbol] : undefined;
  if (typeof send !== 'function') {
    throw new Error('kafkajs no longer has Broker#sendRequest, which fetches are sent through; see src/kafka/kafkajsInternals.ts');
  }
  return (sendRequest = send as SendRequest);
}

/**
 * A read_committed fetch whose answer is decoded by `decodeFetchV11` (records with number offsets, no
 * control or aborted records) when the broker speaks Fetch v11, as every broker since Kafka 2.3 does; by
 * kafkajs's decoder otherwise, converted to the same shape. Errors are kafkajs's either way.
 */
export async function fetchRecords(broker: RawBroker, request: FetchRequest): Promise<DecodedFetch> {
  const lookup = (broker as unknown as { lookupRequest: LookupRequest }).lookupRequest;
  const protocolRequest = lookup(FETCH_API_KEY, fetchRequests)({ ...request, isolationLevel: READ_COMMITTED });
  if (protocolRequest.request.apiVersion === 11) {
    protocolRequest.response = { decode: decodeFetchV11 as (payload: Buffer) => Promise<unknown>, parse: partitionErrors };
    return (await brokerSendRequest().call(broker, protocolRequest)) as DecodedFetch;
  }
  return fromKafkajs(await broker.fetch(request));
}

/**
 * kafkajs's check of partition error codes, applied to each partition alone: a partition with an error
 * keeps it (as kafkajs's error, with its `type` and `retriable`) instead of failing the whole response,
 * so streams reading other partitions of the same fetch go on.
 */
async function partitionErrors(data: unknown): Promise<DecodedFetch> {
  const fetch = data as DecodedFetch;
  for (const { topicName, partitions } of fetch.responses) {
    for (const part of partitions) {
      if (part.errorCode === 0 || part.error !== undefined) continue;
      try {
        await parseFetchErrors({ ...fetch, responses: [{ topicName, partitions: [part] }] });
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
