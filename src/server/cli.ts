// `kafka-sse serve`: parses flags and environment, serves, and shuts down gracefully on SIGTERM/SIGINT.
// With `--workers N` (N > 1) this process becomes the primary of N worker processes (src/server/workers.ts),
// each of which runs this same program and serves here.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { CliUsageError, helpText, parseCli } from './config.js';
import type { KafkaSseServer, KafkaSseServerOptions } from './server.js';
import type { WorkerPool } from './workers.js';

/** Hard limit on shutdown: the process exits by then even if something hangs. */
const SHUTDOWN_DEADLINE_MS = 4500;
/** With --workers: the primary's limit, a little after its workers' own (it SIGKILLs what is left then). */
const PRIMARY_SHUTDOWN_DEADLINE_MS = SHUTDOWN_DEADLINE_MS + 400;

function packageVersion(): string {
  // Two levels up from src/server/ and from dist/server/ alike.
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  return pkg.version;
}

/** The server's own dependencies: optional peers of kafka-eventsource, absent from a library-only install. */
const SERVER_PEERS = ['pino', 'prom-client', 'jose'];

/** The server module, loaded only to serve (so --help and --version work without its dependencies). */
async function loadServer(): Promise<typeof import('./server.js') | undefined> {
  try {
    return await import('./server.js');
  } catch (err) {
    const missing = missingPackage(err);
    if (missing === undefined || !SERVER_PEERS.includes(missing)) throw err;
    process.stderr.write(
      `kafka-sse: the server needs ${SERVER_PEERS.join(', ')}, optional peer dependencies of kafka-eventsource, ` +
        `and '${missing}' is not installed.\nInstall them next to it: npm install ${SERVER_PEERS.join(' ')}\n`,
    );
    return undefined;
  }
}

/** The package an ERR_MODULE_NOT_FOUND names ("Cannot find package 'pino' imported from …"). */
function missingPackage(err: unknown): string | undefined {
  if (!(err instanceof Error) || (err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') return undefined;
  const name = /Cannot find (?:package|module) '([^']+)'/.exec(err.message)?.[1];
  if (name === undefined) return undefined;
  const parts = name.split('/');
  return name.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * Runs the CLI. Returns the exit code for `--help`, `--version` and usage errors; for `serve`, resolves
 * once listening (the process then lives until a signal) with the server, or with `--workers` > 1 with the
 * pool of worker processes (once every worker listens).
 */
export async function main(
  argv: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
  extra: KafkaSseServerOptions = {},
): Promise<{ exitCode: number } | { server: KafkaSseServer } | { pool: WorkerPool }> {
  let command;
  try {
    command = parseCli(argv, env);
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    if (err.noCommand) process.stderr.write(`${helpText(packageVersion())}\n\nkafka-sse: ${err.message}\n`);
    else process.stderr.write(`kafka-sse: ${err.message}\nRun kafka-sse --help for the flags.\n`);
    return { exitCode: 2 };
  }
  if (command.command === 'help') {
    process.stdout.write(`${helpText(packageVersion())}\n`);
    return { exitCode: 0 };
  }
  if (command.command === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return { exitCode: 0 };
  }
  const loaded = await loadServer();
  if (!loaded) return { exitCode: 1 };
  const workers = command.config.workers > 1 || env.KAFKA_SSE_WORKER_INDEX !== undefined ? await import('./workers.js') : undefined;
  if (workers?.isWorkerProcess()) {
    // A worker of `--workers`: the ordinary server, its own Kafka connections, no metrics listener.
    const server = loaded.createKafkaSseServer({ ...workers.workerServerOptions(command.config), ...extra });
    let address;
    try {
      address = await server.listen();
    } catch (err) {
      server.logger.fatal({ err }, 'could not listen');
      await server.close();
      process.exit(1); // the IPC channel to the primary would keep the process alive
    }
    workers.announceWorker(server, address);
    handleSignals(server);
    return { server };
  }
  if (workers && command.config.workers > 1) {
    // Hooks in `extra` are functions of this process: they cannot reach the workers.
    if (Object.keys(extra).length > 0) throw new Error('main(): extra server options cannot be used with --workers > 1');
    return workers.startPrimary(command.config, { shutdownDeadlineMs: PRIMARY_SHUTDOWN_DEADLINE_MS });
  }
  const server = loaded.createKafkaSseServer({ ...command.config, ...extra });
  try {
    await server.listen();
  } catch (err) {
    server.logger.fatal({ err }, 'could not listen');
    await server.close();
    return { exitCode: 1 };
  }
  handleSignals(server);
  return { server };
}

/** SIGTERM/SIGINT: graceful shutdown, exit 0 when clean, 1 otherwise; never later than the deadline. */
function handleSignals(server: KafkaSseServer): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal }, 'signal received');
    setTimeout(() => {
      server.logger.error('shutdown took too long; exiting anyway');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    void server
      .close()
      .then((clean) => process.exit(clean ? 0 : 1))
      .catch((err: unknown) => {
        server.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Entry point for the bin shim and for `tsx src/server/cli.ts`. */
export async function run(): Promise<void> {
  const result = await main();
  if ('exitCode' in result) process.exitCode = result.exitCode;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
