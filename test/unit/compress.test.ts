import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBrotliDecompress, createGunzip, gunzipSync, brotliDecompressSync, type BrotliDecompress, type Gunzip } from 'node:zlib';
import { Writable } from 'node:stream';
import { parseCli } from '../../src/server/config.js';
import { compress, negotiateEncoding, type StreamEncoding } from '../../src/stages/compress.js';
import { sink } from '../../src/stages/sink.js';

const req = (acceptEncoding?: string) => ({ headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } });

test('negotiateEncoding: off unless the option is set', () => {
  assert.equal(negotiateEncoding(req('gzip, br'), undefined), undefined);
  assert.equal(negotiateEncoding(req('gzip, br'), false), undefined);
});

test('negotiateEncoding: gzip when accepted (preferred over br), br when only br, none for identity', () => {
  assert.equal(negotiateEncoding(req('gzip, deflate, br, zstd'), true), 'gzip');
  assert.equal(negotiateEncoding(req('br'), true), 'br');
  assert.equal(negotiateEncoding(req('x-gzip'), true), 'gzip');
  assert.equal(negotiateEncoding(req('identity'), true), undefined);
  assert.equal(negotiateEncoding(req(), true), undefined);
  assert.equal(negotiateEncoding(req('*'), true), 'gzip');
});

test('negotiateEncoding: honours q=0 and codings switched off by options', () => {
  assert.equal(negotiateEncoding(req('gzip;q=0, br'), true), 'br');
  assert.equal(negotiateEncoding(req('*, gzip;q=0'), true), 'br');
  assert.equal(negotiateEncoding(req('gzip, br'), { gzip: false }), 'br');
  assert.equal(negotiateEncoding(req('gzip'), { gzip: false }), undefined);
});

/** A decoder fed piece by piece, with everything it has decoded so far. */
function decoder(encoding: StreamEncoding): { write(piece: Uint8Array): Promise<string> } {
  const stream: Gunzip | BrotliDecompress = encoding === 'gzip' ? createGunzip() : createBrotliDecompress();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return {
    // The decoder's own flush returns once it has handed over all it can decode from the input so far.
    async write(piece) {
      stream.write(piece);
      await new Promise<void>((resolve) => stream.flush(() => resolve()));
      return text;
    },
  };
}

for (const encoding of ['gzip', 'br'] as const) {
  test(`compress(${encoding}): every chunk out decodes, on its own arrival, to everything sent so far (flushed per chunk)`, async () => {
    const chunks = ['retry: 2000\n\n', 'event: message\nid: 1\ndata: {"a":1}\n\n', ': heartbeat\n\n', Buffer.from('event: message\nid: 2\ndata: {"a":2}\n\n')];
    const decode = decoder(encoding);
    let sent = '';
    let i = 0;
    for await (const piece of compress(encoding)((async function* () { yield* chunks; })())) {
      if (i < chunks.length) {
        sent += chunks[i++]!.toString();
        assert.equal(await decode.write(piece), sent, `chunk ${i} was held back in the compressor`);
      } else {
        await decode.write(piece); // the trailer
      }
    }
    assert.equal(i, chunks.length);
  });

  test(`compress(${encoding}): the whole output is one complete ${encoding} body`, async () => {
    const text = Array.from({ length: 50 }, (_, n) => `event: message\nid: ${n}\ndata: {"n":${n}}\n\n`);
    const pieces: Uint8Array[] = [];
    for await (const piece of compress(encoding)((async function* () { yield* text; })())) pieces.push(piece);
    const body = Buffer.concat(pieces);
    assert.equal((encoding === 'gzip' ? gunzipSync(body) : brotliDecompressSync(body)).toString(), text.join(''));
  });
}

test('compress pulls one chunk from its source per chunk it yields (backpressure reaches the source)', async () => {
  let pulled = 0;
  const source = (async function* () {
    for (let n = 0; n < 100; n++) {
      pulled++;
      yield `data: ${n}\n\n`;
    }
  })();
  const iterator = compress('gzip')(source);
  await iterator.next();
  await iterator.next();
  assert.equal(pulled, 2);
  await iterator.return(undefined);
});

test('compress before the Node sink: a client that does not read stops the source after a chunk or two', async () => {
  let pulled = 0;
  const source = (async function* () {
    for (let n = 0; n < 1000; n++) {
      pulled++;
      yield `data: ${'x'.repeat(1000)} ${n}\n\n`;
    }
  })();
  // A socket that never drains: write() returns false at once, and no 'drain' ever comes.
  const stalled = new Writable({ highWaterMark: 1, write: () => {} });
  const done = sink(stalled)(compress('gzip')(source));
  await new Promise((resolve) => setTimeout(resolve, 100)); // time for a runaway pull to show
  assert.ok(pulled <= 2, `the source was pulled ${pulled} times while the client read nothing`);
  stalled.destroy();
  await done;
});

test('kafka-sse serve --compress (or COMPRESS=1) turns compression on; off by default', () => {
  const config = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const parsed = parseCli(argv, env);
    assert.equal(parsed.command, 'serve');
    return parsed.command === 'serve' ? parsed.config : undefined;
  };
  assert.equal(config(['serve'])?.compress, false);
  assert.equal(config(['serve', '--compress'])?.compress, true);
  assert.equal(config(['serve'], { COMPRESS: '1' })?.compress, true);
});
