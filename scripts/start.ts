// `npm start`: the whole demo in one command. Starts the local broker (unless KAFKA_BROKERS is set),
// creates the `demo` topic, produces a few shop events per second, and serves `kafka-sse serve --demo`
// on :6917. Ctrl-C stops everything this process started — the broker only if it started it.
// Extra flags go to the server: `npm start -- --port 7000 --log-level debug`.
import { Kafka, logLevel } from 'kafkajs';
import { CliUsageError, parseCli } from '../src/server/config.js';
import { ensureTopic, startDemoProducer, type DemoProducer } from '../src/server/demoProducer.js';
import { createKafkaSseServer, type KafkaSseServer } from '../src/server/server.js';
import { HarnessError, LOCAL_BROKER, externalBrokers, startBroker, stopBroker } from './lib/kafkaHarness.js';

const DEMO_TOPIC = 'demo';
const DEMO_PARTITIONS = 3;
const EVENTS_PER_SECOND = 3;

const log = (line: string) => console.log(line);
let brokerStartedHere = false;
let producer: DemoProducer | undefined;
let server: KafkaSseServer | undefined;
let stopping: Promise<void> | undefined;

async function stopEverything(): Promise<void> {
  await producer?.stop().catch((err: unknown) => console.error('demo producer:', err));
  await server?.close();
  if (brokerStartedHere) await stopBroker({ log });
}

function onSignal(signal: NodeJS.Signals) {
  if (stopping) {
    log('still stopping (the broker takes a few seconds to shut down)…');
    return;
  }
  log(`\n${signal}: stopping the server, the demo producer${brokerStartedHere ? ' and the broker' : ''}…`);
  stopping = stopEverything().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  const parsed = parseCli(['serve', '--demo', ...process.argv.slice(2)]);
  if (parsed.command !== 'serve') throw new CliUsageError('npm start only serves; run `npx kafka-sse --help` for the flags');
  const external = externalBrokers();
  let brokers = external ?? parsed.config.brokers;
  if (!external) {
    const info = await startBroker({ log });
    brokerStartedHere = info.startedHere;
    brokers = [LOCAL_BROKER];
    log(`Apache Kafka ${info.version} at ${info.address}${info.startedHere ? ' (started for this demo)' : ' (already running)'}`);
  }
  if (stopping) await stopping;

  const kafka = new Kafka({ clientId: 'kafka-sse-demo', brokers, logLevel: logLevel.ERROR });
  if (await ensureTopic(kafka, DEMO_TOPIC, DEMO_PARTITIONS)) log(`created topic ${DEMO_TOPIC} (${DEMO_PARTITIONS} partitions)`);
  producer = await startDemoProducer(kafka, DEMO_TOPIC, EVENTS_PER_SECOND);

  server = createKafkaSseServer({ ...parsed.config, brokers, logLevel: parsed.config.logLevel === 'info' ? 'warn' : parsed.config.logLevel });
  const { url } = await server.listen();
  log('');
  log(`  kafka-sse demo: open ${url}`);
  log(`  stream:         ${url}v1/stream/${DEMO_TOPIC}   (curl -N ${url}v1/stream/${DEMO_TOPIC})`);
  log(`  producing ${EVENTS_PER_SECOND} events/s to topic "${DEMO_TOPIC}". Press Ctrl-C to stop.`);
  log('');
} catch (err) {
  console.error(err instanceof HarnessError || err instanceof CliUsageError ? err.message : err);
  await stopEverything().catch(() => {});
  process.exit(1);
}
