// Production-shaped local clusters beside the default broker: three combined broker+controller KRaft
// voters (a static quorum) and a single SASL/SCRAM-SHA-512 node. Each node is a harness instance
// (`.kafka/instances/<name>`), started, stopped and wiped with the single-node functions.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SASLOptions } from 'kafkajs';
import {
  BROKER_HOST,
  HarnessError,
  ROOT,
  describeCluster,
  ensureJars,
  formattedClusterId,
  kraftNodeProperties,
  instanceLogFile,
  newClusterId,
  startBroker,
  stopBroker,
  wipeData,
  type BrokerInstance,
} from './kafkaHarness.js';

/** Node ids of the cluster, 1..3; node `id` serves clients on 29091+id and its controller on 29191+id. */
export const CLUSTER_NODE_IDS = [1, 2, 3] as const;
const CLUSTER_BROKER_PORT = (id: number) => 29091 + id;
const CLUSTER_CONTROLLER_PORT = (id: number) => 29191 + id;
const QUORUM_VOTERS = CLUSTER_NODE_IDS.map((id) => `${id}@${BROKER_HOST}:${CLUSTER_CONTROLLER_PORT(id)}`).join(',');

/** The cluster's bootstrap list, every member. */
export const CLUSTER_BROKERS = CLUSTER_NODE_IDS.map((id) => `${BROKER_HOST}:${CLUSTER_BROKER_PORT(id)}`);

// Three JVMs share two cores with the default broker and the tests: small heaps.
const SMALL_HEAP = { min: '256m', max: '768m' };

function clusterNodeProperties(id: number, dataDir: string): string {
  const port = CLUSTER_BROKER_PORT(id);
  return [
    ...kraftNodeProperties({ nodeId: id, voters: QUORUM_VOTERS, port, controllerPort: CLUSTER_CONTROLLER_PORT(id), dataDir }),
    // What a production cluster of three runs with: every partition on every node, writes need two.
    'default.replication.factor=3',
    'min.insync.replicas=2',
    'offsets.topic.replication.factor=3',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=3',
    'transaction.state.log.min.isr=2',
    'share.coordinator.state.topic.replication.factor=3',
    'share.coordinator.state.topic.min.isr=2',
    // A killed node is fenced (and loses its leaderships) after 4 s instead of the default 9 s: the
    // failover tests wait for it; heartbeats every 500 ms keep a node under CPU load from being fenced.
    'broker.heartbeat.interval.ms=500',
    'broker.session.timeout.ms=4000',
    'group.initial.rebalance.delay.ms=0',
    '',
  ].join('\n');
}

/** The harness instance of cluster node `id` (1..3); `clusterId` is needed only to format it. */
export function clusterInstance(id: number, clusterId?: string): BrokerInstance {
  if (!CLUSTER_NODE_IDS.includes(id as 1 | 2 | 3)) throw new HarnessError(`kafka: no cluster node ${id} (nodes are 1..3)`);
  return {
    name: `cluster-${id}`,
    port: CLUSTER_BROKER_PORT(id),
    controllerPort: CLUSTER_CONTROLLER_PORT(id),
    properties: (dataDir) => clusterNodeProperties(id, dataDir),
    format: { clusterId },
    heap: SMALL_HEAP,
  };
}

/** The cluster id a member was formatted with, so that a node formatted later joins the same cluster. */
function clusterIdOnDisk(): string | undefined {
  for (const id of CLUSTER_NODE_IDS) {
    const found = formattedClusterId(clusterInstance(id));
    if (found) return found;
  }
  return undefined;
}

const quiet = () => {};

/** Waits until the cluster's metadata lists `count` brokers (a restarted node is back, or every node is up). */
export async function waitForClusterBrokers(count = CLUSTER_NODE_IDS.length, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const { brokers } = await describeCluster(CLUSTER_BROKERS, 3000);
      if (brokers.length >= count) return;
      last = `${brokers.length} broker(s): ${brokers.map((b) => b.nodeId).join(',')}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new HarnessError(`kafka: the cluster does not list ${count} brokers after ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts the three nodes at once (formatting fresh ones with the cluster's id) and resolves when the
 * cluster's metadata lists all three brokers.
 */
export async function startCluster(opts: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<string[]> {
  const clusterId = clusterIdOnDisk() ?? newClusterId();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  await Promise.all(
    CLUSTER_NODE_IDS.map((id) => startBroker({ instance: clusterInstance(id, clusterId), log: opts.log ?? quiet, timeoutMs })),
  );
  await waitForClusterBrokers(CLUSTER_NODE_IDS.length, timeoutMs);
  return CLUSTER_BROKERS;
}

/** Starts node `id` again (keeping its data); resolves once it answers metadata requests itself. */
export async function startClusterNode(id: number, timeoutMs = 60_000): Promise<void> {
  await startBroker({ instance: clusterInstance(id, clusterIdOnDisk()), log: quiet, timeoutMs });
}

/** Stops node `id` (SIGTERM: a controlled shutdown; SIGKILL: a crash) and waits until its JVM is gone. */
export async function stopClusterNode(id: number, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  await stopBroker({ instance: clusterInstance(id), signal, log: quiet, timeoutMs: 30_000 });
}

/**
 * The node that is the active controller (the quorum's leader), from the nodes' logs: the newest
 * epoch any of them became active at. Kafka clients cannot ask (a KRaft broker's metadata answer names
 * a random broker as "controller"), and kafkajs has no DescribeQuorum.
 */
export function activeController(): number | undefined {
  let newest: { id: number; epoch: number } | undefined;
  for (const id of CLUSTER_NODE_IDS) {
    const log = instanceLogFile(clusterInstance(id));
    if (!existsSync(log)) continue;
    for (const [, epoch] of readFileSync(log, 'utf8').matchAll(/Becoming the active controller at epoch (\d+)/g)) {
      if (!newest || Number(epoch) > newest.epoch) newest = { id, epoch: Number(epoch) };
    }
  }
  return newest?.id;
}

function run(cmd: string, args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (err) => done({ status: null, output: String(err) }));
    child.on('close', (code) => done({ status: code, output }));
  });
}

// kafkajs 2.2 has no AlterPartitionReassignments: a few lines of Java on the broker's own client jar
// do it, compiled once into .kafka/tools.
const REASSIGN_SOURCE = `import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.TopicPartition;

public class Reassign {
  public static void main(String[] args) throws Exception {
    TopicPartition tp = new TopicPartition(args[1], Integer.parseInt(args[2]));
    List<Integer> replicas = new ArrayList<>();
    for (String r : args[3].split(",")) replicas.add(Integer.parseInt(r));
    Map<String, Object> config = Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0], AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000, AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10000);
    try (Admin admin = Admin.create(config)) {
      admin.alterPartitionReassignments(Map.of(tp, Optional.of(new NewPartitionReassignment(replicas)))).all().get();
      while (admin.listPartitionReassignments(Set.of(tp)).reassignments().get().containsKey(tp)) Thread.sleep(100);
    }
  }
}
`;

/**
 * Moves `topic`'s `partition` to `replicas` (node ids; the first is the preferred leader) and resolves
 * once the reassignment has completed: the new replicas caught up and the removed ones were dropped.
 */
export async function reassignPartition(topic: string, partition: number, replicas: number[]): Promise<void> {
  const lib = ensureJars();
  const dir = join(ROOT, '.kafka', 'tools');
  const source = join(dir, 'Reassign.java');
  if (!existsSync(source) || readFileSync(source, 'utf8') !== REASSIGN_SOURCE || !existsSync(join(dir, 'Reassign.class'))) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(source, REASSIGN_SOURCE);
    const compiled = await run('javac', ['-cp', `${lib}/*`, '-d', dir, source]);
    if (compiled.status !== 0) throw new HarnessError(`kafka: compiling ${source} failed (a JDK is needed):\n${compiled.output}`);
  }
  const args = ['-Xmx256m', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', `${lib}/*:${dir}`, 'Reassign'];
  const { status, output } = await run('java', [...args, CLUSTER_BROKERS.join(','), topic, String(partition), replicas.join(',')]);
  if (status !== 0) throw new HarnessError(`kafka: reassigning ${topic}-${partition} to ${replicas.join(',')} failed:\n${output.trim().split('\n').slice(-15).join('\n')}`);
}

/** Kills every node (its data goes anyway: no controlled shutdown to wait for) and deletes the cluster's data. */
export async function wipeCluster(): Promise<void> {
  await Promise.all(CLUSTER_NODE_IDS.map((id) => stopClusterNode(id, 'SIGKILL')));
  await Promise.all(CLUSTER_NODE_IDS.map((id) => wipeData(clusterInstance(id))));
}

// ---- The SASL node ----

/** The SCRAM user the SASL node is formatted with; the node's own inter-broker login uses it too. */
export const SASL_USER = { username: 'kafka-sse', password: 'kafka-sse-secret' } as const;
export const SASL_BROKERS = [`${BROKER_HOST}:29292`];

/**
 * kafkajs's `sasl` option for the SASL node's user (or another password). A new object each call:
 * kafkajs attaches an `authenticationProvider` holding the credentials to the object it was given, so a
 * spread copy of a used one (`{ ...used, password: 'wrong' }`) would still log in with the old password.
 */
export function saslLogin(password: string = SASL_USER.password): SASLOptions {
  return { mechanism: 'scram-sha-512', username: SASL_USER.username, password };
}

export const SASL_INSTANCE: BrokerInstance = {
  name: 'sasl',
  port: 29292,
  controllerPort: 29392,
  // Clients see only the SASL listener: it is the only one advertised. The controller listener stays
  // PLAINTEXT on loopback; the node logs in to itself (inter-broker) as the same SCRAM user.
  properties: (dataDir) =>
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@${BROKER_HOST}:29392`,
      `listeners=SASL_PLAINTEXT://${BROKER_HOST}:29292,CONTROLLER://${BROKER_HOST}:29392`,
      `advertised.listeners=SASL_PLAINTEXT://${BROKER_HOST}:29292`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=SASL_PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
      'sasl.enabled.mechanisms=SCRAM-SHA-512',
      'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
      `listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${SASL_USER.username}" password="${SASL_USER.password}";`,
      `log.dirs=${dataDir}`,
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  // The user exists from the first metadata record on: no admin call (which would need a login) creates it.
  format: { args: ['--add-scram', `SCRAM-SHA-512=[name=${SASL_USER.username},password=${SASL_USER.password}]`] },
  sasl: saslLogin(),
  heap: SMALL_HEAP,
};

/** Starts the SASL node; resolves once it answers a metadata request from the SCRAM user. */
export async function startSaslNode(timeoutMs = 90_000): Promise<string[]> {
  await startBroker({ instance: SASL_INSTANCE, log: quiet, timeoutMs });
  return SASL_BROKERS;
}

/** Stops the SASL node and deletes its data. */
export async function wipeSaslNode(): Promise<void> {
  await wipeData(SASL_INSTANCE);
}
