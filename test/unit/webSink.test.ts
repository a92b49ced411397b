import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { webSink } from '../../src/stages/webSink.js';
import { countingSource, isSettled, settle, within } from './support.js';

const decode = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

describe('webSink', () => {
  it('streams strings as UTF-8 bytes and closes when the source ends', async () => {
    const text = await within(new Response(webSink(countingSource(['héllo ', 'wörld ☃', '😀']))).text());
    assert.equal(text, 'héllo wörld ☃😀');
  });

  it('passes Uint8Array chunks through unchanged', async () => {
    const bytes = new Uint8Array([0xe2, 0x98, 0x83]);
    const reader = webSink(countingSource([bytes])).getReader();
    const { value } = await reader.read();
    assert.deepEqual(value, bytes);
    assert.deepEqual(await reader.read(), { done: true, value: undefined });
  });

  it('does not pull the source before anyone reads', async () => {
    const source = countingSource(['a', 'b', 'c']);
    const stream = webSink(source);
    await settle(20);
    assert.equal(source.pulls, 0);
    await stream.cancel();
  });

  it('pulls one chunk per read, never ahead of the reader', async () => {
    const source = countingSource(['a', 'b', 'c']);
    const reader = webSink(source).getReader();
    assert.equal(decode((await reader.read()).value), 'a');
    await settle(20);
    assert.equal(source.pulls, 1, 'pulled ahead after the first read');
    assert.equal(decode((await reader.read()).value), 'b');
    await settle(20);
    assert.equal(source.pulls, 2, 'pulled ahead after the second read');
    await reader.cancel();
  });

  it('cancel() returns the source iterator, so its finally runs', async () => {
    const source = countingSource(['a', 'b', 'c']);
    const reader = webSink(source).getReader();
    await reader.read();
    await within(reader.cancel(), 1000, 'cancel');
    assert.equal(source.finished, true);
    assert.equal(source.pulls, 1);
  });

  it('cancel() before any read still closes the source', async () => {
    let closed = false;
    const source = {
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.resolve({ done: false as const, value: 'x' }),
        return: () => {
          closed = true;
          return Promise.resolve({ done: true as const, value: undefined });
        },
      }),
    };
    await within(webSink(source).cancel());
    assert.equal(closed, true);
  });

  it('cancel() while a pull is pending closes the source once that pull settles', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let finished = false;
    async function* source() {
      try {
        yield 'first';
        await gate; // e.g. consume waiting for new records
        yield 'second';
      } finally {
        finished = true;
      }
    }
    const reader = webSink(source()).getReader();
    await reader.read();
    const pendingRead = reader.read();
    await settle();
    const cancelled = reader.cancel();
    assert.deepEqual(await within(pendingRead), { done: true, value: undefined });
    release();
    await within(cancelled, 1000, 'cancel after the pending pull settled');
    assert.equal(finished, true);
  });

  it('cancel() while a pull is pending ends the source promptly through onCancel, without waiting for more data', async () => {
    let finished = false;
    const abort = new AbortController();
    async function* source() {
      try {
        yield 'first';
        // e.g. consume waiting on a caught-up partition: only the abort signal ends the wait.
        await new Promise((_resolve, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason)));
      } catch {
        return;
      } finally {
        finished = true;
      }
    }
    const reader = webSink(source(), { onCancel: () => abort.abort(new Error('cancelled')) }).getReader();
    await reader.read();
    void reader.read().catch(() => {});
    await settle();
    const cancelled = reader.cancel();
    assert.equal(await isSettled(cancelled), true, 'cancel() is still waiting for the source');
    assert.equal(finished, true);
  });

  it('errors the stream when the source throws', async () => {
    async function* source() {
      yield 'a';
      throw new Error('stage failed');
    }
    const reader = webSink(source()).getReader();
    await reader.read();
    await assert.rejects(reader.read(), /stage failed/);
  });

  it('serves as a Response body for fetch-style frameworks', async () => {
    const response = new Response(webSink(countingSource(['data: 1\n\n'])), { headers: { 'content-type': 'text/event-stream' } });
    assert.equal(await within(response.text()), 'data: 1\n\n');
  });
});
