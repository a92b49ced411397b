import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ndjsonEncode } from '../../src/stages/ndjsonEncode.js';
import { collect, fromBatches } from '../../src/testing.js';
import { deserializedRecord } from './support.js';

describe('ndjsonEncode', () => {
  it('encodes each batch as one chunk of newline-terminated JSON messages', async () => {
    const out = await collect(
      ndjsonEncode()(fromBatches([[deserializedRecord({ offset: 0, message: { a: 1 } }), deserializedRecord({ offset: 1, message: [2] })], [deserializedRecord({ offset: 2, message: 'three' })]])),
    );
    assert.deepEqual(out, ['{"a":1}\n[2]\n', '"three"\n']);
  });

  it('sends the message only: no SSE framing, no ids, no record metadata', async () => {
    const [chunk] = await collect(ndjsonEncode()(fromBatches([[deserializedRecord({ topic: 'secret-topic', offset: 99, message: { ok: true } })]])));
    assert.equal(chunk, '{"ok":true}\n');
  });

  it('keeps line breaks inside messages escaped, one message per line', async () => {
    const message = { text: 'line 1\nline 2\r\nline 3\rline 4\u2028end' };
    const [chunk] = await collect(ndjsonEncode()(fromBatches([[deserializedRecord({ message }), deserializedRecord({ offset: 1, message })]])));
    const lines = chunk!.split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[2], '');
    assert.deepEqual(JSON.parse(lines[0]!), message);
    assert.deepEqual(JSON.parse(lines[1]!), message);
  });

  it('writes null for a message JSON cannot represent', async () => {
    const [chunk] = await collect(ndjsonEncode()(fromBatches([[{ ...deserializedRecord(), message: undefined }, deserializedRecord({ offset: 1, message: () => 1 })]])));
    assert.equal(chunk, 'null\nnull\n');
  });

  it('yields nothing for batches without records', async () => {
    assert.deepEqual(await collect(ndjsonEncode()(fromBatches([[], []]))), []);
  });
});
