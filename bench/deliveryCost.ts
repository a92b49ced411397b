// `npx tsx bench/deliveryCost.ts [streams] [rounds]`: what one delivery of a cohort's batch costs the
// server, taken apart. N open SSE responses (clients in a child process that read and discard), then the
// same 2 KiB batch delivered to all N, round after round, in four ways:
//   bookkeeping   what a member does besides writing (counters, onProgress, lastWrite)
//   socket.write  the bytes straight to the socket: the syscall alone, no HTTP framing
//   res.write     through ServerResponse (chunked framing + the syscall): what a cohort does
//   res.write + bookkeeping  a cohort delivery
// CPU (user + system, process.cpuUsage) per delivery, over the rounds and the socket flushes they cause.
// Loopback only; stops by itself.
import { fork } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const N = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 200);

if (process.argv[2] === 'clients') {
  // The client side: N raw connections that read everything and throw it away.
  const { connect } = await import('node:net');
  const [port, n] = process.argv.slice(3).map(Number) as [number, number];
  let open = 0;
  for (let i = 0; i < n; i++) {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
    socket.once('data', () => {
      if (++open === n) process.send!('open');
    });
    socket.on('data', () => {});
    socket.on('error', () => {});
  }
} else {
  const responses: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': open\n\n');
    responses.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const clients = fork(fileURLToPath(import.meta.url), ['clients', String(port), String(N)], { execArgv: ['--import', 'tsx'] });
  await new Promise<void>((resolve) => clients.once('message', () => resolve()));

  const record = `event: message\nid: [{"topic":"t","partition":0,"offset":1}]\ndata: {"v":"${'x'.repeat(220)}"}\n\n`;
  const chunk = Buffer.from(record.repeat(Math.ceil(2048 / record.length)));
  const counters = responses.map(() => ({ events: 0, bytes: 0, lastWrite: 0 }));
  let progress = 0;
  const onProgress = (sent: { events: number; bytes: number }) => {
    progress += sent.events;
  };
  const bookkeeping = (i: number, now: number) => {
    const c = counters[i]!;
    c.events += 8;
    c.bytes += chunk.byteLength;
    onProgress({ events: 8, bytes: chunk.byteLength });
    c.lastWrite = now;
  };
  const ways: Record<string, (res: ServerResponse, i: number, now: number) => void> = {
    bookkeeping: (_res, i, now) => bookkeeping(i, now),
    'res.write': (res) => void res.write(chunk),
    'res.write + bookkeeping': (res, i, now) => {
      res.write(chunk);
      bookkeeping(i, now);
    },
    // Bypasses the chunked framing, after which the responses are no longer valid HTTP: last.
    'socket.write': (res) => void res.socket!.write(chunk),
  };
  const drained = () => new Promise<void>((resolve) => setTimeout(resolve, 2));
  const results: Array<{ way: string; usPerDelivery: number }> = [];
  for (const [way, deliver] of Object.entries(ways)) {
    for (let warm = 0; warm < 20; warm++) {
      const now = Date.now();
      for (let i = 0; i < responses.length; i++) deliver(responses[i]!, i, now);
      await drained();
    }
    const cpu = process.cpuUsage();
    for (let round = 0; round < ROUNDS; round++) {
      const now = Date.now();
      for (let i = 0; i < responses.length; i++) deliver(responses[i]!, i, now);
      await drained();
    }
    const used = process.cpuUsage(cpu);
    results.push({ way, usPerDelivery: (used.user + used.system) / (ROUNDS * N) });
  }
  clients.kill();
  server.closeAllConnections();
  server.close();
  const reference = results.find((r) => r.way === 'socket.write')!.usPerDelivery;
  process.stdout.write(`${N} streams × ${ROUNDS} rounds of one ${chunk.byteLength}-byte batch (progress calls: ${progress})\n\n`);
  process.stdout.write('| delivery | CPU per delivery | × socket.write |\n| --- | --- | --- |\n');
  for (const r of results) {
    process.stdout.write(`| ${r.way} | ${r.usPerDelivery.toFixed(2)} µs | ${(r.usPerDelivery / reference).toFixed(2)} |\n`);
  }
}
