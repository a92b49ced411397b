// The 10-second soak inside `npm test`: the CLI server in a child process, 50 raw SSE clients cutting
// their connections at random and resuming with Last-Event-ID while a producer writes steadily. The
// 500-client, 60-second run is `npx tsx bench/soak.ts --clients 500 --seconds 60` (docs/soak.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSoak, soakFailures, soakTable } from '../../bench/soak.js';
import { testBrokers } from '../helpers/kafka.js';

test('50 clients for 10 s, cutting and resuming at random: every record exactly once, no leaks, flat memory, clean logs', { timeout: 150_000 }, async (t) => {
  const result = await runSoak({
    clients: 50,
    seconds: 10,
    rate: 40,
    // Cuts every 3 s on average, so each client resumes a few times within the 10 s.
    meanHoldSeconds: 3,
    warmupSeconds: 3,
    brokers: testBrokers(),
    progressEveryMs: 5000,
    log: (line) => t.diagnostic(line),
  });
  for (const line of soakTable(result).split('\n')) t.diagnostic(line);

  // Each property on its own, so a failure names what broke.
  assert.equal(result.exactClients, 50, 'every client received every record from its start exactly once');
  assert.equal(result.duplicates, 0);
  assert.equal(result.gaps, 0);
  assert.equal(result.incompleteClients, 0);
  assert.ok(result.produced >= 300, `${result.produced} records produced`);
  assert.equal(result.delivered, result.produced * 50, 'every client got every record (all start before the first record)');
  assert.ok(result.resumes >= 50, `${result.resumes} resumes: clients did cut and resume`);
  assert.equal(result.failedConnections, 0);
  assert.equal(result.errorEvents, 0);
  assert.equal(result.server.openStreamsAtEnd, 0, 'no stream left open on the server');
  assert.deepEqual(result.server.leaked, {}, 'the server is back to its idle resources (sockets, timers)');
  // Clients that cut during a stream's setup never count a connection the server did open.
  assert.ok(result.server.streamsOpenedLogged >= result.connections + 1, 'a "stream opened" line per stream (plus the warm-up)');
  assert.equal(result.server.streamsClosedLogged, result.server.streamsOpenedLogged, 'one "stream closed" line per stream');
  assert.deepEqual(result.server.errorLines, [], 'nothing logged above warn');
  assert.equal(result.server.exitCode, 0, 'the server shut down cleanly');
  assert.ok(result.server.rss.samples >= 3);
  assert.ok(result.server.rss.last <= result.server.rss.first * 1.5, `RSS ${result.server.rss.first} → ${result.server.rss.last} after warm-up`);
  assert.deepEqual(soakFailures(result), []);
});
