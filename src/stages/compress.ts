import { constants, createBrotliCompress, createGzip, type BrotliCompress, type Gzip } from 'node:zlib';
import type { RequestLike } from '../types.js';

/** A content coding kafka-sse can send (RFC 9110 §8.4.1). */
export type StreamEncoding = 'gzip' | 'br';

/** Response compression, off by default: `true` for the defaults, or the levels and codings to offer. */
export interface CompressOptions {
  /** gzip level 1–9 (default 6), or false to never send gzip. */
  gzip?: number | false;
  /** Brotli quality 0–11 (default 4: 11 costs ~30× the CPU of 4 on event streams), or false to never send br. */
  br?: number | false;
}

/**
 * The coding a request gets: the accepted one (q > 0) of those offered, gzip preferred when both are
 * (it costs about half the CPU of br at quality 4 for a few percent more bytes; docs/performance.md).
 * `identity` (undefined) when nothing offered is accepted.
 */
export function negotiateEncoding(req: RequestLike, options: CompressOptions | boolean | undefined): StreamEncoding | undefined {
  if (!options) return undefined;
  const offered = options === true ? {} : options;
  const header = req.headers['accept-encoding'];
  const accepted = acceptedCodings(Array.isArray(header) ? header.join(',') : header ?? '');
  for (const coding of ['gzip', 'br'] as const) {
    if (offered[coding] === false) continue;
    const q = accepted.get(coding) ?? accepted.get('*');
    if (q !== undefined && q > 0) return coding;
  }
  return undefined;
}

/** `Accept-Encoding` as coding → q (RFC 9110 §12.5.3); `x-gzip` counts as gzip. */
function acceptedCodings(header: string): Map<string, number> {
  const codings = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    codings.set(name === 'x-gzip' ? 'gzip' : name, Number.isFinite(q) ? q : 0);
  }
  return codings;
}

/**
 * Compresses the stream with one compressor for its whole life, flushed after every chunk (Z_SYNC_FLUSH,
 * BROTLI_OPERATION_FLUSH): each chunk in — a batch, a heartbeat, the preamble — is one chunk out that
 * decodes to all of it, so no event waits in the compressor. Pulls one chunk per chunk it yields.
 */
export function compress(encoding: StreamEncoding, options: CompressOptions = {}) {
  return async function* (source: AsyncIterable<string | Uint8Array>): AsyncGenerator<Uint8Array> {
    const compressor = makeCompressor(encoding, options);
    const flushKind = encoding === 'br' ? constants.BROTLI_OPERATION_FLUSH : constants.Z_SYNC_FLUSH;
    const out: Buffer[] = [];
    // Flowing mode: output is handed over as it is made, never held back by the readable side's buffer.
    compressor.on('data', (piece: Buffer) => out.push(piece));
    let failure: Error | undefined;
    compressor.on('error', (err) => (failure = err));
    const take = (): Buffer => {
      if (failure) throw failure;
      const chunk = out.length === 1 ? out[0]! : Buffer.concat(out);
      out.length = 0;
      return chunk;
    };
    let finished = false;
    try {
      for await (const chunk of source) {
        if (chunk.length === 0) continue; // a flush of nothing would still send a few bytes
        compressor.write(chunk);
        await new Promise<void>((resolve) => compressor.flush(flushKind, () => resolve()));
        const compressed = take();
        if (compressed.length > 0) yield compressed;
      }
      // The end of the stream: the coding's trailer, so decoders see a complete body.
      const ended = new Promise<void>((resolve, reject) => {
        compressor.once('end', resolve);
        compressor.once('error', reject);
      });
      compressor.end();
      await ended;
      finished = true;
      const trailer = take();
      if (trailer.length > 0) yield trailer;
    } finally {
      if (!finished) compressor.close();
    }
  };
}

function makeCompressor(encoding: StreamEncoding, options: CompressOptions): Gzip | BrotliCompress {
  if (encoding === 'gzip') return createGzip({ level: typeof options.gzip === 'number' ? options.gzip : 6 });
  return createBrotliCompress({
    params: {
      [constants.BROTLI_PARAM_QUALITY]: typeof options.br === 'number' ? options.br : 4,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    },
  });
}
