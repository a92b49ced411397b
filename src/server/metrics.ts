// Prometheus metrics for `GET /metrics` (on a listener of its own), fed only by the library's public
// hooks (`onStreamEnd`, `onRequestError`, `kafkaEventHandlers`, `onProgress`), as any application could
// wire them.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KafkaSseOptions, StreamSummary } from '../index.js';

export interface ServerMetrics {
  readonly registry: Registry;
  /** Library options that feed the metrics; merged into the server's options object. */
  readonly hooks: Required<Pick<KafkaSseOptions, 'onStreamEnd' | 'onRequestError' | 'kafkaEventHandlers' | 'onProgress'>>;
  /** The exposition text and its content type. */
  render(): Promise<{ body: string; contentType: string }>;
}

/** Stream end reasons that are not error codes; anything else is a code like `KSSE_TOPIC_DELETED`. */
const isErrorCode = (reason: string) => reason.startsWith('KSSE_');

/** What the metrics read from outside the library's hooks. */
export interface ServerMetricsSources {
  /** Log lines dropped so far because stdout was not read fast enough (see logDestination.ts). */
  logLinesDropped?: () => number;
  /** Cohorts running, and the streams in them. */
  cohorts?: () => { cohorts: number; members: number };
}

/** A registry of its own per server, so several servers (or tests) in one process do not collide. */
export function createServerMetrics(sources: ServerMetricsSources = {}): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kafka_sse_' });
  const active = new Gauge({ name: 'kafka_sse_active_streams', help: 'Streams open right now', registers: [registry] });
  const opened = new Counter({ name: 'kafka_sse_streams_opened_total', help: 'Streams started (after validation and Kafka resolution)', registers: [registry] });
  const closed = new Counter({
    name: 'kafka_sse_streams_closed_total',
    help: 'Streams ended, by reason (client disconnected, lifetime reached, ended, or an error code)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const events = new Counter({ name: 'kafka_sse_events_sent_total', help: 'Records sent to clients as events (counted as they pass)', registers: [registry] });
  const bytes = new Counter({ name: 'kafka_sse_bytes_sent_total', help: 'Bytes sent on streams (counted when each stream closes)', registers: [registry] });
  const errors = new Counter({
    name: 'kafka_sse_errors_total',
    help: 'Errors answered to clients, by code (refusals before a stream and errors that ended one)',
    labelNames: ['code'],
    registers: [registry],
  });
  const fetchDuration = new Histogram({
    name: 'kafka_sse_fetch_duration_seconds',
    help: 'Kafka fetch duration, per stream reading alone and per cohort; includes the long-poll wait once caught up',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'kafka_sse_cohorts',
    help: 'Cohorts running: caught-up streams of the same partitions and shape that share each batch',
    registers: [registry],
    collect() {
      this.set(sources.cohorts?.().cohorts ?? 0);
    },
  });
  new Gauge({
    name: 'kafka_sse_cohort_streams',
    help: 'Streams in a cohort right now (the rest are catching up alone or run their own pipeline)',
    registers: [registry],
    collect() {
      this.set(sources.cohorts?.().members ?? 0);
    },
  });
  let droppedReported = 0;
  new Counter({
    name: 'kafka_sse_log_lines_dropped_total',
    help: 'Log lines dropped instead of blocking, because stdout was not read fast enough',
    registers: [registry],
    collect() {
      const dropped = sources.logLinesDropped?.() ?? 0;
      if (dropped > droppedReported) this.inc(dropped - droppedReported);
      droppedReported = Math.max(droppedReported, dropped);
    },
  });

  return {
    registry,
    hooks: {
      kafkaEventHandlers: {
        'consumer.connect': () => {
          opened.inc();
          active.inc();
        },
        'consumer.fetch': (event) => {
          const duration = event.payload.duration;
          if (typeof duration === 'number') fetchDuration.observe(duration / 1000);
        },
      },
      onStreamEnd(summary: StreamSummary) {
        active.dec();
        closed.inc({ reason: summary.reason });
        bytes.inc(summary.bytes);
        if (isErrorCode(summary.reason)) errors.inc({ code: summary.reason });
      },
      onRequestError(error) {
        errors.inc({ code: error.code });
      },
      onProgress(sent) {
        if (sent.events > 0) events.inc(sent.events);
      },
    },
    async render() {
      return { body: await registry.metrics(), contentType: registry.contentType };
    },
  };
}

/**
 * The listener of `GET /metrics` (`--metrics-port`): apart from the public port, so what only operators
 * need is not served to the internet. It answers nothing else.
 */
export function createMetricsServer(metrics: Pick<ServerMetrics, 'render'>): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Use GET\n');
      return;
    }
    metrics.render().then(
      ({ body, contentType }) => {
        res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Metrics could not be collected\n'),
    );
  });
}
