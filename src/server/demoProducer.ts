// The demo's data: a small shop writing a few realistic JSON events per second to a Kafka topic. Used
// by `npm start` and by the browser test; nothing in the server depends on it.
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';

export interface DemoEvent {
  type: 'order.created' | 'order.paid' | 'order.shipped' | 'cart.item_added' | 'page.viewed';
  user: string;
  at: string;
  orderId?: string;
  sku?: string;
  page?: string;
  amount?: number;
  currency?: string;
  items?: number;
}

/** Where one produced record landed. */
export interface ProducedRecord {
  partition: number;
  offset: number;
  /** When the send started (ms epoch). */
  sentAt: number;
}

export interface DemoProducer {
  /** Every record acknowledged so far, in acknowledgement order. */
  readonly produced: readonly ProducedRecord[];
  /** Stops producing; resolves once the last send is acknowledged and the producer disconnected. */
  stop(): Promise<void>;
}

const USERS = ['ada', 'grace', 'linus', 'margaret', 'ken', 'barbara', 'dennis', 'frances', 'edsger', 'radia'];
const SKUS = ['mug-kafka', 'tee-sse', 'sticker-pack', 'hoodie-stream', 'notebook-log'];
const PAGES = ['/', '/pricing', '/docs/getting-started', '/blog/exactly-once', '/products/hoodie-stream'];

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;
const money = (min: number, max: number) => Math.round((min + Math.random() * (max - min)) * 100) / 100;

/** One plausible shop event; keyed by user so each user's events stay in order on one partition. */
export function demoEvent(openOrders: Map<string, string>): DemoEvent {
  const user = pick(USERS);
  const at = new Date().toISOString();
  const open = openOrders.get(user);
  const roll = Math.random();
  if (open && roll < 0.35) {
    openOrders.delete(user);
    return { type: Math.random() < 0.6 ? 'order.paid' : 'order.shipped', user, at, orderId: open };
  }
  if (roll < 0.55) {
    const orderId = `ord_${randomBytes(4).toString('hex')}`;
    openOrders.set(user, orderId);
    return { type: 'order.created', user, at, orderId, amount: money(8, 240), currency: 'EUR', items: 1 + Math.floor(Math.random() * 4) };
  }
  if (roll < 0.8) return { type: 'cart.item_added', user, at, sku: pick(SKUS), amount: money(4, 90), currency: 'EUR' };
  return { type: 'page.viewed', user, at, page: pick(PAGES) };
}

/** Creates `topic` with `partitions` partitions unless it exists (never relies on auto-creation). */
export async function ensureTopic(kafka: Kafka, topic: string, partitions: number): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if ((await admin.listTopics()).includes(topic)) return false;
    return await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** Produces `ratePerSecond` demo events to `topic` (which must exist) until stopped. */
export async function startDemoProducer(kafka: Kafka, topic: string, ratePerSecond = 3): Promise<DemoProducer> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const produced: ProducedRecord[] = [];
  const openOrders = new Map<string, string>();
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();

  const sendOne = async () => {
    const event = demoEvent(openOrders);
    const sentAt = Date.now();
    const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: event.user, value: JSON.stringify(event) }] });
    if (meta) produced.push({ partition: meta.partition, offset: Number(meta.baseOffset), sentAt });
  };
  // One send at a time, so acknowledgements come back in order and nothing is left in flight at stop.
  const timer = setInterval(() => {
    inFlight = inFlight.then(() => (stopped ? undefined : sendOne())).catch(() => {});
  }, Math.max(1, Math.round(1000 / ratePerSecond)));

  return {
    produced,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await inFlight;
      await producer.disconnect();
    },
  };
}
