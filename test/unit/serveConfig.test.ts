// `kafka-sse serve`'s defaults keep what only operators need off the public internet: localhost, no
// metrics listener, no demo; and a bare `kafka-sse` starts nothing.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { CliUsageError, parseCli, type ServeConfig } from '../../src/server/config.js';

const serve = (argv: string[], env: NodeJS.ProcessEnv = {}): ServeConfig => {
  const command = parseCli(['serve', ...argv], env);
  assert.equal(command.command, 'serve');
  return (command as { config: ServeConfig }).config;
};

test('serve listens on localhost, with no metrics listener and no demo, unless told otherwise', () => {
  const defaults = serve([]);
  assert.equal(defaults.host, 'localhost');
  assert.equal(defaults.metricsPort, undefined);
  assert.equal(defaults.metricsHost, 'localhost');
  assert.equal(defaults.demo, false);
  const told = serve(['--host', '0.0.0.0', '--metrics-port', '9464', '--metrics-host', '0.0.0.0', '--demo']);
  assert.deepEqual([told.host, told.metricsPort, told.metricsHost, told.demo], ['0.0.0.0', 9464, '0.0.0.0', true]);
  const fromEnv = serve([], { HOST: '::', METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', KAFKA_SSE_DEMO: 'yes' });
  assert.deepEqual([fromEnv.host, fromEnv.metricsPort, fromEnv.metricsHost, fromEnv.demo], ['::', 0, '127.0.0.1', true]);
});

test('no command is a usage error that asks for the usage, flags or not', () => {
  for (const argv of [[], ['--brokers', 'kafka:9092']]) {
    assert.throws(() => parseCli(argv, {}), (err: unknown) => err instanceof CliUsageError && err.noCommand);
  }
  assert.throws(() => parseCli(['server'], {}), (err: unknown) => err instanceof CliUsageError && !err.noCommand && /Unknown command/.test(err.message));
});

test('bad metrics settings are usage errors', () => {
  assert.throws(() => serve(['--metrics-host', '0.0.0.0']), /--metrics-host needs --metrics-port/);
  assert.throws(() => serve(['--metrics-port', '6917']), /--metrics-port must differ from --port/);
  assert.throws(() => serve(['--metrics-port', '70000']), /at most 65535/);
  assert.throws(() => serve(['--metrics-port', 'nine']), /--metrics-port/);
});

test('--workers (WORKERS): 1 by default, a positive integer up to 64, or auto (one per CPU)', () => {
  assert.equal(serve([]).workers, 1);
  assert.equal(serve(['--workers', '4']).workers, 4);
  assert.equal(serve([], { WORKERS: '3' }).workers, 3);
  assert.equal(serve(['--workers', '2'], { WORKERS: '8' }).workers, 2, 'the flag wins over the variable');
  assert.equal(serve(['--workers', '64']).workers, 64);
  assert.equal(serve(['--workers', 'auto']).workers, Math.min(64, availableParallelism()));
  assert.equal(serve([], { WORKERS: 'AUTO' }).workers, Math.min(64, availableParallelism()));
  for (const bad of ['0', '-1', '1.5', 'two', 'all', '']) {
    assert.throws(() => serve([`--workers=${bad}`]), (err: unknown) => err instanceof CliUsageError && /--workers must be a positive integer or auto/.test(err.message), bad);
  }
  assert.throws(() => serve(['--workers', '65']), /--workers must be at most 64, got 65/);
  assert.equal(serve([], { WORKERS: '' }).workers, 1, 'an empty variable counts as unset');
});

test('--fanout (FANOUT): cohort by default, naive to compare, anything else a usage error', () => {
  assert.equal(serve([]).fanout, undefined, 'unset: the library default (cohorts)');
  assert.equal(serve(['--fanout', 'naive']).fanout, 'naive');
  assert.equal(serve([], { FANOUT: 'cohort' }).fanout, 'cohort');
  assert.throws(() => serve(['--fanout', 'shared']), /--fanout must be cohort or naive, got "shared"/);
});
