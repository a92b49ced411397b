// `npm run kafka:start | kafka:stop | kafka:status`, plus `tsx scripts/kafka.ts wipe` to delete local topics.
import { HarnessError, brokerStatus, startBroker, stopBroker, wipeData } from './lib/kafkaHarness.js';

const command = process.argv[2];
try {
  switch (command) {
    case 'start': {
      const info = await startBroker();
      console.log(
        info.startedHere
          ? `kafka: Apache Kafka ${info.version} is up at ${info.address} (pid ${info.pid})`
          : `kafka: already running — Apache Kafka ${info.version} at ${info.address}`,
      );
      break;
    }
    case 'stop':
      await stopBroker();
      break;
    case 'status': {
      const status = await brokerStatus();
      console.log(`kafka: ${status.line}`);
      process.exitCode = status.running ? 0 : 3;
      break;
    }
    case 'wipe':
      await wipeData();
      console.log('kafka: broker stopped and local data deleted (downloaded jars kept)');
      break;
    default:
      console.error('usage: tsx scripts/kafka.ts start|stop|status|wipe');
      process.exitCode = 2;
  }
} catch (err) {
  console.error(err instanceof HarnessError ? err.message : err);
  process.exitCode = 1;
}
