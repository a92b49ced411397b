// Resolving a parsed request against Kafka: are the topics allowed and real, do the partitions exist,
// and which exact offset does each partition start at.
import {
  NoTopicsAvailableError,
  PartitionNotFoundError,
  TopicNotAllowedError,
  TopicNotFoundError,
} from './errors.js';
import type { StartRequest } from './position.js';
import type { Source } from './source/source.js';
import type { Position } from './types.js';

export interface ResolveOptions {
  /** Only these topics may be streamed. Without it, every topic but Kafka's internal `__` ones. */
  allowedTopics?: string[] | undefined;
  /** Start of topics and assignments that name no position (ms epoch); otherwise they start at the latest offset. */
  atTimestamp?: number | undefined;
}

/**
 * Throws TopicNotAllowedError for the first topic outside `allowedTopics` (without it: Kafka's internal
 * `__` topics, unless named there). Needs no Kafka, so it runs before anything connects: a refused name
 * is a 404 even while Kafka is down, and says nothing about the cluster's health.
 */
export function refuseTopics(topics: Iterable<string>, allowedTopics: string[] | undefined): void {
  const allowed = allowedTopics ? new Set(allowedTopics) : undefined;
  for (const topic of topics) {
    if (allowed ? !allowed.has(topic) : topic.startsWith('__')) {
      throw new TopicNotAllowedError(`Topic ${topic} is not available for streaming`, { topic });
    }
  }
}

/** Validates `request` against a source (the Kafka cluster) and returns one exact start position per partition. */
export async function resolveStart(
  client: Pick<Source, 'topicPartitions' | 'resolve'>,
  request: StartRequest,
  options: ResolveOptions = {},
): Promise<Position[]> {
  const requested = [...new Set([...request.topics, ...request.partitions.map((p) => p.topic)])];
  refuseTopics(requested, options.allowedTopics);
  const allowed = options.allowedTopics ? new Set(options.allowedTopics) : undefined;
  const existing = await client.topicPartitions(allowed ? [...new Set([...requested, ...allowed])] : requested);
  if (allowed && ![...allowed].some((t) => existing.has(t))) {
    throw new NoTopicsAvailableError('None of the topics this server may stream exists');
  }
  const missing = requested.find((t) => !existing.has(t));
  if (missing !== undefined) throw new TopicNotFoundError(`Topic ${missing} does not exist`, { topic: missing });

  const starts: Array<{ topic: string; partition: number; offset?: number; timestamp?: number }> = [];
  const at = options.atTimestamp;
  for (const topic of request.topics) {
    for (let partition = 0; partition < existing.get(topic)!; partition++) {
      starts.push(at === undefined ? { topic, partition } : { topic, partition, timestamp: at });
    }
  }
  for (const p of request.partitions) {
    const count = existing.get(p.topic)!;
    if (p.partition >= count) {
      throw new PartitionNotFoundError(`Topic ${p.topic} has no partition ${p.partition} (it has ${count})`, {
        topic: p.topic,
        partition: p.partition,
      });
    }
    if (p.offset === undefined && p.timestamp === undefined && at !== undefined) starts.push({ ...p, timestamp: at });
    else starts.push(p);
  }
  return client.resolve(starts);
}
