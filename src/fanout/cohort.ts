// Fan-out: streams that have caught up, read the same partitions in the same order and shape their bytes
// the same way are at the same positions, so they would send byte-identical events. A cohort fetches and
// encodes each batch once for all of them and writes the same Buffer to every member's socket. A member
// whose socket cannot take a batch leaves at once, catches up alone and comes back
// (docs/decisions/011-cohort-fan-out.md).
import { defaultStages } from '../pipeline.js';
import type { FetchedPartition, RecordSource } from '../source/source.js';
import { batchOf } from '../stages/consume.js';
import type { Filterer } from '../stages/filter.js';
import type { KafkaRecord, Logger, Position, RecordBatch } from '../types.js';

/** What shapes the bytes of a cohort's events, besides its partitions. */
export interface CohortShape {
  format: 'sse' | 'ndjson';
  filterer?: Filterer;
  tombstones?: 'skip' | 'delete';
  logger?: Logger;
}

/** Why a member is no longer in its cohort. */
export type Departure =
  /** Its socket's buffer was full after a batch: it has everything before `positions` and goes on alone from there. */
  | { kind: 'behind'; positions: Position[] }
  /** It asked to join at positions the cohort is not at: it goes on alone and asks again later. */
  | { kind: 'rejected' }
  /** Reading or encoding failed: every member ends with this error. */
  | { kind: 'error'; error: unknown };

/** A stream as a cohort sees it. */
export interface CohortMember {
  /**
   * Writes one batch's bytes (the same Buffer for every member). Returns false when the socket's buffer is
   * full: the member has the batch, but leaves the cohort.
   */
  deliver(chunk: Buffer, events: number, now: number): boolean;
  /** Told once, when it leaves the cohort for any reason but its own `leave`. */
  depart(how: Departure): void;
}

const same = (a: Position[], b: Position[]) =>
  a.length === b.length && a.every((p, i) => p.offset === b[i]!.offset && p.partition === b[i]!.partition && p.topic === b[i]!.topic);

/** The positions after a fetch (or a batch's progress): each partition in it moves to its next offset. */
export function advance(positions: Position[], progress: ReadonlyArray<{ topic: string; partition: number; nextOffset: number }>): Position[] {
  if (progress.length === 0) return positions;
  const moved = new Map(progress.map((f) => [`${f.topic}\u0000${f.partition}`, f.nextOffset]));
  return positions.map((p) => ({ ...p, offset: moved.get(`${p.topic}\u0000${p.partition}`) ?? p.offset }));
}

async function* batches<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

/**
 * One batch through the default stages, as a stream at `positions` that had caught up would send it: the
 * batch's events, then (a caught-up stream's empty fetch) the position block for records it filtered out.
 * The position block every pipeline starts with is left out: the members already have it.
 */
export async function encodeTailBatch(
  shape: CohortShape,
  positions: Position[],
  batch: RecordBatch<KafkaRecord>,
): Promise<{ chunk: Buffer | undefined; events: number }> {
  const counters = { events: 0, bytes: 0 };
  const stages = defaultStages({
    positions,
    format: shape.format,
    counters,
    ...(shape.filterer ? { filterer: shape.filterer } : {}),
    ...(shape.tombstones ? { tombstones: shape.tombstones } : {}),
    ...(shape.logger ? { logger: shape.logger } : {}),
  });
  const parts: Buffer[] = [];
  let skip = shape.format === 'sse' ? 1 : 0;
  for await (const chunk of stages(batches([batch, { records: [], progress: [] }]))) {
    if (skip > 0) {
      skip--;
      continue;
    }
    parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  const chunk = parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : Buffer.concat(parts);
  return { chunk, events: counters.events };
}

/** The streams at one position of one set of partitions, read and encoded once. */
class Cohort {
  readonly members = new Set<CohortMember>();
  private joiners: Array<{ member: CohortMember; positions: Position[] }> = [];
  /** True while the cohort waits for its next fetch: nothing is in hand, members may join at once. */
  waiting = false;
  private readonly stop = new AbortController();
  /** Batches delivered, for tests and metrics. */
  batches = 0;

  constructor(
    readonly key: string,
    /** Every member has received everything before these positions. */
    public positions: Position[],
    private readonly source: RecordSource,
    private readonly shape: CohortShape,
    private readonly registry: {
      gone(cohort: Cohort): void;
      departed(member: CohortMember, how: Departure): void;
      emit?: CohortEvents;
    },
  ) {}

  join(member: CohortMember, positions: Position[]): void {
    if (this.waiting) this.admit(member, positions);
    else this.joiners.push({ member, positions });
  }

  /** The member's stream ended: it goes without being told. */
  leave(member: CohortMember): void {
    this.members.delete(member);
    this.joiners = this.joiners.filter((j) => j.member !== member);
    if (this.waiting && this.members.size === 0) this.close();
  }

  private admit(member: CohortMember, positions: Position[]): void {
    if (same(positions, this.positions)) this.members.add(member);
    else this.registry.departed(member, { kind: 'rejected' });
  }

  private close(): void {
    this.registry.gone(this);
    this.stop.abort(new Error('cohort empty'));
  }

  async run(): Promise<void> {
    try {
      for (;;) {
        const joiners = this.joiners;
        this.joiners = [];
        for (const { member, positions } of joiners) this.admit(member, positions);
        if (this.members.size === 0) {
          this.registry.gone(this);
          return;
        }
        this.waiting = true;
        const startedAt = Date.now();
        let fetched: FetchedPartition[];
        try {
          fetched = await this.source.fetch(this.positions, { wait: true, signal: this.stop.signal });
        } finally {
          this.waiting = false;
        }
        if (this.stop.signal.aborted) return;
        if (fetched.length === 0) continue;
        this.registry.emit?.('consumer.fetch', { numberOfBatches: fetched.length, duration: Date.now() - startedAt, members: this.members.size });
        const next = advance(this.positions, fetched);
        const { chunk, events } = await encodeTailBatch(this.shape, this.positions, batchOf(fetched));
        this.positions = next;
        this.batches++;
        if (chunk === undefined) continue;
        const now = Date.now();
        for (const member of this.members) {
          let ok: boolean;
          try {
            ok = member.deliver(chunk, events, now);
          } catch (error) {
            // One member's failure (a throwing `onProgress`, say) ends that member, not the cohort.
            this.members.delete(member);
            this.registry.departed(member, { kind: 'error', error });
            continue;
          }
          if (!ok) {
            this.members.delete(member);
            this.registry.departed(member, { kind: 'behind', positions: next });
          }
        }
      }
    } catch (error) {
      if (this.stop.signal.aborted) return;
      this.registry.gone(this);
      const told = [...this.members, ...this.joiners.map((j) => j.member)];
      this.members.clear();
      this.joiners = [];
      for (const member of told) this.registry.departed(member, { kind: 'error', error });
    }
  }
}

/** Told of each cohort fetch (`consumer.fetch`, with the members it serves). */
export type CohortEvents = (type: 'consumer.fetch', payload: Record<string, unknown>) => void;

/** Where a stream stands against the cohort of its key. */
export type CohortState = 'none' | 'same' | 'other';

/**
 * The cohorts of one handle, by key. A key names everything that shapes a stream's bytes: the source,
 * the partitions in id order, the format and the filter.
 */
export class Fanout {
  private readonly cohorts = new Map<string, Cohort>();
  private readonly memberOf = new Map<CohortMember, Cohort>();
  /** Cohorts of whole topics read from now, by `tailKey` (see `tailPositions`). */
  private readonly tails = new Map<string, Cohort>();

  constructor(private readonly emit?: CohortEvents) {}

  /** The string of a running cohort equal to `key` (else `key`): thousands of streams hold one copy. */
  sharedKey(key: string): string {
    return this.cohorts.get(key)?.key ?? key;
  }

  /** Whether a cohort reads `key`, and whether it is at `positions` now. */
  state(key: string, positions: Position[]): CohortState {
    const cohort = this.cohorts.get(key);
    if (!cohort) return 'none';
    return same(cohort.positions, positions) ? 'same' : 'other';
  }

  /**
   * Puts `member`, which has everything before `positions`, in the cohort of `key` (made if there is
   * none). Unless its stream ends first (`leave`), the member is told by `depart` when it is out again.
   */
  join(key: string, source: RecordSource, shape: CohortShape, member: CohortMember, positions: Position[], tailKey?: string): void {
    let cohort = this.cohorts.get(key);
    if (cohort && tailKey !== undefined && !this.tails.has(tailKey)) this.tails.set(tailKey, cohort);
    if (!cohort) {
      cohort = new Cohort(key, positions.map((p) => ({ ...p })), source, shape, {
        gone: (c) => {
          if (this.cohorts.get(c.key) === c) this.cohorts.delete(c.key);
          for (const [k, t] of this.tails) if (t === c) this.tails.delete(k);
        },
        departed: (m, how) => {
          this.memberOf.delete(m);
          m.depart(how);
        },
        ...(this.emit ? { emit: this.emit } : {}),
      });
      this.cohorts.set(key, cohort);
      if (tailKey !== undefined) this.tails.set(tailKey, cohort);
      this.memberOf.set(member, cohort);
      cohort.join(member, positions);
      void cohort.run();
      return;
    }
    this.memberOf.set(member, cohort);
    cohort.join(member, positions);
  }

  /**
   * Where a stream of whole topics from now may start without asking Kafka: the positions of the cohort of
   * `tailKey` while it waits on the broker for records past the end of the log. Undefined when there is
   * no such cohort, or it has a batch in hand (its positions may then be behind the log's end).
   */
  tailPositions(tailKey: string): Position[] | undefined {
    const cohort = this.tails.get(tailKey);
    if (!cohort || !cohort.waiting || cohort.members.size === 0) return undefined;
    return cohort.positions.map((p) => ({ ...p }));
  }

  /** The member's stream ended (client gone, server closing): it leaves its cohort, if it is in one. */
  leave(member: CohortMember): void {
    const cohort = this.memberOf.get(member);
    if (!cohort) return;
    this.memberOf.delete(member);
    cohort.leave(member);
  }

  /** Cohorts running, and streams in them. */
  get stats(): { cohorts: number; members: number } {
    let members = 0;
    for (const c of this.cohorts.values()) members += c.members.size;
    return { cohorts: this.cohorts.size, members };
  }
}
