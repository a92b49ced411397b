import type { Logger } from './types.js';

/** The default logger: discards everything. Pass a pino logger as `options.logger` to see what happens. */
export const silentLogger: Logger = {
  child: () => silentLogger,
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
