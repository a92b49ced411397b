// Decompression of record batches, for the four codecs Kafka defines (the low three bits of a batch's
// attributes). gzip comes from node:zlib; snappy, lz4 and zstd from native packages (prebuilt binaries
// shipped in the npm registry) that are loaded on first use, so a platform without, say, snappy's binary
// still streams every other topic, and a batch that needs the missing codec fails with
// CodecUnavailableError. zstd falls back to a pure-JS decoder, slower, when its binary is missing.
// See docs/decisions/005-compression-codecs.md for why these packages and calls.
import { createRequire } from 'node:module';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';

const require = createRequire(import.meta.url);
const gunzipAsync = promisify(gunzip);

export type CodecName = 'gzip' | 'snappy' | 'lz4' | 'zstd';

const CODEC_IDS: ReadonlyArray<CodecName | undefined> = [undefined, 'gzip', 'snappy', 'lz4', 'zstd'];

/** The codec a record batch's attributes name, or undefined for an uncompressed batch (or an unknown id). */
export function codecName(attributes: number): CodecName | undefined {
  return CODEC_IDS[attributes & 0x07];
}

/** A batch names a codec this process cannot decompress: an unknown id, or a package that did not load. */
export class CodecUnavailableError extends Error {
  readonly codec: string;
  constructor(codec: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CodecUnavailableError';
    this.codec = codec;
  }
}

type Decompressor = (data: Buffer) => Buffer | Promise<Buffer>;

// Only what we call of each package.
interface SnappyModule {
  uncompressSync(data: Buffer, options: { asBuffer: true; copyOutputData: true }): Buffer;
}
interface Lz4Module {
  decompressFrameSync(data: Buffer): Buffer;
}
interface NodeZstdModule {
  Decoder: new () => { decodeSync(data: Buffer): Buffer };
}
interface FzstdModule {
  decompress(data: Uint8Array): Uint8Array;
}

// snappy-java's stream format, which the Java client writes: this header, a big-endian version and
// compatible-version, then chunks of [int32 length][raw snappy block]. kafkajs-snappy writes raw blocks.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER = 16;

function snappyDecompressor(snappy: SnappyModule): Decompressor {
  // Copying the output into a Node buffer is ~10× faster than handing over Rust's (bench/codecs.ts).
  const block = (data: Buffer) => snappy.uncompressSync(data, { asBuffer: true, copyOutputData: true });
  return (data) => {
    if (data.length < XERIAL_HEADER || !XERIAL_MAGIC.equals(data.subarray(0, XERIAL_MAGIC.length))) return block(data);
    const chunks: Buffer[] = [];
    let p = XERIAL_HEADER;
    while (p < data.length) {
      if (p + 4 > data.length) throw new Error(`truncated xerial chunk length at byte ${p} of ${data.length}`);
      const end = p + 4 + data.readUInt32BE(p);
      if (end > data.length) throw new Error(`xerial chunk at byte ${p} runs past the end (${end} > ${data.length})`);
      chunks.push(block(data.subarray(p + 4, end)));
      p = end;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  };
}

// Sync calls for the native codecs: a batch takes microseconds to a millisecond, and the hop to libuv's
// thread pool and back cost more than that in bench/codecs.ts (and queues behind fs, DNS and gzip under
// load). gzip keeps zlib's async form: it is the slow one.
const LOADERS: Record<CodecName, () => Decompressor> = {
  gzip: () => (data) => gunzipAsync(data),
  snappy: () => snappyDecompressor(require('snappy') as SnappyModule),
  lz4: () => {
    // Kafka's current format (magic 2) uses the standard LZ4 frame format.
    const lz4 = require('lz4-napi') as Lz4Module;
    return (data) => lz4.decompressFrameSync(data);
  },
  zstd: () => {
    // Both read frames without a content size, as zstd-jni's streaming encoder writes them.
    let native: NodeZstdModule;
    try {
      native = require('@toondepauw/node-zstd') as NodeZstdModule;
    } catch {
      const fzstd = require('fzstd') as FzstdModule;
      return (data) => {
        const out = fzstd.decompress(data);
        return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
      };
    }
    const decoder = new native.Decoder();
    return (data) => decoder.decodeSync(data);
  },
};

const loaded = new Map<CodecName, Decompressor | CodecUnavailableError>();

function decompressorFor(codecId: number): Decompressor {
  const name = CODEC_IDS[codecId];
  if (name === undefined) throw new CodecUnavailableError(String(codecId), `unknown compression codec id ${codecId}`);
  let entry = loaded.get(name);
  if (entry === undefined) {
    try {
      entry = LOADERS[name]();
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      entry = new CodecUnavailableError(name, `the ${name} codec could not be loaded: ${reason}`, { cause });
    }
    loaded.set(name, entry);
  }
  if (entry instanceof CodecUnavailableError) throw entry;
  return entry;
}

/**
 * Decompresses the records section of a batch compressed with codec `codecId` (1 gzip, 2 snappy, 3 lz4,
 * 4 zstd). Throws CodecUnavailableError when the codec is unknown or its package failed to load, and a
 * plain Error naming the codec when the data is corrupt.
 */
export async function decompress(codecId: number, data: Buffer): Promise<Buffer> {
  const decompressor = decompressorFor(codecId);
  try {
    return await decompressor(data);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new Error(`corrupt ${CODEC_IDS[codecId]} data in a record batch (${data.length} bytes): ${reason}`, { cause });
  }
}
