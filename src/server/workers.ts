// `kafka-sse serve --workers N`: N processes (node:cluster) serve one port, each the ordinary server with
// its own shared kafkajs instance. The primary forks and supervises them, serves the aggregated /metrics,
// replaces a worker that dies (with a back-off) and, on SIGTERM/SIGINT, has every worker shut down
// gracefully. See docs/decisions/012-workers.md and docs/scaling.md.
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { pino, type Logger as PinoLogger } from 'pino';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { ServeConfig } from './config.js';
import { logDestination } from './logDestination.js';
import { createMetricsServer } from './metrics.js';
import type { KafkaSseServer, KafkaSseServerOptions } from './server.js';

/** Set in every worker's environment, so only processes forked by this module act as workers. */
const WORKER_ENV = 'KAFKA_SSE_WORKER_INDEX';
const LISTENING = 'kafka-sse:listening';
const METRICS_REQUEST = 'kafka-sse:metrics-request';
const METRICS_REPLY = 'kafka-sse:metrics-reply';

/** A worker that crashes is forked again after 250 ms, then 0.5, 1, 2 … s for each further crash, at most 30 s. */
export const RESTART_BASE_MS = 250;
export const RESTART_MAX_MS = 30_000;
/** A worker that served this long before it died starts the back-off afresh. */
export const STABLE_AFTER_MS = 10_000;
/** Longest wait for a worker's metrics during a scrape; a scrape never waits on a hung worker. */
const METRICS_REPLY_MS = 1000;

interface ListeningMessage {
  type: typeof LISTENING;
  url: string;
  port: number;
  host: string;
}
interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: number;
}
interface MetricsReply {
  type: typeof METRICS_REPLY;
  id: number;
  metrics?: object[];
  error?: string;
}

/** True in a process forked by `startPrimary` (a `--workers` worker), false everywhere else. */
export function isWorkerProcess(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] !== undefined;
}

/** The back-off before forking a worker again after its `crashes`-th crash in a row. */
export function restartDelayMs(crashes: number): number {
  return Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** Math.max(0, crashes - 1));
}

// ---------------------------------------------------------------------------------------------- worker

/**
 * The server options of a worker: its own logger (each line carries `worker`, and the server's own
 * `listening` line becomes `worker listening`: the primary logs the one `listening` line, once every worker
 * listens) and no metrics listener (the primary serves /metrics for all of them).
 */
export function workerServerOptions(config: ServeConfig): KafkaSseServerOptions {
  const index = Number(process.env[WORKER_ENV]);
  const logger = pino(
    {
      name: 'kafka-sse',
      level: config.logLevel,
      base: { pid: process.pid, hostname: hostname(), worker: index },
      hooks: {
        logMethod(args, method) {
          if (args[1] === 'listening' && typeof args[0] === 'object') args[1] = 'worker listening';
          method.apply(this, args);
        },
      },
    },
    logDestination(),
  );
  return { ...config, metricsPort: undefined, logger };
}

/**
 * Wires a listening worker to the primary: tells it the address, answers its metrics requests, and keeps
 * `kafka_sse_log_lines_dropped_total` counting (the server counts it only for a logger it made itself).
 */
export function announceWorker(server: KafkaSseServer, address: { url: string; port: number; host: string }): void {
  const registry = server.metrics;
  const dropped = 'kafka_sse_log_lines_dropped_total';
  const help = registry.getSingleMetric(dropped) as unknown as { help?: string } | undefined;
  registry.removeSingleMetric(dropped);
  const destination = logDestination();
  let reported = 0;
  new Counter({
    name: dropped,
    help: help?.help ?? 'Log lines dropped instead of blocking, because stdout was not read fast enough',
    registers: [registry],
    collect() {
      if (destination.droppedLines > reported) this.inc(destination.droppedLines - reported);
      reported = Math.max(reported, destination.droppedLines);
    },
  });
  process.on('message', (message: unknown) => {
    const request = message as Partial<MetricsRequest> | null;
    if (request?.type !== METRICS_REQUEST || typeof request.id !== 'number') return;
    const id = request.id;
    registry.getMetricsAsJSON().then(
      (metrics) => process.send?.({ type: METRICS_REPLY, id, metrics } satisfies MetricsReply),
      (err: unknown) => process.send?.({ type: METRICS_REPLY, id, error: String(err) } satisfies MetricsReply),
    );
  });
  process.send?.({ type: LISTENING, ...address } satisfies ListeningMessage);
}

// --------------------------------------------------------------------------------------------- primary

interface Slot {
  /** 0 … workers-1; a replacement takes its predecessor's slot. */
  readonly index: number;
  worker: Worker | undefined;
  listeningSince: number | undefined;
  /** Crashes in a row (reset once a worker of the slot has served for STABLE_AFTER_MS). */
  crashes: number;
  restartTimer: NodeJS.Timeout | undefined;
}

export interface PrimaryOptions {
  /** The primary exits with status 1 (and SIGKILLs what is left) this long after the signal at the latest. */
  shutdownDeadlineMs: number;
}

export interface WorkerPool {
  readonly logger: PinoLogger;
  /** Pids of the workers running now. */
  readonly pids: number[];
  /** The public address every worker serves. */
  readonly url: string;
  readonly port: number;
  readonly metricsUrl: string | undefined;
}

/**
 * Forks `config.workers` workers (each re-runs this program with the same arguments and environment, and
 * serves through `workerServerOptions`), and resolves once every one listens and the primary has logged
 * the `listening` line. If a worker exits before the first start-up completes (the port is taken, say),
 * the others are stopped and it resolves with `{ exitCode: 1 }`, as a single process that cannot listen.
 */
export async function startPrimary(config: ServeConfig, options: PrimaryOptions): Promise<{ pool: WorkerPool } | { exitCode: number }> {
  const logger = pino({ name: 'kafka-sse', level: config.logLevel, base: { pid: process.pid, hostname: hostname(), role: 'primary' } }, logDestination());
  const slots: Slot[] = Array.from({ length: config.workers }, (_, index) => ({
    index,
    worker: undefined,
    listeningSince: undefined,
    crashes: 0,
    restartTimer: undefined,
  }));
  let started = false;
  let stopping = false;
  let address: ListeningMessage | undefined;
  let startupFailed: ((reason: string) => void) | undefined;
  let startupProgress: (() => void) | undefined;

  // The primary's own metrics, merged into the workers' at every scrape.
  const own = new Registry();
  const listeningWorkers = new Gauge({ name: 'kafka_sse_workers', help: 'Worker processes serving right now (--workers)', registers: [own] });
  const restarts = new Counter({ name: 'kafka_sse_worker_restarts_total', help: 'Workers forked again after one died', registers: [own] });
  const missing = new Gauge({
    name: 'kafka_sse_workers_metrics_missing',
    help: 'Workers whose metrics did not arrive within 1 s for this scrape (their counts are missing from it)',
    registers: [own],
  });
  let nextRequest = 0;
  const pendingReplies = new Map<number, (metrics: object[] | undefined) => void>();

  function workerMetrics(worker: Worker): Promise<object[] | undefined> {
    const id = nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), METRICS_REPLY_MS);
      const finish = (metrics: object[] | undefined) => {
        clearTimeout(timer);
        pendingReplies.delete(id);
        resolve(metrics);
      };
      pendingReplies.set(id, finish);
      try {
        worker.send({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
      } catch {
        finish(undefined);
      }
    });
  }

  async function render(): Promise<{ body: string; contentType: string }> {
    const serving = slots.flatMap((s) => (s.worker && s.listeningSince !== undefined && s.worker.isConnected() ? [s.worker] : []));
    const replies = await Promise.all(serving.map(workerMetrics));
    const answered = replies.filter((r): r is object[] => r !== undefined);
    missing.set(serving.length - answered.length);
    listeningWorkers.set(serving.length);
    const aggregated = AggregatorRegistry.aggregate([...answered, await own.getMetricsAsJSON()]);
    return { body: await aggregated.metrics(), contentType: aggregated.contentType };
  }

  const metricsServer = config.metricsPort === undefined ? undefined : createMetricsServer({ render });
  let metricsUrl: string | undefined;
  if (metricsServer) {
    try {
      const { port } = await new Promise<AddressInfo>((resolve, reject) => {
        metricsServer.once('error', reject);
        metricsServer.listen(config.metricsPort, config.metricsHost, () => resolve(metricsServer.address() as AddressInfo));
      });
      metricsUrl = `${urlOf(config.metricsHost, port)}metrics`;
    } catch (err) {
      logger.fatal({ err }, 'could not listen');
      return { exitCode: 1 };
    }
  }

  function fork(slot: Slot): void {
    slot.restartTimer = undefined;
    slot.listeningSince = undefined;
    const worker = cluster.fork({ [WORKER_ENV]: String(slot.index) });
    slot.worker = worker;
    const pid = worker.process.pid;
    worker.on('message', (message: unknown) => {
      const m = message as { type?: string } | null;
      if (m?.type === LISTENING) {
        slot.listeningSince = Date.now();
        address ??= m as ListeningMessage;
        if (started) logger.info({ worker: slot.index, workerPid: pid }, 'worker replaced');
        startupProgress?.();
      } else if (m?.type === METRICS_REPLY) {
        const reply = m as MetricsReply;
        pendingReplies.get(reply.id)?.(reply.error === undefined ? reply.metrics : undefined);
      }
    });
    // A worker that cannot be forked (or whose IPC breaks) ends with an 'exit' too; the error is logged.
    worker.on('error', (err) => logger.error({ err, worker: slot.index, workerPid: pid }, 'worker error'));
    worker.on('exit', (code, signal) => {
      if (slot.worker === worker) slot.worker = undefined;
      const servedMs = slot.listeningSince === undefined ? undefined : Date.now() - slot.listeningSince;
      slot.listeningSince = undefined;
      if (stopping) {
        exits.push({ index: slot.index, pid, code, signal, listened: servedMs !== undefined });
        onExit?.();
        return;
      }
      if (!started) {
        startupFailed?.(`worker ${slot.index} (pid ${pid}) exited with ${code ?? signal} before listening`);
        return;
      }
      if (servedMs !== undefined && servedMs >= STABLE_AFTER_MS) slot.crashes = 0;
      slot.crashes++;
      const restartInMs = restartDelayMs(slot.crashes);
      logger.error({ worker: slot.index, workerPid: pid, code, signal, servedMs, crashesInARow: slot.crashes, restartInMs }, 'worker died; replacing it');
      restarts.inc();
      slot.restartTimer = setTimeout(() => fork(slot), restartInMs);
    });
  }

  // Shutdown: every worker gets SIGTERM and runs the server's own graceful close (streams end with
  // `server closing`); the primary exits 0 once all have exited 0.
  const exits: Array<{ index: number; pid: number | undefined; code: number | null; signal: string | null; listened: boolean }> = [];
  let onExit: (() => void) | undefined;
  function stop(signal: NodeJS.Signals): void {
    if (stopping) return;
    stopping = true;
    const startedAt = Date.now();
    logger.info({ signal, workers: slots.filter((s) => s.worker).length }, 'signal received');
    for (const slot of slots) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
    }
    const live = slots.flatMap((s) => (s.worker ? [s.worker] : []));
    const deadline = setTimeout(() => {
      const left = slots.flatMap((s) => (s.worker ? [s.worker] : []));
      logger.error({ workerPids: left.map((w) => w.process.pid) }, 'shutdown took too long; killing the workers left and exiting');
      for (const w of left) w.process.kill('SIGKILL');
      process.exit(1);
    }, options.shutdownDeadlineMs);
    deadline.unref();
    const finished = () => {
      if (slots.some((s) => s.worker)) return;
      // Clean: every worker exited 0. A worker still starting (no handler yet) dies of the SIGTERM itself;
      // it held no stream, so that counts as clean too.
      const unclean = exits.filter((e) => e.code !== 0 && !(e.signal === 'SIGTERM' && !e.listened));
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      logger.info({ ms: Date.now() - startedAt, clean: unclean.length === 0, ...(unclean.length ? { unclean } : {}) }, 'shut down');
      process.exit(unclean.length === 0 ? 0 : 1);
    };
    onExit = finished;
    for (const worker of live) worker.process.kill('SIGTERM');
    finished();
  }
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const startup = new Promise<void>((resolve, reject) => {
    startupFailed = (reason) => reject(new Error(reason));
    startupProgress = () => {
      if (slots.every((s) => s.listeningSince !== undefined)) resolve();
    };
  });
  logger.info({ workers: config.workers }, 'starting workers');
  for (const slot of slots) fork(slot);
  try {
    await startup;
  } catch (err) {
    if (stopping) return new Promise(() => {}); // a signal arrived during start-up: stop() exits
    logger.fatal({ reason: (err as Error).message }, 'could not start the workers');
    stopping = true;
    const left = slots.flatMap((s) => (s.worker ? [s.worker] : []));
    await new Promise<void>((resolve) => {
      onExit = () => {
        if (!slots.some((s) => s.worker)) resolve();
      };
      for (const w of left) w.process.kill('SIGTERM');
      onExit();
    });
    metricsServer?.close();
    return { exitCode: 1 };
  }
  started = true;
  startupFailed = undefined;
  startupProgress = undefined;
  const { url, port, host } = address!;
  const pids = () => slots.flatMap((s) => (s.worker?.process.pid !== undefined ? [s.worker.process.pid] : []));
  logger.info(
    { url, address: host, port, ...(metricsUrl ? { metricsUrl } : {}), brokers: config.brokers, demo: config.demo, workers: config.workers, workerPids: pids() },
    'listening',
  );
  return {
    pool: {
      logger,
      get pids() {
        return pids();
      },
      url,
      port,
      metricsUrl,
    },
  };
}

/** The URL to show for a listener: a wildcard address is shown as localhost (as the server does). */
function urlOf(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
}
