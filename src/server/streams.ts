// The server's list of open streams: what graceful shutdown ends and what the demo's drop route cuts.
import type { ServerResponse } from 'node:http';

/** One stream the server is serving right now. */
export interface OpenStream {
  readonly res: ServerResponse;
  /** The `client` query parameter the stream was opened with (the demo page sets one), if any. */
  readonly clientId: string | undefined;
  readonly clientAddress: string | undefined;
  /** Settles when the library's handler has finished with the stream. */
  readonly done: Promise<void>;
}

export class StreamRegistry {
  private readonly streams = new Set<OpenStream>();

  /** Tracks a stream until `done` settles. */
  track(stream: OpenStream): void {
    this.streams.add(stream);
    void stream.done.finally(() => this.streams.delete(stream));
  }

  get size(): number {
    return this.streams.size;
  }

  /** Streams opened with this `client` id, or (when none is given) from this address. */
  ofClient(clientId: string | undefined, clientAddress: string | undefined): OpenStream[] {
    return [...this.streams].filter((s) => (clientId !== undefined ? s.clientId === clientId : s.clientAddress === clientAddress));
  }

  /**
   * Ends every stream cleanly: the response finishes as a well-formed (chunked) HTTP response, so each
   * client sees the stream end and reconnects with its `Last-Event-ID` — to another instance if this one
   * is gone (a stream not yet started is cut, so its client retries). Resolves when the library's
   * handlers have finished, or after `timeoutMs`.
   */
  async endAll(timeoutMs: number): Promise<boolean> {
    const started = [...this.streams].filter(({ res }) => res.headersSent);
    for (const { res } of this.streams) {
      // A stream still being set up has no headers yet: ending it would send an empty 200, which an
      // EventSource treats as fatal. Cutting the connection makes the client retry instead; its setup
      // (perhaps waiting on a slow broker) is not waited for.
      if (!res.headersSent) res.destroy();
      else if (!res.writableEnded) res.end();
    }
    return settlesWithin(Promise.allSettled(started.map((s) => s.done)), timeoutMs);
  }
}

/** True if `promise` settles within `ms`; leaves no timer behind. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
