// `kafka-eventsource/server`: the ready-made server as a library (what `kafka-sse serve` runs). Its own
// dependencies (pino, prom-client, jose) are optional peers of the package: install them to use it.
export { createKafkaSseServer, MAX_URL_BYTES } from './server.js';
export type { KafkaSseServer, KafkaSseServerOptions } from './server.js';
export { CliUsageError, FLAGS, LOG_LEVELS, helpText, parseCli } from './config.js';
export type { CliCommand, LogLevel, ServeConfig } from './config.js';
export { createServerMetrics } from './metrics.js';
export type { ServerMetrics } from './metrics.js';
export { jwtAuthorizer, readableTopics, tokenOf, TOKEN_COOKIE, TOKEN_QUERY_PARAMETER } from './auth.js';
export type { JwtAuthOptions } from './auth.js';
export { ensureTopic, startDemoProducer } from './demoProducer.js';
export type { DemoProducer } from './demoProducer.js';
export * from './errors.js';
