import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { sink } from '../../src/stages/sink.js';
import { countingSource, isSettled, settle, within } from './support.js';

/**
 * A Writable with a one-byte buffer whose writes complete only when the test says so: every write
 * returns false (so the sink must wait for `drain`), and `drain` comes only after `release()`.
 */
function slowWritable() {
  const written: Array<string | Buffer> = [];
  const callbacks: Array<(err?: Error | null) => void> = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const writable = new Writable({
    highWaterMark: 1,
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      written.push(chunk);
      callbacks.push(callback);
      for (const w of waiters.filter((w) => written.length >= w.count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
  });
  return {
    writable,
    written,
    /** Resolves once the writable has received `count` chunks in all. */
    writes: (count: number) =>
      written.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    /** Completes the pending writes, which lets the writable emit `drain`. */
    release: () => {
      for (const callback of callbacks.splice(0)) callback();
    },
  };
}

/** A Writable that takes everything at once. */
function fastWritable() {
  const written: Array<string | Buffer> = [];
  const writable = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      written.push(chunk);
      callback();
    },
  });
  return { writable, written };
}

const listeners = (w: Writable) => ({ drain: w.listenerCount('drain'), close: w.listenerCount('close') });

describe('sink', () => {
  it('writes every chunk, in order, and resolves when the source ends', async () => {
    const { writable, written } = fastWritable();
    await within(sink(writable)(countingSource(['a', 'b', 'c'])));
    assert.deepEqual(written, ['a', 'b', 'c']);
  });

  it('writes Uint8Array chunks as bytes', async () => {
    const { writable, written } = fastWritable();
    await within(sink(writable)(countingSource([new TextEncoder().encode('héllo')])));
    assert.equal(Buffer.concat(written.map((c) => Buffer.from(c))).toString('utf8'), 'héllo');
  });

  it('leaves ending the writable to its owner', async () => {
    const { writable } = fastWritable();
    await sink(writable)(countingSource(['a']));
    assert.equal(writable.writableEnded, false);
  });

  it('waits for drain when write returns false, without pulling upstream meanwhile', async () => {
    const slow = slowWritable();
    const source = countingSource(['one', 'two', 'three']);
    const done = sink(slow.writable)(source);

    await within(slow.writes(1), 1000, 'first write');
    assert.deepEqual(slow.written, ['one']);
    assert.equal(slow.writable.writableNeedDrain, true);
    await settle(20);
    assert.equal(source.pulls, 1, 'the sink pulled upstream while waiting for drain');
    assert.equal(await isSettled(done), false);

    slow.release();
    await within(slow.writes(2), 1000, 'second write after drain');
    assert.deepEqual(slow.written, ['one', 'two']);
    await settle(20);
    assert.equal(source.pulls, 2);

    slow.release();
    await within(slow.writes(3), 1000, 'third write after drain');
    slow.release();
    await within(done, 1000, 'sink to finish');
    assert.deepEqual(slow.written, ['one', 'two', 'three']);
    assert.equal(source.finished, true);
  });

  it('resolves when the writable is destroyed while waiting for drain, and closes the source', async () => {
    const slow = slowWritable();
    const source = countingSource(['one', 'two', 'three']);
    const done = sink(slow.writable)(source);
    await within(slow.writes(1), 1000, 'first write');
    assert.equal(await isSettled(done), false);

    slow.writable.destroy();
    await within(done, 1000, 'sink to resolve after destroy');
    assert.deepEqual(slow.written, ['one']);
    assert.equal(source.pulls, 1);
    assert.equal(source.finished, true, 'the source iterator was not returned');
  });

  it('stops before writing when the writable was destroyed between chunks', async () => {
    const { writable, written } = fastWritable();
    async function* source() {
      yield 'one';
      writable.destroy();
      yield 'two';
      yield 'three';
    }
    await within(sink(writable)(source()));
    assert.deepEqual(written, ['one']);
  });

  it('writes nothing to a writable that has already ended', async () => {
    const { writable, written } = fastWritable();
    writable.end();
    const source = countingSource(['a', 'b']);
    await within(sink(writable)(source));
    assert.deepEqual(written, []);
    assert.equal(source.pulls, 1);
    assert.equal(source.finished, true);
  });

  it('leaves no drain or close listeners behind after waiting for drain', async () => {
    const slow = slowWritable();
    const before = listeners(slow.writable);
    const chunks = Array.from({ length: 30 }, (_, i) => `chunk ${i}`);
    const done = sink(slow.writable)(countingSource(chunks));
    for (let i = 0; i < chunks.length; i++) {
      await within(slow.writes(i + 1), 1000, `write ${i}`);
      if (i === 0) {
        const waiting = listeners(slow.writable);
        assert.equal(waiting.drain, before.drain + 1);
        assert.equal(waiting.close, before.close + 1);
      }
      slow.release();
    }
    await within(done, 1000, 'sink to finish');
    assert.deepEqual(listeners(slow.writable), before);
  });

  it('leaves no drain or close listeners behind after a destroy mid-wait', async () => {
    const slow = slowWritable();
    const before = listeners(slow.writable);
    const done = sink(slow.writable)(countingSource(['a', 'b']));
    await within(slow.writes(1));
    slow.writable.destroy();
    await within(done);
    assert.deepEqual(listeners(slow.writable), before);
  });

  it('rejects with the error of a failing source', async () => {
    const { writable, written } = fastWritable();
    const failure = new Error('stage failed');
    async function* source() {
      yield 'a';
      throw failure;
    }
    await assert.rejects(sink(writable)(source()), (err) => err === failure);
    assert.deepEqual(written, ['a']);
  });
});
