// decompress() against encoders that are not the packages it decodes with: node:zlib for gzip,
// kafkajs-snappy (raw blocks) and snappy-java's xerial framing built here around its blocks, LZ4 frames
// built here around the `lz4` package's blocks (so every frame flag can be set), and zstd-codec's
// one-shot and streaming encoders (the streaming one writes no content size, as zstd-jni does).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CodecUnavailableError, codecName, decompress } from '../../src/kafka/codecs.js';
import { mulberry32 } from '../helpers/prng.js';

const require = createRequire(import.meta.url);
const kafkajsSnappy = (require('kafkajs-snappy') as () => { compress(encoder: { buffer: Buffer }): Promise<Buffer> })();
const lz4 = require('lz4') as {
  encodeBound(size: number): number;
  encodeBlock(input: Buffer, output: Buffer): number;
  utils: { descriptorChecksum(d: Buffer): number; blockChecksum(d: Buffer): number; streamChecksum(d: Buffer | null, c: unknown): unknown };
};
interface ZstdCodecs {
  Simple: new () => { compress(data: Uint8Array, level: number): Uint8Array };
  Streaming: new () => { compress(data: Uint8Array, level: number): Uint8Array };
}
const { ZstdCodec } = require('zstd-codec') as { ZstdCodec: { run(cb: (zstd: ZstdCodecs) => void): void } };
const zstd = new Promise<ZstdCodecs>((resolve) => ZstdCodec.run(resolve));

const GZIP = 1;
const SNAPPY = 2;
const LZ4 = 3;
const ZSTD = 4;

/** ~300-byte JSON records back to back, like the records section of a batch of a JSON topic. */
function payload(records: number, seed = 1): Buffer {
  const random = mulberry32(seed);
  const parts: string[] = [];
  for (let n = 0; n < records; n++) {
    parts.push(JSON.stringify({ n, user: `user-${Math.floor(random() * 1000)}`, score: random(), pad: 'abcdefghij'.repeat(25) }));
  }
  return Buffer.from(parts.join('\n'));
}

function randomBytes(length: number, seed: number): Buffer {
  const random = mulberry32(seed);
  return Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
}

/** snappy-java's stream format: magic, version 1, compatible version 1, then [int32 length][block] chunks. */
async function xerial(data: Buffer, chunkSize: number): Promise<Buffer> {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const parts: Buffer[] = [header];
  for (let p = 0; p < data.length; p += chunkSize) {
    const block = await kafkajsSnappy.compress({ buffer: data.subarray(p, p + chunkSize) });
    const length = Buffer.alloc(4);
    length.writeUInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

interface Lz4FrameOptions {
  blockChecksum?: boolean;
  contentChecksum?: boolean;
  contentSize?: boolean;
  blockSize?: number;
}

/** An LZ4 frame (lz4 frame format 1.6.x), blocks independent, incompressible blocks stored raw. */
function lz4Frame(data: Buffer, options: Lz4FrameOptions = {}): Buffer {
  const blockSize = options.blockSize ?? 64 * 1024;
  const flg = 0x40 | 0x20 | (options.blockChecksum ? 0x10 : 0) | (options.contentSize ? 0x08 : 0) | (options.contentChecksum ? 0x04 : 0);
  const bd = 4 << 4; // 64 KiB maximum block size
  const descriptor = Buffer.alloc(options.contentSize ? 10 : 2);
  descriptor[0] = flg;
  descriptor[1] = bd;
  if (options.contentSize) descriptor.writeBigUInt64LE(BigInt(data.length), 2);
  const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18]), descriptor, Buffer.from([lz4.utils.descriptorChecksum(descriptor)])];
  for (let p = 0; p < data.length; p += blockSize) {
    const chunk = data.subarray(p, p + blockSize);
    const out = Buffer.alloc(lz4.encodeBound(chunk.length));
    const compressedSize = lz4.encodeBlock(chunk, out);
    const stored = compressedSize > 0 && compressedSize < chunk.length ? out.subarray(0, compressedSize) : chunk;
    const size = Buffer.alloc(4);
    size.writeUInt32LE(((stored === chunk ? 0x80000000 : 0) | stored.length) >>> 0);
    parts.push(size, stored);
    if (options.blockChecksum) {
      const checksum = Buffer.alloc(4);
      checksum.writeUInt32LE(lz4.utils.blockChecksum(stored));
      parts.push(checksum);
    }
  }
  parts.push(Buffer.alloc(4)); // end mark
  if (options.contentChecksum) {
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32LE(lz4.utils.streamChecksum(null, lz4.utils.streamChecksum(data, null)) as number);
    parts.push(checksum);
  }
  return Buffer.concat(parts);
}

describe('codecName', () => {
  it('reads the codec from the low three bits of a batch\'s attributes', () => {
    assert.deepEqual([0, 1, 2, 3, 4].map(codecName), [undefined, 'gzip', 'snappy', 'lz4', 'zstd']);
    assert.equal(codecName(0x10 | 0x08 | 0x04), 'zstd', 'transactional and LogAppendTime bits are ignored');
    assert.equal(codecName(5), undefined);
  });
});

describe('decompress', () => {
  const data = payload(500);

  it('gunzips what node:zlib gzipped', async () => {
    assert.ok((await decompress(GZIP, gzipSync(data))).equals(data));
  });

  it('reads a raw snappy block, as kafkajs-snappy writes it', async () => {
    const compressed = await kafkajsSnappy.compress({ buffer: data });
    assert.notEqual(compressed.readUInt8(0), 0x82, 'kafkajs-snappy writes raw blocks, not xerial');
    assert.ok((await decompress(SNAPPY, compressed)).equals(data));
  });

  it('reads snappy-java\'s xerial framing, as the Java client writes it, across many chunks', async () => {
    const compressed = await xerial(data, 32 * 1024);
    assert.ok(data.length > 4 * 32 * 1024, 'the payload spans several chunks');
    assert.ok((await decompress(SNAPPY, compressed)).equals(data));
    assert.ok((await decompress(SNAPPY, await xerial(data.subarray(0, 100), 32 * 1024))).equals(data.subarray(0, 100)), 'one chunk');
  });

  it('reads LZ4 frames with and without content checksum, block checksums and content size', async () => {
    const variants: Lz4FrameOptions[] = [
      {},
      { contentChecksum: true },
      { blockChecksum: true },
      { blockChecksum: true, contentChecksum: true, contentSize: true },
      { contentSize: true, blockSize: 1000 },
    ];
    for (const options of variants) {
      assert.ok((await decompress(LZ4, lz4Frame(data, options))).equals(data), JSON.stringify(options));
    }
  });

  it('reads LZ4 blocks stored uncompressed (incompressible data)', async () => {
    const noise = randomBytes(70_000, 7);
    assert.ok((await decompress(LZ4, lz4Frame(noise, { contentChecksum: true }))).equals(noise));
  });

  it('reads zstd frames with a content size and without one (streaming, as zstd-jni writes them)', async () => {
    const { Simple, Streaming } = await zstd;
    const oneShot = Buffer.from(new Simple().compress(data, 3));
    const streamed = Buffer.from(new Streaming().compress(data, 3));
    assert.ok((oneShot[4]! & 0xc0) !== 0, 'the one-shot frame records its content size');
    assert.equal(streamed[4]! & 0xc0, 0, 'the streamed frame has no content size');
    assert.ok((await decompress(ZSTD, oneShot)).equals(data));
    assert.ok((await decompress(ZSTD, streamed)).equals(data));
  });

  it('returns an empty buffer for empty input compressed by each codec', async () => {
    const empty = Buffer.alloc(0);
    const { Streaming } = await zstd;
    assert.equal((await decompress(GZIP, gzipSync(empty))).length, 0);
    assert.equal((await decompress(SNAPPY, await kafkajsSnappy.compress({ buffer: empty }))).length, 0);
    assert.equal((await decompress(LZ4, lz4Frame(empty))).length, 0);
    assert.equal((await decompress(ZSTD, Buffer.from(new Streaming().compress(empty, 3)))).length, 0);
  });

  it('rejects an unknown codec id with CodecUnavailableError naming it', async () => {
    for (const id of [0, 5, 6, 7]) {
      await assert.rejects(decompress(id, Buffer.from('x')), (err: unknown) => {
        assert.ok(err instanceof CodecUnavailableError, String(err));
        assert.equal(err.codec, String(id));
        assert.match(err.message, new RegExp(`unknown compression codec id ${id}`));
        return true;
      });
    }
  });

  it('rejects corrupt data with a plain Error that names the codec', async () => {
    const { Streaming } = await zstd;
    const cases: Array<[number, string, Buffer]> = [
      [GZIP, 'gzip', gzipSync(data).subarray(0, 100)],
      [SNAPPY, 'snappy', Buffer.from('not snappy at all')],
      [SNAPPY, 'snappy', (await xerial(data, 32 * 1024)).subarray(0, 40)],
      [LZ4, 'lz4', Buffer.from('not an lz4 frame')],
      [ZSTD, 'zstd', Buffer.from(new Streaming().compress(data, 3)).subarray(0, 50)],
    ];
    for (const [id, name, corrupt] of cases) {
      await assert.rejects(decompress(id, corrupt), (err: unknown) => {
        assert.ok(err instanceof Error && !(err instanceof CodecUnavailableError), `${name}: ${String(err)}`);
        assert.match(err.message, new RegExp(`^corrupt ${name} data in a record batch`));
        return true;
      });
    }
  });

  it('rejects an LZ4 frame whose content checksum does not match', async () => {
    const frame = lz4Frame(data, { contentChecksum: true });
    frame[frame.length - 1] ^= 0xff;
    await assert.rejects(decompress(LZ4, frame), /^Error: corrupt lz4 data/);
  });

  it('reports a codec whose package cannot be loaded as CodecUnavailableError, and still decodes the others', () => {
    const results = withoutModules(['snappy'], `
const results = [];
for (let i = 0; i < 2; i++) {
  try { await decompress(2, Buffer.from('x')); results.push('decoded'); }
  catch (err) { results.push(err instanceof CodecUnavailableError ? 'unavailable:' + err.codec + ':' + err.message : 'other:' + err); }
}
results.push((await decompress(1, gzipSync('still fine'))).toString());
console.log(JSON.stringify(results));
`);
    assert.match(results[0]!, /^unavailable:snappy:the snappy codec could not be loaded: Cannot find native binding \(test\)$/);
    assert.equal(results[1], results[0], 'the failed load is remembered, the same error each time');
    assert.equal(results[2], 'still fine');
  });

  it('decodes zstd with the pure-JS fallback when the native binary is missing, and only then reports it unavailable', async () => {
    const { Streaming } = await zstd;
    const frame = Buffer.from(new Streaming().compress(data, 3)).toString('base64');
    const script = `
try { console.log(JSON.stringify([(await decompress(4, Buffer.from('${frame}', 'base64'))).toString('base64')])); }
catch (err) { console.log(JSON.stringify([err instanceof CodecUnavailableError ? 'unavailable:' + err.codec : 'other:' + err])); }
`;
    assert.deepEqual(withoutModules(['@toondepauw/node-zstd'], script), [data.toString('base64')]);
    assert.deepEqual(withoutModules(['@toondepauw/node-zstd', 'fzstd'], script), ['unavailable:zstd']);
  });
});

/**
 * Runs `script` (an ES module body with gzipSync, decompress and CodecUnavailableError in scope) in a
 * fresh process in which requiring any of `modules` fails, as it does where a prebuilt binary is missing.
 * Returns the JSON the script printed.
 */
function withoutModules(modules: string[], script: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-sse-codecs-'));
  const hide = join(dir, 'hide.cjs');
  writeFileSync(hide, `const Module = require('node:module');
const hidden = new Set(${JSON.stringify(modules)});
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (hidden.has(request)) throw new Error('Cannot find native binding (test)');
  return resolve.call(this, request, ...rest);
};
`);
  const prelude = `import { gzipSync } from 'node:zlib';\nimport { CodecUnavailableError, decompress } from './src/kafka/codecs.ts';\n`;
  const run = spawnSync(process.execPath, ['--require', hide, '--import', 'tsx', '--input-type=module', '-e', prelude + script], { encoding: 'utf8', cwd: process.cwd() });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim()) as string[];
}
