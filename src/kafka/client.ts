// The kafkajs adapter of the `Source` port (src/source/source.ts): topic metadata, start positions, and
// group-less fetches. Stages see only `KafkaRecord`s and positions; nothing outside src/kafka/ imports
// kafkajs (but types).
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { ConsumeError, KafkaSseError, KafkaUnavailableError, TopicDeletedError, UnsupportedCompressionError } from '../errors.js';
import { CodecUnavailableError } from './codecs.js';
import { silentLogger } from '../logger.js';
import type { FetchedPartition, FetchOptions, Source, StartPosition } from '../source/source.js';
import type { Logger, Position } from '../types.js';
import { classify, isRetriable, type ErrorKind } from './errors.js';
import { kafkajsLogCreator } from './logging.js';
import { createCluster, fetchRecords, kafkajsInternals, type KafkajsInternals, type RawBroker, type RawCluster } from './kafkajsInternals.js';
import type { DecodedFetch, DecodedPartition } from './fetchDecoder.js';

export type { FetchedPartition, FetchOptions } from '../source/source.js';

export interface ClientTuning {
  /** How long a tail long-poll waits on the broker before it is renewed (ms). */
  pollMaxWaitMs?: number;
  /** Bytes fetched per partition per request. */
  partitionMaxBytes?: number;
  /** How long transient Kafka failures are retried mid-stream before the stream ends with an error (ms). */
  retryWindowMs?: number;
}

type Leaders = Map<number, number>;
const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const offsetKey = (topic: string, partition: number, timestamp: string) => `${topic}\u0000${partition}\u0000${timestamp}`;
const EARLIEST = '-2';
const LATEST = '-1';

/**
 * Picks out of a fetch response what a stream at `positions` has not read yet. A response serves several
 * streams in the tail long-poll: the first stream to take a partition's records gets them, the others
 * copies, since stages may change the records they are given. Throws the error of a partition this
 * stream reads, if one failed; partitions it does not read cannot fail it.
 */
function slice(response: DecodedFetch, positions: Position[], taken?: Set<DecodedPartition>): FetchedPartition[] {
  const wanted = new Map(positions.map((p) => [key(p.topic, p.partition), p.offset]));
  const out: FetchedPartition[] = [];
  for (const { topicName, partitions } of response.responses) {
    for (const part of partitions) {
      const from = wanted.get(key(topicName, part.partition));
      if (from === undefined) continue;
      if (part.error !== undefined) throw part.error;
      if (part.nextOffset <= from) continue;
      let records = part.records;
      // A batch read from its start (compressed, or the log rolled) may begin before the asked offset.
      if (records.length > 0 && records[0]!.offset < from) records = records.filter((r) => r.offset >= from);
      if (taken) {
        if (taken.has(part)) records = records.map((r) => ({ ...r }));
        else taken.add(part);
      }
      out.push({ topic: topicName, partition: part.partition, records, nextOffset: part.nextOffset });
    }
  }
  return out;
}

interface Waiter {
  positions: Position[];
  resolve(result: FetchedPartition[]): void;
  reject(err: unknown): void;
}

/**
 * One long-poll per broker for every stream that has caught up: their positions are merged into a
 * single fetch, and each stream gets its slice of the answer. Idle streams cost nothing but a waiter.
 */
class TailPoller {
  private readonly waiters = new Set<Waiter>();
  private running = false;
  fetches = 0;

  constructor(
    private readonly internals: KafkajsInternals,
    private readonly broker: () => Promise<RawBroker>,
    private readonly maxWaitMs: number,
    private readonly partitionMaxBytes: number,
  ) {}

  add(waiter: Waiter): () => void {
    this.waiters.add(waiter);
    if (!this.running) void this.loop();
    return () => this.waiters.delete(waiter);
  }

  get size(): number {
    return this.waiters.size;
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.waiters.size > 0) {
        const merged = new Map<string, { topic: string; partition: number; offset: number }>();
        for (const w of this.waiters) {
          for (const p of w.positions) {
            const k = key(p.topic, p.partition);
            const seen = merged.get(k);
            if (!seen || p.offset < seen.offset) merged.set(k, { ...p });
          }
        }
        let response: DecodedFetch;
        try {
          this.fetches++;
          const broker = await this.broker();
          response = await fetchRecords(this.internals, broker, {
            maxWaitTime: this.maxWaitMs,
            minBytes: 1,
            maxBytes: Math.min(this.partitionMaxBytes * merged.size, 50 * 1024 * 1024),
            topics: fetchTopics([...merged.values()], this.partitionMaxBytes),
          });
        } catch (err) {
          for (const w of this.waiters) w.reject(err);
          this.waiters.clear();
          break;
        }
        const taken = new Set<DecodedPartition>();
        for (const w of [...this.waiters]) {
          let result: FetchedPartition[];
          try {
            result = slice(response, w.positions, taken);
          } catch (err) {
            // A partition only this waiter reads failed: the others on this broker carry on.
            this.waiters.delete(w);
            w.reject(err);
            continue;
          }
          if (result.length > 0) {
            this.waiters.delete(w);
            w.resolve(result);
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}

/**
 * A group-less reader of a Kafka cluster through a kafkajs instance: the kafkajs adapter of `Source`.
 * One instance can serve every stream of a process: it keeps one connection per broker for quick
 * requests and one for the merged tail long-polls. Constructing it checks the kafkajs version of the
 * instance (exactly 2.2.4) and throws if it is another.
 */
export class KafkaClient implements Source {
  private readonly internals: KafkajsInternals;
  private readonly direct: RawCluster;
  private readonly tail: RawCluster;
  private connected?: Promise<void>;
  private readonly leaders = new Map<string, Leaders>();
  private readonly pollers = new Map<number, TailPoller>();
  /** The tuning in effect (defaults filled in). */
  readonly tuning: Readonly<Required<ClientTuning>>;
  private closed = false;
  /** Fetch requests sent, for tests and metrics. */
  directFetches = 0;
  /** Metadata and ListOffsets requests in flight, by what they ask: callers asking the same share one. */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    readonly kafka: Kafka,
    tuning: ClientTuning = {},
  ) {
    this.direct = createCluster(kafka);
    this.tail = createCluster(kafka);
    this.internals = kafkajsInternals(kafka);
    this.tuning = {
      pollMaxWaitMs: tuning.pollMaxWaitMs ?? 500,
      partitionMaxBytes: tuning.partitionMaxBytes ?? 512 * 1024,
      retryWindowMs: tuning.retryWindowMs ?? 30_000,
    };
  }

  /**
   * A client for a kafkajs config. Never creates topics. kafkajs's log lines go to `logger` (warnings and
   * errors only) unless the config brings a `logCreator` of its own.
   */
  static fromConfig(config: KafkaConfig, tuning?: ClientTuning, logger: Logger = silentLogger): KafkaClient {
    return new KafkaClient(new Kafka({ logLevel: logLevel.WARN, logCreator: kafkajsLogCreator(logger), ...config }), tuning);
  }

  get tailFetches(): number {
    let n = 0;
    for (const p of this.pollers.values()) n += p.fetches;
    return n;
  }

  /** Streams currently waiting in a tail long-poll. */
  get waitingStreams(): number {
    let n = 0;
    for (const p of this.pollers.values()) n += p.size;
    return n;
  }

  async connect(): Promise<void> {
    if (this.closed) throw new KafkaUnavailableError('The Kafka client is closed');
    // Connecting reaches the seed broker only; the broker list comes with metadata. Without it, the first
    // request to a partition leader fails with "broker not found" and waits for a retry.
    this.connected ??= Promise.all([this.direct, this.tail].map((c) => c.connect().then(() => c.refreshMetadata()))).then(
      () => undefined,
      (err: unknown) => {
        this.connected = undefined;
        throw asUnavailable(err);
      },
    );
    return this.connected;
  }

  private async anyBroker(): Promise<RawBroker> {
    await this.connect();
    return this.direct.brokerPool.findConnectedBroker();
  }

  private async metadata(topics: string[]) {
    return this.once(`metadata\u0000${topics.join('\u0000')}`, async () => {
      const broker = await this.anyBroker();
      return broker.metadata(topics);
    });
  }

  /**
   * The answer of a request already in flight that asks the same (`key`), else of a new one. Streams
   * connecting together (a page reloaded by thousands of browsers) then cost one request, not thousands.
   */
  private once<T>(key: string, request: () => Promise<T>): Promise<T> {
    let pending = this.inFlight.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = request().finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  /**
   * Partition counts of the topics that exist (missing topics are absent from the map). Asks for each
   * topic by name with auto-creation off, so nothing is ever created.
   */
  async topicPartitions(topics: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    await Promise.all(
      [...new Set(topics)].map(async (topic) => {
        for (let attempt = 0; ; attempt++) {
          try {
            const md = await this.metadata([topic]);
            const meta = md.topicMetadata.find((t) => t.topic === topic);
            if (!meta) return;
            this.leaders.set(topic, new Map(meta.partitionMetadata.map((p) => [p.partitionId, p.leader])));
            found.set(topic, meta.partitionMetadata.length);
            return;
          } catch (err) {
            if (this.classify(err) === 'unknown-topic') return;
            // Only what kafkajs itself calls retriable (a leader moving, say): Kafka being unreachable
            // answers the request at once, so a client being set up hears it within its deadline.
            if (attempt >= 5 || !isRetriable(err)) throw asUnavailable(err);
            await delay(100 * 2 ** attempt);
          }
        }
      }),
    );
    return found;
  }

  /** Every topic on the cluster (internal ones excluded) with its partition count. */
  async listTopics(): Promise<Array<{ topic: string; partitions: number }>> {
    const md = await this.metadata([]).catch((err: unknown) => {
      throw asUnavailable(err);
    });
    return md.topicMetadata
      .filter((t) => !t.topic.startsWith('__'))
      .map((t) => ({ topic: t.topic, partitions: t.partitionMetadata.length }))
      .sort((a, b) => a.topic.localeCompare(b.topic));
  }

  private async leaderOf(topic: string, partition: number): Promise<number> {
    let leader = this.leaders.get(topic)?.get(partition);
    if (leader === undefined || leader < 0) {
      const found = await this.topicPartitions([topic]);
      if (!found.has(topic)) throw new TopicDeletedError(`Topic ${topic} no longer exists`, { topic });
      leader = this.leaders.get(topic)?.get(partition);
      if (leader === undefined || leader < 0) throw Object.assign(new Error('No leader'), { retriable: true });
    }
    return leader;
  }

  private async groupByLeader<P extends { topic: string; partition: number }>(items: P[]): Promise<Map<number, P[]>> {
    const groups = new Map<number, P[]>();
    for (const item of items) {
      const leader = await this.leaderOf(item.topic, item.partition);
      const list = groups.get(leader) ?? [];
      list.push(item);
      groups.set(leader, list);
    }
    return groups;
  }

  /**
   * ListOffsets for each (partition, timestamp) asked, keyed by `offsetKey`. A request names a partition
   * once, so the same partition at several timestamps takes several rounds.
   */
  private listOffsets(items: Array<{ topic: string; partition: number; timestamp: string }>): Promise<Map<string, number>> {
    return this.once(`offsets\u0000${items.map((i) => offsetKey(i.topic, i.partition, i.timestamp)).join('\u0001')}`, () => this.requestOffsets(items));
  }

  private async requestOffsets(items: Array<{ topic: string; partition: number; timestamp: string }>): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    let pending = [...new Map(items.map((i) => [offsetKey(i.topic, i.partition, i.timestamp), i])).values()];
    while (pending.length > 0) {
      const round = new Map<string, (typeof items)[number]>();
      const later: typeof items = [];
      for (const item of pending) {
        const k = key(item.topic, item.partition);
        if (round.has(k)) later.push(item);
        else round.set(k, item);
      }
      for (const [leader, group] of await this.groupByLeader([...round.values()])) {
        const broker = await this.direct.findBroker({ nodeId: leader });
        const { responses } = await broker.listOffsets({
          topics: byTopic(group, ({ partition, timestamp }) => ({ partition, timestamp })),
        });
        for (const { topic, partitions } of responses) {
          for (const { partition, offset } of partitions) out.set(offsetKey(topic, partition, round.get(key(topic, partition))!.timestamp), Number(offset));
        }
      }
      pending = later;
    }
    return out;
  }

  /**
   * Turns start requests into exact offsets: `offset` if it lies within the partition (else the latest
   * offset), else the first offset at or after `timestamp` (the end if there is none), else latest.
   */
  async resolve(requests: StartPosition[]): Promise<Position[]> {
    return this.withRetry(async () => {
      const all = requests.map(({ topic, partition }) => ({ topic, partition }));
      const [low, high] = await Promise.all([
        this.listOffsets(all.map((p) => ({ ...p, timestamp: EARLIEST }))),
        this.listOffsets(all.map((p) => ({ ...p, timestamp: LATEST }))),
      ]);
      const timed = requests.filter((r) => r.offset === undefined && r.timestamp !== undefined);
      const byTime = timed.length
        ? await this.listOffsets(timed.map((r) => ({ topic: r.topic, partition: r.partition, timestamp: String(r.timestamp) })))
        : new Map<string, number>();
      return requests.map(({ topic, partition, offset, timestamp }) => {
        const latest = high.get(offsetKey(topic, partition, LATEST)) ?? 0;
        const earliest = low.get(offsetKey(topic, partition, EARLIEST)) ?? 0;
        const atTime = timestamp === undefined ? undefined : byTime.get(offsetKey(topic, partition, String(timestamp)));
        let start = latest;
        if (offset !== undefined) start = offset >= earliest && offset <= latest ? offset : latest;
        else if (atTime !== undefined) start = atTime >= 0 ? atTime : latest;
        return { topic, partition, offset: start };
      });
    }, new AbortController().signal);
  }

  /**
   * Reads what follows `positions`. With `wait: false` answers at once (maybe empty); with `wait: true`
   * joins the broker's merged long-poll until something arrives for these positions. Transient Kafka
   * failures are retried for `retryWindowMs`; an offset that fell out of the log moves to the latest.
   */
  async fetch(positions: Position[], options: FetchOptions): Promise<FetchedPartition[]> {
    return this.withRetry(async () => {
      const groups = await this.groupByLeader(positions);
      if (!options.wait) {
        const results = await Promise.all(
          [...groups].map(async ([leader, group]) => {
            const broker = await this.direct.findBroker({ nodeId: leader });
            this.directFetches++;
            const response = await fetchRecords(this.internals, broker, {
              maxWaitTime: 0,
              minBytes: 1,
              maxBytes: this.tuning.partitionMaxBytes * group.length,
              topics: fetchTopics(group, this.tuning.partitionMaxBytes),
            });
            return slice(response, group);
          }),
        );
        return results.flat();
      }
      return this.waitForRecords(groups, options.signal);
    }, options.signal, (err) => {
      if (this.classify(err) !== 'offset-out-of-range') return undefined;
      // The log moved past these positions (retention): go on from the latest, as librdkafka did.
      return this.resolve(positions).then((moved) =>
        moved
          .filter((m, i) => m.offset !== positions[i]!.offset)
          .map(({ topic, partition, offset }) => ({ topic, partition, records: [], nextOffset: offset })),
      );
    });
  }

  private waitForRecords(groups: Map<number, Position[]>, signal: AbortSignal): Promise<FetchedPartition[]> {
    return new Promise((resolve, reject) => {
      const removers: Array<() => void> = [];
      const settle = (fn: () => void) => {
        for (const remove of removers) remove();
        signal.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = () => settle(() => reject(signal.reason));
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      for (const [leader, group] of groups) {
        removers.push(
          this.poller(leader).add({
            positions: group,
            resolve: (result) => settle(() => resolve(result)),
            reject: (err) => settle(() => reject(err)),
          }),
        );
      }
    });
  }

  private poller(nodeId: number): TailPoller {
    let poller = this.pollers.get(nodeId);
    if (!poller) {
      poller = new TailPoller(
        this.internals,
        async () => {
          // Each renewed long-poll of an open stream: reuse the connection made, connect only if there is none.
          await (this.closed || !this.connected ? this.connect() : this.connected);
          return this.tail.findBroker({ nodeId });
        },
        this.tuning.pollMaxWaitMs,
        this.tuning.partitionMaxBytes,
      );
      this.pollers.set(nodeId, poller);
    }
    return poller;
  }

  private async withRetry<T>(
    op: () => Promise<T>,
    signal: AbortSignal,
    recover?: (err: unknown) => Promise<T> | undefined,
  ): Promise<T> {
    const deadline = Date.now() + this.tuning.retryWindowMs;
    for (let attempt = 0; ; attempt++) {
      // A closed client must not reconnect: its leaders are cached, so op() would reach a broker again.
      if (this.closed) throw new KafkaUnavailableError('The Kafka client is closed');
      try {
        return await op();
      } catch (err) {
        if (signal.aborted || this.closed || err instanceof TopicDeletedError) throw err;
        const recovered = recover?.(err);
        if (recovered) return recovered;
        // An unknown topic is retried too: the retry asks for metadata again, and a topic that is gone
        // for good ends the stream with TopicDeletedError (leaderOf).
        const kind = this.classify(err);
        if ((kind !== 'transient' && kind !== 'unknown-topic') || Date.now() > deadline) throw readFailure(err);
        // Leaders may have moved or the broker restarted: forget what we knew and ask again.
        this.leaders.clear();
        await delay(Math.min(100 * 2 ** attempt, 2000), signal);
        await Promise.allSettled([this.direct.refreshMetadata(), this.tail.refreshMetadata()]);
      }
    }
  }

  /** What a failure means here, judged against the error classes of this instance's kafkajs. */
  private classify(err: unknown): ErrorKind {
    return classify(err, this.internals.errors);
  }

  /** Closes every broker connection. Streams still reading end with an error. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.direct.disconnect(), this.tail.disconnect()]);
  }
}

/** Groups per-partition request entries by topic, the shape Kafka's requests take. */
function byTopic<I extends { topic: string }, P>(items: I[], entry: (item: I) => P): Array<{ topic: string; partitions: P[] }> {
  const groups = new Map<string, P[]>();
  for (const item of items) {
    const list = groups.get(item.topic);
    if (list) list.push(entry(item));
    else groups.set(item.topic, [entry(item)]);
  }
  return [...groups].map(([topic, partitions]) => ({ topic, partitions }));
}

/** The `topics` of a fetch request reading each position, `maxBytes` per partition. */
function fetchTopics(positions: Position[], maxBytes: number) {
  return byTopic(positions, (p) => ({ partition: p.partition, fetchOffset: String(p.offset), maxBytes }));
}

/**
 * Kafka could not be reached. The message a client sees names no host, port, mechanism or library; what
 * happened stays on the error as its `cause`, for the server's log.
 */
function asUnavailable(err: unknown): Error {
  if (err instanceof KafkaUnavailableError) return err;
  return Object.assign(new KafkaUnavailableError('Kafka is not reachable; try again shortly', { retryAfterSeconds: 2 }), { cause: err });
}

/** The error that ends a stream whose read failed for good (or for longer than the retry window). */
function readFailure(err: unknown): Error {
  if (err instanceof KafkaSseError && !(err instanceof KafkaUnavailableError)) return err;
  if (err instanceof CodecUnavailableError) {
    return Object.assign(
      new UnsupportedCompressionError(`Records here are compressed with ${err.codec}, which this server cannot decode`, {
        codec: err.codec,
        retryAfterSeconds: 60,
      }),
      { cause: err },
    );
  }
  return Object.assign(new ConsumeError('Reading from Kafka failed; reconnect to resume from the last event'), { cause: err });
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const sharedClients = new WeakMap<Kafka, KafkaClient>();

/**
 * The process-wide client for a shared kafkajs instance: one set of connections for all its streams.
 * `tuning` applies when the client is made (the first call for this instance); a later call asking for
 * different tuning throws, since one client cannot honour two.
 */
export function sharedClient(kafka: Kafka, tuning?: ClientTuning): KafkaClient {
  let client = sharedClients.get(kafka);
  if (!client) {
    client = new KafkaClient(kafka, tuning);
    sharedClients.set(kafka, client);
  } else if (tuning) {
    for (const [name, value] of Object.entries(tuning) as Array<[keyof ClientTuning, number | undefined]>) {
      if (value !== undefined && client.tuning[name] !== value) {
        throw new Error(
          `The shared Kafka client of this kafkajs instance already runs with ${name} = ${client.tuning[name]}, not ${value}: ` +
            'pass the same clientTuning everywhere this instance is used, or close it first (closeSharedClient).',
        );
      }
    }
  }
  return client;
}

/** Closes the shared client of a kafkajs instance (for graceful shutdown). */
export async function closeSharedClient(kafka: Kafka): Promise<void> {
  const client = sharedClients.get(kafka);
  sharedClients.delete(kafka);
  await client?.close();
}
