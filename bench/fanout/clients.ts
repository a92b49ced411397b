// The fan-out bench's load generator: thousands of SSE streams over raw `net` sockets in one process,
// spawned by bench/scenarios/fanout.ts (with its own fd limit) and driven over IPC. Kept as cheap as
// possible so the server, not this process, is what is measured: bytes are read as latin1 strings, the
// chunked transfer encoding is undone by hand, and of each event only its boundary (`\n\n`), its
// `event:` name and the record's `"seq":` and `"sentAt":` fields are looked at. The event loop's delay
// is measured over the production window and reported, so a client-bound run shows as such.
//
// Messages in (IPC):  { type: 'open', port, path, count, wave, pauseMs, records, stalled? }
//                     { type: 'status' } · { type: 'produce-start' } · { type: 'stall', ms }
//                     { type: 'collect', sinceMs? } · { type: 'close' }
// Messages out: one reply per request ({ type: 'reply', id, … }).
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const now = (): number => performance.timeOrigin + performance.now();

const enum State {
  Head,
  Size,
  Data,
  DataEnd,
  Body, // not chunked: the rest of the connection is body
  Done,
}

/** A growable Float64Array of latency samples. */
class Samples {
  values = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = v;
  }
  /** Sorted copy of the samples taken at or after index `from`. */
  sorted(from = 0): Float64Array {
    return this.values.slice(from, this.length).sort();
  }
}

function pct(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Reads a (possibly fractional) decimal number in `s` starting at `i`; stops at the first other char. */
function readNumber(s: string, i: number): number {
  let v = 0;
  let c = s.charCodeAt(i);
  while (c >= 48 && c <= 57) {
    v = v * 10 + (c - 48);
    c = s.charCodeAt(++i);
  }
  if (c === 46) {
    let scale = 0.1;
    c = s.charCodeAt(++i);
    while (c >= 48 && c <= 57) {
      v += (c - 48) * scale;
      scale /= 10;
      c = s.charCodeAt(++i);
    }
  }
  return v;
}

interface Group {
  /** Latencies of this group's deliveries (ms). */
  latencies: Samples;
  /** Index in `latencies` where the current measurement window started (see `mark`). */
  windowStart: number;
}

class Stream {
  state = State.Head;
  head = '';
  chunkLeft = 0;
  sizeLine = '';
  carry = '';
  status = 0;
  connectStart = 0;
  firstBodyAt = 0;
  ready = false;
  failed: string | undefined;
  seen: Uint8Array;
  messages = 0;
  duplicates = 0;
  socket!: net.Socket;

  constructor(
    records: number,
    readonly group: Group,
    readonly readyOnFirstByte: boolean,
  ) {
    this.seen = new Uint8Array(records);
  }

  onData(s: string, at: number): void {
    let i = 0;
    if (this.state === State.Head) {
      this.head += s;
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const sp = this.head.indexOf(' ');
      this.status = Number(this.head.slice(sp + 1, sp + 4));
      if (this.status !== 200) {
        this.fail(`HTTP ${this.status}`);
        this.socket.destroy();
        return;
      }
      const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(this.head.slice(0, end));
      s = this.head.slice(end + 4);
      this.head = '';
      this.state = chunked ? State.Size : State.Body;
    }
    if (this.state === State.Body) {
      if (s.length) this.body(s, at);
      return;
    }
    // Chunked transfer encoding: <hex size>[;ext]\r\n<data>\r\n … 0\r\n\r\n
    while (i < s.length) {
      if (this.state === State.Size) {
        const nl = s.indexOf('\r\n', i);
        if (nl < 0) {
          this.sizeLine += s.slice(i);
          return;
        }
        const line = this.sizeLine + s.slice(i, nl);
        this.sizeLine = '';
        i = nl + 2;
        const size = parseInt(line, 16);
        if (!(size > 0)) {
          this.state = State.Done;
          return;
        }
        this.chunkLeft = size;
        this.state = State.Data;
      } else if (this.state === State.Data) {
        const take = Math.min(this.chunkLeft, s.length - i);
        this.body(take === s.length && i === 0 ? s : s.slice(i, i + take), at);
        i += take;
        this.chunkLeft -= take;
        if (this.chunkLeft === 0) {
          this.state = State.DataEnd;
          this.chunkLeft = 2;
        }
      } else if (this.state === State.DataEnd) {
        const take = Math.min(this.chunkLeft, s.length - i);
        i += take;
        this.chunkLeft -= take;
        if (this.chunkLeft === 0) this.state = State.Size;
      } else return;
    }
  }

  /** Body bytes: split into events at blank lines; only message events carrying a seq are counted. */
  body(s: string, at: number): void {
    if (this.firstBodyAt === 0) {
      this.firstBodyAt = at;
      if (this.readyOnFirstByte) this.ready = true;
    }
    const buf = this.carry.length ? this.carry + s : s;
    let start = 0;
    for (;;) {
      const end = buf.indexOf('\n\n', start);
      if (end < 0) break;
      if (buf.startsWith('event: ', start) && !buf.startsWith('event: message\n', start)) {
        if (buf.startsWith('event: position', start)) this.ready = true;
      } else {
        const k = buf.indexOf('"seq":', start);
        if (k >= 0 && k < end) {
          const seq = readNumber(buf, k + 6);
          const t = buf.indexOf('"sentAt":', k);
          const sentAt = t >= 0 && t < end ? readNumber(buf, t + 9) : NaN;
          this.message(seq, at - sentAt);
        }
      }
      start = end + 2;
    }
    this.carry = start === 0 ? buf : buf.slice(start);
  }

  message(seq: number, latency: number): void {
    this.messages++;
    if (seq >= this.seen.length) {
      const grown = new Uint8Array(Math.max(seq + 1, this.seen.length * 2));
      grown.set(this.seen);
      this.seen = grown;
    }
    if (this.seen[seq]! > 0) this.duplicates++;
    if (this.seen[seq]! < 255) this.seen[seq]!++;
    this.group.latencies.push(latency);
  }

  fail(reason: string): void {
    if (!this.failed && !this.ready) this.failed = reason;
  }
}

const main: Group = { latencies: new Samples(), windowStart: 0 };
const stalledGroup: Group = { latencies: new Samples(), windowStart: 0 };
const streams: Stream[] = [];
const stalled: Stream[] = [];
const connectTimes: number[] = [];
const lag = monitorEventLoopDelay({ resolution: 10 });
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
/** This process's CPU since the last produce-start, to tell a client-bound run. */
let cpuMark = { cpu: process.cpuUsage(), at: now() };

function open(port: number, path: string, records: number, group: Group, readyOnFirstByte: boolean): Promise<Stream> {
  const stream = new Stream(records, group, readyOnFirstByte);
  return new Promise((resolve) => {
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(stream);
    };
    const timer = setTimeout(() => {
      stream.fail('no response within 15 s');
      settle();
    }, 15_000);
    stream.connectStart = now();
    // `onread`: every socket reads into one shared buffer and calls back directly, bypassing the
    // Readable stream machinery (no 'data' event, no Buffer per read): the cheapest read Node offers.
    const socket = net.connect({
      host: '127.0.0.1',
      port,
      onread: {
        buffer: READ_BUFFER,
        callback: (nread: number, buf: Uint8Array) => {
          stream.onData((buf as Buffer).toString('latin1', 0, nread), now());
          if (!settled && (stream.firstBodyAt || stream.failed)) settle();
          return true;
        },
      },
    });
    stream.socket = socket;
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nConnection: keep-alive\r\n\r\n`);
    });
    socket.on('error', (err) => {
      stream.fail((err as NodeJS.ErrnoException).code ?? err.message);
      settle();
    });
    socket.on('close', () => {
      stream.fail('closed before the first body byte');
      settle();
    });
  });
}

function summary(list: Stream[], records: number) {
  let exactlyOnce = 0;
  let missing = 0;
  let duplicates = 0;
  let messages = 0;
  let complete = 0;
  for (const s of list) {
    if (!s.firstBodyAt || s.failed) continue;
    messages += s.messages;
    duplicates += s.duplicates;
    let got = 0;
    for (let i = 0; i < records; i++) {
      const n = s.seen[i]!;
      if (n === 0) missing++;
      else if (n === 1) exactlyOnce++;
      if (n > 0) got++;
    }
    // Records beyond `records` should not exist; count them as duplicates (delivered but not expected).
    for (let i = records; i < s.seen.length; i++) duplicates += s.seen[i]!;
    if (got === records) complete++;
  }
  return { exactlyOnce, missing, duplicates, messages, complete };
}

function latencyOf(group: Group, fromWindow: boolean) {
  const sorted = group.latencies.sorted(fromWindow ? group.windowStart : 0);
  return { count: sorted.length, p50: pct(sorted, 50), p99: pct(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : NaN };
}

type Request =
  | { type: 'open'; id: number; port: number; path: string; count: number; wave: number; pauseMs: number; records: number; readyOnFirstByte: boolean; stalled?: boolean }
  | { type: 'status'; id: number; records: number }
  | { type: 'produce-start'; id: number }
  | { type: 'mark'; id: number }
  | { type: 'stall'; id: number; ms: number }
  | { type: 'collect'; id: number; records: number }
  | { type: 'close'; id: number };

async function handle(m: Request): Promise<Record<string, unknown>> {
  switch (m.type) {
    case 'open': {
      const opened: Stream[] = [];
      const started = now();
      for (let i = 0; i < m.count; i += m.wave) {
        const wave = await Promise.all(
          Array.from({ length: Math.min(m.wave, m.count - i) }, () => open(m.port, m.path, m.records, m.stalled ? stalledGroup : main, m.readyOnFirstByte)),
        );
        opened.push(...wave);
        if (i + m.wave < m.count) await new Promise((r) => setTimeout(r, m.pauseMs));
      }
      const refusedReasons: Record<string, number> = {};
      let refused = 0;
      for (const s of opened) {
        if (s.failed || !s.firstBodyAt) {
          refused++;
          const why = s.failed ?? 'no body';
          refusedReasons[why] = (refusedReasons[why] ?? 0) + 1;
        } else connectTimes.push(s.firstBodyAt - s.connectStart);
      }
      (m.stalled ? stalled : streams).push(...opened);
      return { opened: opened.length - refused, refused, refusedReasons, seconds: (now() - started) / 1000 };
    }
    case 'status': {
      let ready = 0;
      let failed = 0;
      let complete = 0;
      let messages = 0;
      for (const s of streams) {
        if (s.failed) failed++;
        else if (s.ready) ready++;
        messages += s.messages;
        if (s.messages >= m.records && s.messages - s.duplicates >= m.records) complete++;
      }
      let stalledComplete = 0;
      for (const s of stalled) if (s.messages - s.duplicates >= m.records) stalledComplete++;
      return { streams: streams.length, ready, failed, complete, messages, stalled: stalled.length, stalledComplete };
    }
    case 'produce-start':
      cpuMark = { cpu: process.cpuUsage(), at: now() };
      lag.reset();
      lag.enable();
      return {};
    case 'mark':
      // Starts a new latency window (the slow-client check compares two phases on the same streams).
      main.windowStart = main.latencies.length;
      stalledGroup.windowStart = stalledGroup.latencies.length;
      return {};
    case 'stall': {
      for (const s of stalled) s.socket.pause();
      const at = now();
      setTimeout(() => {
        for (const s of stalled) s.socket.resume();
      }, m.ms).unref();
      return { at };
    }
    case 'collect': {
      lag.disable();
      const cpu = process.cpuUsage(cpuMark.cpu);
      const sortedConnect = connectTimes.slice().sort((a, b) => a - b);
      return {
        connect: { count: sortedConnect.length, p50: pct(sortedConnect, 50), p99: pct(sortedConnect, 99), max: sortedConnect.at(-1) ?? NaN },
        main: { ...summary(streams, m.records), latency: latencyOf(main, false), window: latencyOf(main, true) },
        stalled: stalled.length ? { ...summary(stalled, m.records), latency: latencyOf(stalledGroup, false) } : undefined,
        eventLoopLag: { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
        /** CPU of this process since produce-start, in cores (1 = one core busy the whole time). */
        cpuCores: (cpu.user + cpu.system) / 1000 / (now() - cpuMark.at),
      };
    }
    case 'close':
      for (const s of [...streams, ...stalled]) s.socket.destroy();
      return {};
  }
}

process.on('message', (m: Request) => {
  handle(m).then(
    (r) => process.send?.({ type: 'reply', id: m.id, ...r }),
    (err: unknown) => process.send?.({ type: 'reply', id: m.id, error: String(err) }),
  );
});
// Ends with the scenario: when it exits (even abruptly) the IPC channel closes.
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'hello', pid: process.pid });
