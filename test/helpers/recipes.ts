// Running the recipes as a user would: each in its own Node process (through tsx), against the test
// broker, on an ephemeral port. Every child is stopped by PID when the test file ends, if not before.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { EventSource } from 'eventsource';
import { createTopicsReady, fixtureKafka, testBrokers } from './kafka.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// Topics of this file, deleted when it ends. Not kafka.ts's createTopic: its delete hooks run after its
// own `after` has disconnected the fixture admin (node:test runs file-level `after` hooks in the order
// they were registered), so its first topic is never deleted and a second one reconnects the admin and
// holds the test process open until the broker drops the idle connection (10 minutes).
// This hook is registered on import, before anything calls fixtureKafka(), so it runs while the admin
// is still connected.
const topics: string[] = [];
after(async () => {
  if (topics.length === 0) return;
  const admin = await fixtureKafka().admin;
  await admin.deleteTopics({ topics: topics.splice(0) }).catch(() => {});
});

/** Creates a uniquely named topic for one test, deleted when the test file ends. */
export async function createRecipeTopic(partitions = 1, prefix = 'recipe'): Promise<string> {
  const name = `${prefix}-${randomUUID().slice(0, 8)}-${Date.now().toString(36)}`;
  const admin = await fixtureKafka().admin;
  await createTopicsReady(admin, [{ topic: name, numPartitions: partitions }]);
  topics.push(name);
  return name;
}

function spawnRecipe(file: string, args: string[]): ChildProcess & { output: () => { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, ['--import', 'tsx', `recipes/${file}`, ...args], {
    cwd: ROOT,
    env: { ...process.env, KAFKA_BROKERS: testBrokers().join(','), PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  after(() => stop(child));
  return Object.assign(child, { output: () => ({ stdout, stderr }) });
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM, then SIGKILL if the child is still there after `graceMs`. Resolves once it has exited. */
async function stop(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (exited(child)) return;
  const gone = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Resolves when `child` exits, or rejects after `timeoutMs` (the child is killed then). */
async function exitOf(child: ChildProcess, timeoutMs: number, describe: () => string): Promise<number | null> {
  if (exited(child)) return child.exitCode;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      once(child, 'exit').then(([code]) => code as number | null),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms\n${describe()}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await stop(child);
  }
}

export interface RunningServer {
  /** The base URL the recipe printed, e.g. http://localhost:41234 */
  url: string;
  stop(): Promise<void>;
  output(): { stdout: string; stderr: string };
}

/** Starts a server recipe with PORT=0 and resolves with the URL from its `Listening on` line. */
export async function startServerRecipe(file: string, timeoutMs = 30_000): Promise<RunningServer> {
  const child = spawnRecipe(file, []);
  const describe = () => `recipes/${file} output:\n${JSON.stringify(child.output(), null, 2)}`;
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /Listening on (http:\/\/localhost:(\d+))/.exec(child.output().stdout);
      if (match && match[2] !== '0') finish(() => resolve(match[1]!));
    };
    const onExit = () => finish(() => reject(new Error(`exited before listening\n${describe()}`)));
    const timer = setTimeout(() => finish(() => reject(new Error(`no "Listening on" line within ${timeoutMs} ms\n${describe()}`))), timeoutMs);
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      settle();
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  }).catch(async (err: unknown) => {
    await stop(child);
    throw err;
  });
  return { url, stop: () => stop(child), output: child.output };
}

/** Runs a recipe to completion (bounded) and returns its exit code and output. */
export async function runRecipe(file: string, args: string[], timeoutMs = 30_000) {
  const child = spawnRecipe(file, args);
  const code = await exitOf(child, timeoutMs, () => `recipes/${file} ${args.join(' ')} output:\n${JSON.stringify(child.output(), null, 2)}`);
  return { code, ...child.output() };
}

export interface ReceivedEvent {
  /** The event id, parsed: the positions a reconnect would resume from. */
  id: Array<{ topic: string; partition: number; offset: number }>;
  data: unknown;
}

/**
 * Connects with the `eventsource` package, sending `lastEventId` as the first Last-Event-ID, and resolves
 * with the first `count` message events. Rejects on a refused connection or after `timeoutMs`.
 */
export async function readEvents(url: string, lastEventId: string, count: number, timeoutMs = 20_000): Promise<ReceivedEvent[]> {
  const events: ReceivedEvent[] = [];
  const source = new EventSource(url, {
    fetch: (input, init) => fetch(input, { ...init, headers: { 'Last-Event-ID': lastEventId, ...init.headers } }),
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<ReceivedEvent[]>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`received ${events.length} of ${count} events within ${timeoutMs} ms: ${JSON.stringify(events)}`)), timeoutMs);
      source.onmessage = (event) => {
        events.push({ id: JSON.parse(event.lastEventId) as ReceivedEvent['id'], data: JSON.parse(event.data) as unknown });
        if (events.length === count) resolve(events);
      };
      source.addEventListener('error', (event: Event) => {
        if (event instanceof MessageEvent) reject(new Error(`server sent an error event: ${String(event.data)}`));
        else if (source.readyState === EventSource.CLOSED) {
          const { code, message } = event as Event & { code?: number; message?: string };
          reject(new Error(`connection refused: HTTP ${code ?? '?'} ${message ?? ''}`));
        }
      });
    });
  } finally {
    clearTimeout(timer);
    source.close();
  }
}

/** A Last-Event-ID starting every partition 0 of `topics` at offset 0. */
export function fromStart(...topics: string[]): string {
  return JSON.stringify(topics.map((topic) => ({ topic, partition: 0, offset: 0 })));
}
