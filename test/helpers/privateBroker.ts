// A broker of the test file's own, for fault tests that stop and start Kafka: the shared broker on :9092
// (which every other test file uses at the same time) is never touched. Started fresh (its data wiped)
// and wiped again when the file ends.
import { after } from 'node:test';
import { Kafka, logLevel, type Admin, type KafkaConfig } from 'kafkajs';
import { startBroker, stopBroker, wipeData, type BrokerInstance } from '../../scripts/lib/kafkaHarness.js';

/** The fault tests' instance. Other files that need a private broker pick other ports. */
export const FAULTS_INSTANCE: BrokerInstance = { name: 'faults', port: 19092, controllerPort: 19093 };

/**
 * Why tests that stop a broker cannot run, or undefined when they can: against an external cluster
 * (`KAFKA_BROKERS`) there is no broker of ours to stop.
 */
export const brokerFaultsSkip: string | undefined = process.env.KAFKA_BROKERS?.trim()
  ? 'needs the local harness: KAFKA_BROKERS is set'
  : undefined;

export interface PrivateBroker {
  instance: BrokerInstance;
  /** `["localhost:<port>"]`. */
  brokers: string[];
  /** Starts the broker (again), keeping its data; resolves once it answers metadata requests. */
  start(): Promise<void>;
  /** Stops the broker and waits until its JVM is gone. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** A kafkajs instance for this broker with the given settings (fixtures' own clients). */
  kafka(config?: Partial<KafkaConfig>): Kafka;
  /** An admin client, disconnected when the file ends. */
  admin(): Promise<Admin>;
}

/**
 * Starts a private broker with empty storage (about 4 s) and registers its wipe for the end of the
 * test file. Call it from a test or a `before` hook; tests using it must be skipped with
 * `brokerFaultsSkip` when an external cluster is configured.
 */
export async function startPrivateBroker(instance: BrokerInstance = FAULTS_INSTANCE): Promise<PrivateBroker> {
  const quiet = () => {};
  // A run that crashed may have left this instance running or its topics behind: start from nothing.
  await wipeData(instance);
  after(() => wipeData(instance));
  await startBroker({ instance, log: quiet, timeoutMs: 60_000 });
  const brokers = [`localhost:${instance.port}`];
  const admins: Admin[] = [];
  after(async () => {
    await Promise.allSettled(admins.map((a) => a.disconnect()));
  });
  const kafka = (config: Partial<KafkaConfig> = {}) =>
    new Kafka({ clientId: `kafka-sse-tests-${instance.name}`, brokers, logLevel: logLevel.NOTHING, ...config });
  return {
    instance,
    brokers,
    async start() {
      await startBroker({ instance, log: quiet, timeoutMs: 60_000 });
    },
    async stop(signal = 'SIGTERM') {
      await stopBroker({ instance, signal, log: quiet, timeoutMs: 30_000 });
    },
    kafka,
    async admin() {
      const admin = kafka().admin();
      await admin.connect();
      admins.push(admin);
      return admin;
    },
  };
}
