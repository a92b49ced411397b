// `npm start`: the main job. Starts the local broker (unless KAFKA_BROKERS is set) and keeps it running
// until Ctrl-C, then stops what it started.
import { HarnessError, startBroker, stopBroker } from './lib/kafkaHarness.js';

try {
  const info = await startBroker({ log: (l) => console.log(l) });
  console.log(`Apache Kafka ${info.version} at ${info.address}. Press Ctrl-C to stop.`);
  const stop = async () => {
    if (info.startedHere) await stopBroker({ log: (l) => console.log(l) });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  setInterval(() => {}, 1 << 30);
} catch (err) {
  console.error(err instanceof HarnessError ? err.message : err);
  process.exit(1);
}
