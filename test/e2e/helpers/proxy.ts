import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/** Forwards 127.0.0.1:<port> to `target`; `cut()` breaks every open connection, as a network would. */
export async function cuttingProxy(target: URL) {
  const sockets = new Set<Socket>();
  const proxy = createServer((downstream) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise<void>((resolve) => proxy.close(() => resolve())),
  };
}
