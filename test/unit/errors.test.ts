import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as errors from '../../src/errors.js';
import { InternalError, InvalidAssignmentError, KafkaSseError, StageError, toClientError } from '../../src/errors.js';

type ErrorClass = new (message: string, details?: Record<string, unknown>) => KafkaSseError;

/** Every exported subclass of KafkaSseError, by its export name. */
const errorClasses = Object.entries(errors as Record<string, unknown>).filter(
  (entry): entry is [string, ErrorClass] =>
    typeof entry[1] === 'function' && entry[1] !== KafkaSseError && (entry[1] as ErrorClass).prototype instanceof KafkaSseError,
);

describe('errors', () => {
  it('exports the error classes (sanity check of the enumeration below)', () => {
    assert.ok(errorClasses.length >= 10, `found only ${errorClasses.map(([n]) => n).join(', ')}`);
  });

  it('gives every exported error class a unique, KSSE_-prefixed code', () => {
    const seen = new Map<string, string>();
    for (const [name, Cls] of errorClasses) {
      const { code } = new Cls('x');
      assert.match(code, /^KSSE_[A-Z0-9_]+$/, `${name} has code ${code}`);
      assert.ok(!seen.has(code), `${name} and ${seen.get(code)} share the code ${code}`);
      seen.set(code, name);
    }
  });

  it('gives every error class an HTTP error status and its export name as name', () => {
    for (const [name, Cls] of errorClasses) {
      const err = new Cls('something went wrong');
      assert.ok(Number.isInteger(err.status) && err.status >= 400 && err.status <= 599, `${name}: status ${err.status}`);
      assert.equal(err.name, name);
      assert.equal(Cls.name, name);
      assert.ok(err instanceof KafkaSseError && err instanceof Error);
      assert.equal(err.message, 'something went wrong');
      assert.match(String(err), new RegExp(`^${name}: something went wrong`));
    }
  });

  it('keeps the same code and status for every instance of a class', () => {
    for (const [name, Cls] of errorClasses) {
      const a = new Cls('a');
      const b = new Cls('b', { extra: 1 });
      assert.equal(a.code, b.code, name);
      assert.equal(a.status, b.status, name);
    }
  });

  it('toJSON has name, code, status and message, and no stack', () => {
    for (const [name, Cls] of errorClasses) {
      const json = new Cls('boom').toJSON();
      assert.equal(json.name, name);
      assert.equal(typeof json.code, 'string');
      assert.equal(typeof json.status, 'number');
      assert.equal(json.message, 'boom');
      assert.equal('stack' in json, false, `${name}.toJSON() leaks a stack`);
      const wire = JSON.parse(JSON.stringify(new Cls('boom'))) as Record<string, unknown>;
      assert.deepEqual(wire, json, `${name}: JSON.stringify goes through toJSON`);
      assert.equal(JSON.stringify(new Cls('boom')).includes('at '), false);
    }
  });

  it('toJSON includes details, but details cannot overwrite name, code, status or message', () => {
    const err = new InvalidAssignmentError('bad', { topic: 't', code: 'FAKE', status: 200, name: 'X', message: 'forged' });
    assert.deepEqual(err.toJSON(), {
      topic: 't',
      name: 'InvalidAssignmentError',
      code: 'KSSE_INVALID_ASSIGNMENT',
      status: 400,
      message: 'bad',
    });
  });

  it('the base class carries whatever code and status it is given', () => {
    const err = new KafkaSseError('KSSE_CUSTOM', 418, 'teapot');
    assert.deepEqual(err.toJSON(), { name: 'KafkaSseError', code: 'KSSE_CUSTOM', status: 418, message: 'teapot' });
  });

  describe('toClientError', () => {
    it('passes a KafkaSseError through unchanged', () => {
      const err = new StageError('a stage threw');
      assert.equal(toClientError(err), err);
    });

    it('turns anything else into a generic InternalError that does not leak the original message', () => {
      for (const thrown of [new Error('password=hunter2 at db.internal'), 'a string', null, undefined, 42, { message: 'secret' }]) {
        const err = toClientError(thrown);
        assert.ok(err instanceof InternalError);
        assert.equal(err.code, 'KSSE_INTERNAL');
        assert.equal(err.status, 500);
        assert.doesNotMatch(JSON.stringify(err), /hunter2|secret|a string/);
      }
    });
  });
});
