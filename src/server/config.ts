// The CLI's settings: one table of flags (with their environment variables and defaults) that both the
// parser and `--help` read, so the help text cannot drift from what is accepted.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { validateTopicName } from '../position.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Everything `kafka-sse serve` can be told; `createKafkaSseServer` takes the same fields. */
export interface ServeConfig {
  /** Kafka bootstrap brokers, `host:port`. */
  brokers: string[];
  /** TCP port to listen on (0: any free port). */
  port: number;
  /** Interface to listen on (default `localhost`; `0.0.0.0` or `::` for every interface). */
  host: string;
  /**
   * Processes serving the port (`--workers`; `auto` is resolved to the number of CPUs, at most
   * MAX_WORKERS). 1 is one process, as without the flag. Only the CLI reads it: `createKafkaSseServer`
   * is always one process and ignores it.
   */
  workers: number;
  /** Port of the separate listener for `GET /metrics` (0: any free port); no metrics listener when undefined. */
  metricsPort: number | undefined;
  /** Interface of the metrics listener (default `localhost`). */
  metricsHost: string;
  /** Only these topics may be streamed or listed (default: every topic). */
  allowedTopics: string[] | undefined;
  /** Event ids carry timestamps instead of offsets. */
  timestampIds: boolean;
  /** `Access-Control-Allow-Origin` for every response (`*` or an origin); off by default. */
  corsOrigin: string | undefined;
  /** Seconds of silence before a heartbeat comment (0: none). */
  heartbeatSeconds: number;
  /** Compress streams for clients that accept gzip or br, flushed at every batch (off by default). */
  compress: boolean;
  /** Streams open at once; one more gets 503 with `Retry-After`. */
  maxConnections: number | undefined;
  /** Streams open at once per client address. */
  maxConnectionsPerClient: number | undefined;
  /** Streams end cleanly after this many seconds; clients resume by themselves. */
  maxLifetimeSeconds: number | undefined;
  /** Tombstones skipped (default) or sent as `event: delete`. */
  tombstones?: 'skip' | 'delete';
  /**
   * `cohort` (default): caught-up streams reading the same partitions share one fetch and one encoding of
   * each batch; `naive`: every stream runs its own pipeline (for comparison, docs/performance.md).
   */
  fanout?: 'cohort' | 'naive';
  logLevel: LogLevel;
  /** Serves the demo page (`GET /`) and its drop-connection route (`POST /demo/drop`). */
  demo: boolean;
  /** Streams need a JWT signed with this HS256/384/512 secret whose claim lists the topics. */
  jwtSecret: string | undefined;
  /** Streams need a JWT verified against this JSON Web Key Set. */
  jwksUrl: string | undefined;
  /** Required JWT issuer (`iss`). */
  jwtIssuer: string | undefined;
  /** Required JWT audience (`aud`). */
  jwtAudience: string | undefined;
  /** The JWT claim listing the readable topics (default `topics`). */
  jwtTopicsClaim: string | undefined;
}

/** The most `--workers` accepts (and what `auto` is capped at). */
export const MAX_WORKERS = 64;

export class CliUsageError extends Error {
  override name = 'CliUsageError';
  /** No command was given: the CLI prints the usage. */
  readonly noCommand: boolean;
  constructor(message: string, options: { noCommand?: boolean } = {}) {
    super(message);
    this.noCommand = options.noCommand === true;
  }
}

interface FlagSpec {
  flag: string;
  env?: string;
  type: 'string' | 'boolean';
  value?: string;
  default?: string;
  description: string;
}

/** Every flag of `kafka-sse serve`, in the order `--help` lists them. */
export const FLAGS: readonly FlagSpec[] = [
  { flag: 'brokers', env: 'KAFKA_BROKERS', type: 'string', value: 'host:port,…', default: 'localhost:9092', description: 'Kafka bootstrap brokers' },
  { flag: 'port', env: 'PORT', type: 'string', value: 'n', default: '6917', description: 'TCP port to listen on (0: any free port)' },
  { flag: 'host', env: 'HOST', type: 'string', value: 'address', default: 'localhost', description: 'interface to listen on; 0.0.0.0 (or ::) for every interface, as in a container' },
  { flag: 'workers', env: 'WORKERS', type: 'string', value: 'n|auto', default: '1', description: `processes serving the port (node:cluster), each with its own Kafka connections; auto: one per CPU (at most ${MAX_WORKERS})` },
  { flag: 'metrics-port', env: 'METRICS_PORT', type: 'string', value: 'n', default: 'off', description: 'serve GET /metrics (Prometheus) on a listener of its own at this port (0: any free port)' },
  { flag: 'metrics-host', env: 'METRICS_HOST', type: 'string', value: 'address', default: 'localhost', description: 'interface of the metrics listener' },
  { flag: 'allowed-topics', env: 'ALLOWED_TOPICS', type: 'string', value: 'a,b,…', default: 'every topic', description: 'only these topics may be streamed and listed; others get 404' },
  { flag: 'timestamp-ids', env: 'TIMESTAMP_IDS', type: 'boolean', default: 'off', description: 'event ids carry timestamps instead of offsets (to resume on another cluster)' },
  { flag: 'cors-origin', env: 'CORS_ORIGIN', type: 'string', value: 'origin', default: 'off', description: 'send Access-Control-Allow-Origin with this value (* or https://app.example)' },
  { flag: 'heartbeat', env: 'HEARTBEAT_SECONDS', type: 'string', value: 'seconds', default: '15', description: 'heartbeat comment after this much silence on a stream (0: none)' },
  { flag: 'compress', env: 'COMPRESS', type: 'boolean', default: 'off', description: 'gzip (or br) streams for clients that accept it, flushed at every batch' },
  { flag: 'max-connections', env: 'MAX_CONNECTIONS', type: 'string', value: 'n', default: 'unlimited', description: 'streams open at once; one more gets 503 with Retry-After' },
  { flag: 'max-connections-per-client', env: 'MAX_CONNECTIONS_PER_CLIENT', type: 'string', value: 'n', default: 'unlimited', description: 'streams open at once per client address' },
  { flag: 'max-lifetime', env: 'MAX_LIFETIME_SECONDS', type: 'string', value: 'seconds', default: 'unlimited', description: 'end each stream cleanly after this long; clients resume by themselves' },
  { flag: 'tombstones', env: 'TOMBSTONES', type: 'string', value: 'skip|delete', default: 'skip', description: 'tombstones (null values): skipped, or sent as event: delete with their _kafka' },
  { flag: 'fanout', env: 'FANOUT', type: 'string', value: 'cohort|naive', default: 'cohort', description: 'cohort: caught-up streams of the same partitions share each batch\'s fetch and encoding; naive: a pipeline per stream' },
  { flag: 'log-level', env: 'LOG_LEVEL', type: 'string', value: 'level', default: 'info', description: `pino log level: ${LOG_LEVELS.join(', ')}` },
  { flag: 'demo', env: 'KAFKA_SSE_DEMO', type: 'boolean', default: 'off', description: "serve the demo page (GET /) and its drop-connection route (POST /demo/drop)" },
  { flag: 'jwt-secret', env: 'JWT_SECRET', type: 'string', value: 'secret', default: 'off', description: 'streams need a JWT signed with this HS256 secret (≥ 32 bytes; prefer the variable)' },
  { flag: 'jwks-url', env: 'JWKS_URL', type: 'string', value: 'url', default: 'off', description: 'streams need a JWT verified with this JSON Web Key Set' },
  { flag: 'jwt-issuer', env: 'JWT_ISSUER', type: 'string', value: 'iss', default: 'any', description: 'required JWT issuer' },
  { flag: 'jwt-audience', env: 'JWT_AUDIENCE', type: 'string', value: 'aud', default: 'any', description: 'required JWT audience' },
  { flag: 'jwt-topics-claim', env: 'JWT_TOPICS_CLAIM', type: 'string', value: 'name', default: 'topics', description: 'claim listing readable topics (array or space-separated; * for all)' },
  { flag: 'help', type: 'boolean', description: 'print this help and exit' },
  { flag: 'version', type: 'boolean', description: 'print the version and exit' },
];

export function helpText(version: string): string {
  const left = (f: FlagSpec) => `  --${f.flag}${f.value ? ` <${f.value}>` : ''}`;
  const width = Math.max(...FLAGS.map((f) => left(f).length)) + 2;
  const lines = FLAGS.flatMap((f) => {
    const extras = [f.env ? `env ${f.env}` : '', f.default ? `default: ${f.default}` : ''].filter(Boolean).join(', ');
    return [`${left(f).padEnd(width)}${f.description}`, ...(extras ? [`${''.padEnd(width)}(${extras})`] : [])];
  });
  return [
    `kafka-sse ${version}: stream Apache Kafka topics to HTTP clients as Server-Sent Events`,
    '',
    'Usage: kafka-sse serve [flags]',
    '',
    'Flags (a flag wins over its environment variable):',
    ...lines,
    '',
    'Routes:',
    '  GET /v1/stream/:topics   SSE stream of comma-separated topics; ?since=<ms epoch | ISO-8601>;',
    '                           resumes from Last-Event-ID; Accept: application/json gives NDJSON',
    '  GET /v1/topics           streamable topics with partition counts',
    '  GET /healthz             200 when Kafka answers, 503 with a reason when not',
    '  GET /metrics             Prometheus metrics: only on the --metrics-port listener',
    '  GET /                    the demo page (?topic=name, default demo): only with --demo',
    '',
    'With --jwt-secret or --jwks-url, streams and /v1/topics need a token: Authorization: Bearer <jwt>,',
    '?access_token=<jwt> or the kafka_sse_token cookie (browsers cannot set headers on EventSource).',
    '',
    'Docs: docs/server.md',
  ].join('\n');
}

export type CliCommand = { command: 'help' } | { command: 'version' } | { command: 'serve'; config: ServeConfig };

function positiveInteger(raw: string, name: string, allowZero = false): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || (!allowZero && n === 0)) {
    throw new CliUsageError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got "${raw}"`);
  }
  return n;
}

/** `--workers`: a positive integer up to MAX_WORKERS, or `auto` (one per CPU, capped the same way). */
function parseWorkers(raw: string): number {
  if (raw.trim().toLowerCase() === 'auto') return Math.min(MAX_WORKERS, Math.max(1, availableParallelism()));
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw new CliUsageError(`--workers must be a positive integer or auto, got "${raw}"`);
  const n = Number(raw);
  if (n > MAX_WORKERS) throw new CliUsageError(`--workers must be at most ${MAX_WORKERS}, got ${raw.trim()}`);
  return n;
}

function seconds(raw: string, name: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new CliUsageError(`${name} must be a number of seconds ≥ 0, got "${raw}"`);
  return n;
}

function list(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function bool(raw: string | boolean, name: string): boolean {
  if (typeof raw === 'boolean') return raw;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off|)$/i.test(raw)) return false;
  throw new CliUsageError(`${name} must be true or false, got "${raw}"`);
}

/** Parses `argv` (without node and the script) and the environment into a command. Throws CliUsageError. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv = process.env): CliCommand {
  let parsed: ReturnType<typeof parseArgs<{ options: Record<string, { type: 'string' | 'boolean' }>; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(FLAGS.map((f) => [f.flag, { type: f.type }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { command: 'help' };
  if (values.version) return { command: 'version' };
  // No default command: a bare `kafka-sse` (or flags without `serve`) prints the usage instead of
  // starting a server nobody asked for.
  const [command, ...rest] = parsed.positionals;
  if (command === undefined) throw new CliUsageError('No command given; to start the server run kafka-sse serve [flags]', { noCommand: true });
  if (command !== 'serve') throw new CliUsageError(`Unknown command "${command}"`);
  if (rest.length > 0) throw new CliUsageError(`Unexpected argument "${rest[0]}"`);

  // A flag wins over its environment variable; empty variables count as unset.
  const setting = (flag: string): string | boolean | undefined => {
    if (values[flag] !== undefined) return values[flag];
    const spec = FLAGS.find((f) => f.flag === flag)!;
    const fromEnv = spec.env ? env[spec.env] : undefined;
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const text = (flag: string) => {
    const v = setting(flag);
    return typeof v === 'string' ? v : undefined;
  };
  const name = (flag: string) => `--${flag}`;

  const brokers = list(text('brokers') ?? 'localhost:9092');
  if (brokers.length === 0 || brokers.some((b) => !/^[^\s:]+:\d{1,5}$/.test(b))) {
    throw new CliUsageError(`--brokers must be host:port pairs separated by commas, got "${text('brokers')}"`);
  }
  const port = positiveInteger(text('port') ?? '6917', name('port'), true);
  if (port > 65535) throw new CliUsageError(`--port must be at most 65535, got ${port}`);
  const workers = parseWorkers(text('workers') ?? '1');
  const metricsPortText = text('metrics-port');
  const metricsPort = metricsPortText === undefined ? undefined : positiveInteger(metricsPortText, name('metrics-port'), true);
  if (metricsPort !== undefined && metricsPort > 65535) throw new CliUsageError(`--metrics-port must be at most 65535, got ${metricsPort}`);
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === port) throw new CliUsageError('--metrics-port must differ from --port');
  if (text('metrics-host') !== undefined && metricsPort === undefined) throw new CliUsageError('--metrics-host needs --metrics-port');
  const allowed = text('allowed-topics');
  const allowedTopics = allowed === undefined ? undefined : list(allowed);
  if (allowedTopics) {
    if (allowedTopics.length === 0) throw new CliUsageError('--allowed-topics names no topic');
    for (const topic of allowedTopics) {
      try {
        validateTopicName(topic);
      } catch (err) {
        throw new CliUsageError(`--allowed-topics: "${topic}" is not a valid topic name`);
      }
    }
  }
  const logLevel = text('log-level') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new CliUsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const optionalInteger = (flag: string) => {
    const v = text(flag);
    return v === undefined ? undefined : positiveInteger(v, name(flag));
  };
  const maxLifetime = text('max-lifetime');
  const tombstones = text('tombstones');
  if (tombstones !== undefined && tombstones !== 'skip' && tombstones !== 'delete') {
    throw new CliUsageError(`--tombstones must be skip or delete, got "${tombstones}"`);
  }
  const fanout = text('fanout');
  if (fanout !== undefined && fanout !== 'cohort' && fanout !== 'naive') {
    throw new CliUsageError(`--fanout must be cohort or naive, got "${fanout}"`);
  }
  const jwtSecret = text('jwt-secret');
  const jwksUrl = text('jwks-url');
  if (jwtSecret !== undefined && jwksUrl !== undefined) throw new CliUsageError('Give --jwt-secret or --jwks-url, not both');
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) {
    throw new CliUsageError('--jwt-secret must be at least 32 bytes (HS256 needs a 256-bit key)');
  }
  if (jwksUrl !== undefined && !/^https?:\/\/\S+$/.test(jwksUrl)) throw new CliUsageError(`--jwks-url must be an http(s) URL, got "${jwksUrl}"`);
  const jwtOnly = ['jwt-issuer', 'jwt-audience', 'jwt-topics-claim'].find((f) => text(f) !== undefined);
  if (jwtOnly && jwtSecret === undefined && jwksUrl === undefined) throw new CliUsageError(`--${jwtOnly} needs --jwt-secret or --jwks-url`);
  return {
    command: 'serve',
    config: {
      brokers,
      port,
      host: text('host') ?? 'localhost',
      workers,
      metricsPort,
      metricsHost: text('metrics-host') ?? 'localhost',
      allowedTopics,
      timestampIds: bool(setting('timestamp-ids') ?? false, name('timestamp-ids')),
      corsOrigin: text('cors-origin'),
      heartbeatSeconds: seconds(text('heartbeat') ?? '15', name('heartbeat')),
      compress: bool(setting('compress') ?? false, name('compress')),
      maxConnections: optionalInteger('max-connections'),
      maxConnectionsPerClient: optionalInteger('max-connections-per-client'),
      maxLifetimeSeconds: maxLifetime === undefined ? undefined : seconds(maxLifetime, name('max-lifetime')),
      ...(tombstones !== undefined ? { tombstones } : {}),
      ...(fanout !== undefined ? { fanout } : {}),
      logLevel: logLevel as LogLevel,
      demo: bool(setting('demo') ?? false, name('demo')),
      jwtSecret,
      jwksUrl,
      jwtIssuer: text('jwt-issuer'),
      jwtAudience: text('jwt-audience'),
      jwtTopicsClaim: text('jwt-topics-claim'),
    },
  };
}
