/** Something the wheel keeps alive: when it last wrote, and how to send a heartbeat. */
export interface Beating {
  /** When the stream last sent anything (ms since the epoch). */
  lastWrite: number;
  /** Sends one heartbeat comment (and sets `lastWrite`). */
  beat(now: number): void;
  /** Told when `beat` threw: the stream ends, the wheel and the other streams go on. */
  failed(err: unknown): void;
}

/**
 * One timer for the heartbeats of every stream of a handle, instead of a timer per stream re-armed on
 * every chunk. It ticks at a quarter of the interval (between 5 ms and 1 s), so a stream that sent nothing
 * for `intervalMs` gets its comment within `intervalMs` plus one tick.
 */
export class HeartbeatWheel {
  private readonly streams = new Set<Beating>();
  private timer: NodeJS.Timeout | undefined;
  private readonly tickMs: number;

  constructor(private readonly intervalMs: number) {
    this.tickMs = Math.min(1000, Math.max(5, Math.floor(intervalMs / 4)));
  }

  add(stream: Beating): void {
    this.streams.add(stream);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
  }

  remove(stream: Beating): void {
    this.streams.delete(stream);
    if (this.streams.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  get size(): number {
    return this.streams.size;
  }

  private tick(): void {
    const now = Date.now();
    for (const stream of this.streams) {
      if (now - stream.lastWrite < this.intervalMs) continue;
      try {
        stream.beat(now);
      } catch (err) {
        this.streams.delete(stream);
        stream.failed(err);
      }
    }
  }
}
