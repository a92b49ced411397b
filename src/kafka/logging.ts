// kafkajs's own log lines, routed into the library's logger (silent unless the user passes one).
import { logLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from '../types.js';

/**
 * A kafkajs `logCreator` writing to `logger` under `component: 'kafkajs'`. kafkajs's errors arrive as
 * warnings: every failure it logs (a refused connection, a broker's error answer) is also thrown to
 * kafka-sse, which retries it or reports it with the stream it ended.
 */
export function kafkajsLogCreator(logger: Logger): logCreator {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, ...fields } = log;
      const entry = { namespace, ...fields };
      if (level === logLevel.ERROR || level === logLevel.WARN) kafkaLogger.warn(entry, message);
      else if (level === logLevel.INFO) kafkaLogger.info(entry, message);
      else kafkaLogger.debug(entry, message);
    };
}
