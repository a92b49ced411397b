// Bounded waits for tests: every wait has a deadline, and a failure says what did not happen.

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rejects if `promise` has not settled within `ms`: a bound on "promptly", never a wait for an outcome. */
export function within<T>(promise: Promise<T>, ms = 2000, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` every 20 ms until it holds: for state no event reports. Rejects after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${typeof what === 'function' ? what() : what}: not within ${timeoutMs} ms`);
    await delay(20);
  }
}

/** `until` with the arguments in the order the fault tests use. */
export const eventually = (check: () => boolean, timeoutMs: number, describe: () => string) => until(check, describe, timeoutMs);
