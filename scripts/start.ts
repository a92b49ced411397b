// `npm start`: the whole demo in one command. Starts the local broker (unless KAFKA_BROKERS is set),
// creates the `demo` topic, produces a few shop events per second, and serves `kafka-sse serve --demo`
// on localhost:6917 (the demo page needs --demo and nothing else: it reads no metrics). Ctrl-C stops everything this process started — the broker only if it started it.
// Extra flags go to the server: `npm start -- --port 7000 --log-level info`.
import { Kafka, logLevel } from 'kafkajs';
import { CliUsageError, parseCli } from '../src/server/config.js';
import { ensureTopic, startDemoProducer, type DemoProducer } from '../src/server/demoProducer.js';
import { createKafkaSseServer, type KafkaSseServer } from '../src/server/server.js';
import { HarnessError, LOCAL_BROKER, externalBrokers, startBroker, stopBroker, type BrokerInfo } from './lib/kafkaHarness.js';

const DEMO_TOPIC = 'demo';
const DEMO_PARTITIONS = 3;
const EVENTS_PER_SECOND = 3;

const log = (line: string) => console.log(line);
let broker: Promise<BrokerInfo> | undefined;
let producer: DemoProducer | undefined;
let server: KafkaSseServer | undefined;
let stopping: Promise<void> | undefined;

/** Stops what this process started, in reverse order. Safe to call at any point of start-up. */
async function stopEverything(): Promise<void> {
  await producer?.stop().catch((err: unknown) => console.error('demo producer:', err));
  await server?.close();
  // A broker still starting is waited for, so a Ctrl-C during the first download leaves no JVM behind.
  const info = await broker?.catch(() => undefined);
  if (info?.startedHere) await stopBroker({ log });
}

function stop(code: number): Promise<void> {
  stopping ??= stopEverything().then(
    () => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
  return stopping;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      log('still stopping…');
      return;
    }
    log(`\n${signal}: stopping the demo…`);
    void stop(0);
  });
}

/** Throws if a signal arrived meanwhile, so start-up goes no further. */
function checkpoint(): void {
  if (stopping) throw new Error('interrupted');
}

try {
  const parsed = parseCli(['serve', '--demo', ...process.argv.slice(2)]);
  if (parsed.command !== 'serve') throw new CliUsageError('npm start only serves; run `npx kafka-sse --help` for the flags');
  if (parsed.config.workers > 1) throw new CliUsageError('npm start runs the demo in one process; for --workers run `npx kafka-sse serve --workers …`');
  const external = externalBrokers();
  let brokers = external ?? parsed.config.brokers;
  if (!external) {
    broker = startBroker({ log });
    const info = await broker;
    brokers = [LOCAL_BROKER];
    log(`Apache Kafka ${info.version} at ${info.address}${info.startedHere ? ' (started for this demo; stopped on Ctrl-C)' : ' (already running; left running)'}`);
  }
  checkpoint();

  const kafka = new Kafka({ clientId: 'kafka-sse-demo', brokers, logLevel: logLevel.ERROR });
  if (await ensureTopic(kafka, DEMO_TOPIC, DEMO_PARTITIONS)) log(`created topic ${DEMO_TOPIC} (${DEMO_PARTITIONS} partitions)`);
  checkpoint();
  producer = await startDemoProducer(kafka, DEMO_TOPIC, EVENTS_PER_SECOND);
  checkpoint();

  // The server logs warnings and errors only, so the URL stays visible; --log-level overrides that.
  const quiet = !process.argv.includes('--log-level') && !process.env.LOG_LEVEL;
  server = createKafkaSseServer({ ...parsed.config, brokers, logLevel: quiet ? 'warn' : parsed.config.logLevel });
  const { url, metricsUrl } = await server.listen();
  checkpoint();
  log('');
  log(`  kafka-sse demo: open ${url}`);
  log(`  the stream:     curl -N ${url}v1/stream/${DEMO_TOPIC}`);
  if (metricsUrl) log(`  metrics:        curl ${metricsUrl}`);
  log(`  producing ${EVENTS_PER_SECOND} events/s to topic "${DEMO_TOPIC}". Press Ctrl-C to stop.`);
  log('');
} catch (err) {
  if (!stopping) {
    console.error(err instanceof HarnessError || err instanceof CliUsageError ? err.message : err);
    await stop(1);
  }
}
