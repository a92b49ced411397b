// Loopback network helpers for tests.
import { createServer, type AddressInfo } from 'node:net';

/** A port on this machine where nothing listens, so connections to it are refused (a broker that is down). */
export async function refusedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
