// Runs `kafka-sse serve` as a child process (the source, through tsx) on an ephemeral port, and reads
// HTTP streams in tests. Every child is stopped when the test file ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { createTopicsReady, testBrokers } from '../../helpers/kafka.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI_SOURCE = join(ROOT, 'src', 'server', 'cli.ts');
export const BIN = join(ROOT, 'bin', 'kafka-sse.js');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliServer {
  url: string;
  port: number;
  /** `GET /metrics` on the metrics listener, when started with `--metrics-port`. */
  metricsUrl: string | undefined;
  child: ChildProcess;
  /** The server's pino lines, parsed. */
  logs: Array<Record<string, unknown>>;
  stderr: () => string;
  exited: Promise<Exit>;
  /** Sends `signal` and resolves with the exit; SIGKILLs after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

/** Runs a command to completion and returns its output (bounded by `timeoutMs`). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000, entry = CLI_SOURCE) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, entry === BIN ? [BIN, ...args] : ['--import', 'tsx', entry, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kafka-sse ${args.join(' ')} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `kafka-sse serve --port 0 --host 127.0.0.1 …args` and resolves once it listens. */
export async function startCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<CliServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_SOURCE, 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: ROOT,
    env: { ...process.env, KAFKA_BROKERS: testBrokers().join(','), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  let pending = '';
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let metricsUrl: string | undefined;
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      pending += d.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'listening') {
            metricsUrl = entry.metricsUrl as string | undefined;
            resolve(entry.port as number);
          }
        } catch {
          stderr += `${line}\n`;
        }
      }
    });
    void exited.then((e) => reject(new Error(`kafka-sse exited (${e.code ?? e.signal}) before listening:\n${stderr}`)));
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', stopTimeoutMs = 10_000): Promise<Exit> => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  after(() => stop('SIGKILL'));
  let timer: NodeJS.Timeout | undefined;
  const port = await Promise.race([
    listening,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`kafka-sse did not listen within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  return { url: `http://127.0.0.1:${port}`, port, metricsUrl, child, logs, stderr: () => stderr, exited, stop };
}

/** One parsed SSE block: `event`, `id`, `data`, or a comment. */
export interface SseBlock {
  event?: string;
  id?: string;
  data?: string;
  comment?: string;
  retry?: number;
}

/** Splits SSE text into blocks (enough of the WHATWG parser for what this server sends). */
export function parseSse(text: string): SseBlock[] {
  return text
    .split('\n\n')
    .filter((b) => b.length > 0)
    .map((block) => {
      const out: SseBlock = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) out.comment = line.slice(1).trim();
        else {
          const colon = line.indexOf(':');
          const field = line.slice(0, colon);
          const value = line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') out.data = out.data === undefined ? value : `${out.data}\n${value}`;
          else if (field === 'event') out.event = value;
          else if (field === 'id') out.id = value;
          else if (field === 'retry') out.retry = Number(value);
        }
      }
      return out;
    });
}

export interface OpenStream {
  status: number;
  headers: Headers;
  /** Everything received so far. */
  text(): string;
  /** Resolves once `predicate(text)` holds; rejects after `timeoutMs` or if the stream ends first. */
  until(predicate: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  /** How the body ended: 'clean' (the response completed) or 'cut' (the connection broke). */
  ended: Promise<'clean' | 'cut'>;
  close(): void;
}

/** Opens a streaming GET and reads its body in the background. */
export async function openStream(url: string, headers: Record<string, string> = {}): Promise<OpenStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  let text = '';
  const waiters = new Set<() => void>();
  const ended = (async (): Promise<'clean' | 'cut'> => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        for (const w of waiters) w();
      }
      return 'clean';
    } catch {
      return 'cut';
    } finally {
      for (const w of waiters) w();
    }
  })();
  let finished = false;
  void ended.then(() => (finished = true));
  after(() => abort.abort());
  return {
    status: res.status,
    headers: res.headers,
    text: () => text,
    ended,
    close: () => abort.abort(),
    until(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(text)) settle(() => resolve(text));
          else if (finished) settle(() => reject(new Error(`stream ended before the condition held; got:\n${text.slice(-2000)}`)));
        };
        const timer = setTimeout(() => settle(() => reject(new Error(`condition not met within ${timeoutMs} ms; got:\n${text.slice(-2000)}`))), timeoutMs);
        const settle = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        void ended.then(check);
        check();
      });
    },
  };
}

/** The `_kafka` coordinates of every message in SSE text, as `partition:offset`. */
export function messageOffsets(text: string): string[] {
  return parseSse(text)
    .filter((b) => b.event === 'message' && b.data !== undefined)
    .map((b) => {
      const { _kafka } = JSON.parse(b.data!) as { _kafka: { partition: number; offset: number } };
      return `${_kafka.partition}:${_kafka.offset}`;
    });
}

/**
 * Creates uniquely named topics with one admin client, deleted (then the admin disconnected) when the
 * test file ends. (The shared `createTopic` helper, called several times at a file's top level, lets
 * its admin disconnect before the deletions, which reconnect and keep the process alive.)
 */
export async function createTopics(specs: Array<{ prefix: string; partitions: number }>): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'kafka-sse-server-tests', brokers: testBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const names = specs.map(({ prefix }) => `${prefix}-${randomUUID().slice(0, 8)}-${Date.now().toString(36)}`);
  after(async () => {
    await admin.deleteTopics({ topics: names }).catch(() => {});
    await admin.disconnect();
  });
  await createTopicsReady(admin, specs.map(({ partitions }, i) => ({ topic: names[i]!, numPartitions: partitions })));
  return names;
}
