// Production-shaped Kafka for the tests that need one: a 3-node KRaft cluster (RF 3, min ISR 2) whose
// nodes a test may kill and start again, and a SASL/SCRAM-SHA-512 node. Both run beside the shared
// broker on :9092, on their own ports (scripts/lib/clusterHarness.ts), and, like privateBroker.ts, are
// started fresh at a test file's top level and wiped when the file ends. Only one test file may use
// each: a node killed by one file would disturb another.
import { spawnSync } from 'node:child_process';
import { after } from 'node:test';
import { Kafka, logLevel, type Admin, type KafkaConfig, type SASLOptions } from 'kafkajs';
import {
  activeController,
  CLUSTER_BROKERS,
  CLUSTER_NODE_IDS,
  reassignPartition,
  SASL_BROKERS,
  SASL_USER,
  saslLogin,
  startCluster,
  startClusterNode,
  startSaslNode,
  stopClusterNode,
  waitForClusterBrokers,
  wipeCluster,
  wipeSaslNode,
} from '../../scripts/lib/clusterHarness.js';
import { brokerFaultsSkip } from './privateBroker.js';

/** Why the cluster and SASL tests cannot run, or undefined when they can: nodes of our own are needed. */
export const clusterSkip: string | undefined = brokerFaultsSkip;

/** Why `reassign` cannot run, or undefined when it can: its Java helper is compiled with `javac` (a JDK, not only a JRE). */
export const reassignSkip: string | undefined =
  clusterSkip ?? (spawnSync('javac', ['-version'], { stdio: 'ignore' }).error ? 'needs javac (a JDK) to reassign partitions' : undefined);

export interface TestCluster {
  /** Every member's client listener, `localhost:29092..29094`. */
  brokers: string[];
  /** The node ids, 1..3 (what `leaderOf` answers). */
  nodeIds: readonly number[];
  /** Stops node `nodeId` (1..3): SIGKILL is a crash, SIGTERM a controlled shutdown. Resolves when its JVM is gone. */
  kill(nodeId: number, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts node `nodeId` again with its data; resolves when the cluster's metadata lists all three brokers. */
  start(nodeId: number): Promise<void>;
  /** Starts every node that is not running (a test's clean-up after a kill). */
  restoreAll(): Promise<void>;
  /** An admin client, disconnected when the file ends. */
  admin(): Promise<Admin>;
  /** A kafkajs instance for the cluster with the given settings. */
  kafka(config?: Partial<KafkaConfig>): Kafka;
  /** The active controller's node id (the quorum leader), from the nodes' logs. */
  activeController(): number | undefined;
  /** The node id leading `topic`'s `partition` in the metadata of a live node (-1: none). */
  leaderOf(topic: string, partition: number): Promise<number>;
  /**
   * Creates a topic of `partitions` partitions on all three nodes whose preferred leaders go round the
   * nodes (partition p led by node p % 3 + 1), and waits until every partition has a leader.
   */
  createSpreadTopic(topic: string, partitions: number): Promise<void>;
  /** Creates a topic with these replicas per partition (node ids, the first the preferred leader); waits until all are in sync. */
  createTopicOn(topic: string, replicas: number[][]): Promise<void>;
  /** Moves a partition to these replicas and resolves when the reassignment has completed. */
  reassign(topic: string, partition: number, replicas: number[]): Promise<void>;
}

const quiet = logLevel.NOTHING;

function adminPool(kafka: (config?: Partial<KafkaConfig>) => Kafka) {
  const admins: Admin[] = [];
  after(async () => {
    await Promise.allSettled(admins.map((a) => a.disconnect()));
  });
  return async () => {
    const admin = kafka().admin();
    await admin.connect();
    admins.push(admin);
    return admin;
  };
}

/**
 * Starts the 3-node cluster with empty storage (all nodes at once; about 15-25 s on two cores) and
 * registers its wipe for the end of the test file. Call it at a test file's top level; tests using it
 * are skipped with `clusterSkip`.
 */
export async function startTestCluster(): Promise<TestCluster> {
  // A run that crashed may have left nodes running or topics behind: start from nothing.
  await wipeCluster();
  after(() => wipeCluster());
  await startCluster();
  const kafka = (config: Partial<KafkaConfig> = {}) =>
    new Kafka({ clientId: 'kafka-sse-tests-cluster', brokers: CLUSTER_BROKERS, logLevel: quiet, ...config });
  const admin = adminPool(kafka);
  const down = new Set<number>();
  const cluster: TestCluster = {
    brokers: CLUSTER_BROKERS,
    nodeIds: CLUSTER_NODE_IDS,
    async kill(nodeId, signal = 'SIGKILL') {
      down.add(nodeId);
      await stopClusterNode(nodeId, signal);
    },
    async start(nodeId) {
      await startClusterNode(nodeId);
      down.delete(nodeId);
      await waitForClusterBrokers(CLUSTER_NODE_IDS.length);
    },
    async restoreAll() {
      await Promise.all([...down].map((id) => startClusterNode(id).then(() => down.delete(id))));
      await waitForClusterBrokers(CLUSTER_NODE_IDS.length);
    },
    admin,
    kafka,
    activeController,
    async leaderOf(topic, partition) {
      // A fresh admin each time: an old one may still hold metadata from before a failover. A broker that
      // has not yet applied a new topic's metadata answers UNKNOWN_TOPIC_OR_PARTITION: ask again briefly.
      for (let attempt = 0; ; attempt++) {
        const probe = kafka({ retry: { retries: 2, initialRetryTime: 100 } }).admin();
        try {
          await probe.connect();
          const { topics } = await probe.fetchTopicMetadata({ topics: [topic] });
          return topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader ?? -1;
        } catch (err) {
          if ((err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION' || attempt >= 50) throw err;
          await new Promise((resolve) => setTimeout(resolve, 200));
        } finally {
          await probe.disconnect().catch(() => {});
        }
      }
    },
    async createSpreadTopic(topic, partitions) {
      const ids = CLUSTER_NODE_IDS;
      await cluster.createTopicOn(topic, Array.from({ length: partitions }, (_, p) => ids.map((_, i) => ids[(p + i) % ids.length]!)));
    },
    async createTopicOn(topic, replicas) {
      const a = await admin();
      const replicaAssignment = replicas.map((nodes, partition) => ({ partition, replicas: nodes }));
      await a.createTopics({ topics: [{ topic, replicaAssignment }], waitForLeaders: false });
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ready = await a
          .fetchTopicMetadata({ topics: [topic] })
          .then(({ topics: [meta] }) => meta !== undefined && meta.partitions.length === replicas.length && meta.partitions.every((p) => p.leader > 0 && p.isr.length === replicas[p.partitionId]!.length))
          .catch(() => false);
        if (ready) return;
        if (Date.now() > deadline) throw new Error(`topic ${topic}: not every partition has a leader and all replicas in sync after 20 s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    reassign: reassignPartition,
  };
  return cluster;
}

export interface TestSaslBroker {
  /** `["localhost:29292"]`: a SASL_PLAINTEXT listener asking for SCRAM-SHA-512. */
  brokers: string[];
  /**
   * The user's kafkajs `sasl` option; a new object on every read, because kafkajs attaches the
   * credentials' authenticator to the object it is given (a copy of a used one keeps the old password).
   */
  readonly sasl: SASLOptions & { mechanism: 'scram-sha-512'; username: string; password: string };
  /** A kafkajs instance logged in as the user, with the given settings (which may replace `sasl`). */
  kafka(config?: Partial<KafkaConfig>): Kafka;
  /** An admin client logged in as the user, disconnected when the file ends. */
  admin(): Promise<Admin>;
}

/** Starts the SASL node with empty storage (about 10-15 s) and registers its wipe for the end of the file. */
export async function startSaslBroker(): Promise<TestSaslBroker> {
  await wipeSaslNode();
  after(() => wipeSaslNode());
  await startSaslNode();
  const kafka = (config: Partial<KafkaConfig> = {}) =>
    new Kafka({ clientId: 'kafka-sse-tests-sasl', brokers: SASL_BROKERS, logLevel: quiet, sasl: saslLogin(), ...config });
  return {
    brokers: SASL_BROKERS,
    get sasl() {
      return { mechanism: 'scram-sha-512' as const, username: SASL_USER.username, password: SASL_USER.password };
    },
    kafka,
    admin: adminPool(kafka),
  };
}
