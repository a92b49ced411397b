/**
 * Every error kafka-sse can answer a client with, in one table: code → class → status → when. Before the
 * first byte of a stream an error becomes an HTTP response; after it, one SSE `error` event (see README,
 * "Errors", which a test keeps equal to this table).
 */
export const ERROR_TABLE = [
  { code: 'KSSE_INVALID_ASSIGNMENT', name: 'InvalidAssignmentError', status: 400, scope: 'library', when: 'Assignments or `Last-Event-ID` malformed: not JSON, not a non-empty array, wrong types, negative, fractional or too-large numbers, duplicates, too many entries.' },
  { code: 'KSSE_INVALID_TOPIC_NAME', name: 'InvalidTopicNameError', status: 400, scope: 'library', when: 'A topic name Kafka would not accept (characters, `.`/`..`, empty, over 249 characters).' },
  { code: 'KSSE_PARTITION_NOT_FOUND', name: 'PartitionNotFoundError', status: 400, scope: 'library', when: 'A partition the topic does not have.' },
  { code: 'KSSE_INVALID_TIMESTAMP', name: 'InvalidTimestampError', status: 400, scope: 'library', when: '`atTimestamp` / `?since=` is not ms since the epoch or an ISO-8601 date.' },
  { code: 'KSSE_INVALID_FILTER', name: 'InvalidFilterError', status: 400, scope: 'library', when: 'A filter in the query string (`key=`, `header.<name>=`, `match.<path>=`) is malformed or over its bounds (20 conditions, 8 path fields, 256-byte values), or names `__proto__`, `constructor` or `prototype`.' },
  { code: 'KSSE_BAD_REQUEST', name: 'BadRequestError', status: 400, scope: 'server', when: 'a request the HTTP parser or router rejects.' },
  { code: 'KSSE_UNAUTHORIZED', name: 'UnauthorizedError', status: 401, scope: 'library', when: '`authorize` denied: no or bad credentials (*server*: JWT missing, bad, expired).' },
  { code: 'KSSE_TOKEN_EXPIRED', name: 'TokenExpiredError', status: 401, scope: 'library', when: '*after start*: the stream\'s authorization ran out (`authorize` returned `expiresAt`; *server*: the JWT\'s `exp`); reconnect with a fresh token from the last id.' },
  { code: 'KSSE_FORBIDDEN', name: 'ForbiddenError', status: 403, scope: 'library', when: '`authorize` denied these topics.' },
  { code: 'KSSE_TOPIC_NOT_FOUND', name: 'TopicNotFoundError', status: 404, scope: 'library', when: 'A requested topic does not exist (it is never created).' },
  { code: 'KSSE_TOPIC_NOT_ALLOWED', name: 'TopicNotAllowedError', status: 404, scope: 'library', when: 'A requested topic is not in `allowedTopics` (answered before Kafka is asked, like a missing one, so names do not leak).' },
  { code: 'KSSE_NOT_FOUND', name: 'RouteNotFoundError', status: 404, scope: 'server', when: 'no such route.' },
  { code: 'KSSE_METHOD_NOT_ALLOWED', name: 'MethodNotAllowedError', status: 405, scope: 'server', when: 'a method other than GET/HEAD (and OPTIONS with CORS); has `Allow`.' },
  { code: 'KSSE_REQUEST_TIMEOUT', name: 'RequestTimeoutError', status: 408, scope: 'server', when: 'request headers took longer than 10 s to arrive.' },
  { code: 'KSSE_TOPIC_DELETED', name: 'TopicDeletedError', status: 410, scope: 'library', when: '*after start*: a streamed topic was deleted.' },
  { code: 'KSSE_URI_TOO_LONG', name: 'UriTooLongError', status: 414, scope: 'server', when: 'URL over 8 KiB.' },
  { code: 'KSSE_TOO_MANY_CLIENT_CONNECTIONS', name: 'TooManyClientConnectionsError', status: 429, scope: 'library', when: 'Over `maxConnectionsPerClient` (streams from one client address); has `Retry-After`. An `EventSource` gets it as a transient refusal (see above).' },
  { code: 'KSSE_HEADER_TOO_LARGE', name: 'HeaderTooLargeError', status: 431, scope: 'library', when: '`Last-Event-ID` over `maxHeaderBytes` (checked before parsing), or headers over Node\'s limit.' },
  { code: 'KSSE_NO_TOPICS_AVAILABLE', name: 'NoTopicsAvailableError', status: 500, scope: 'library', when: '`allowedTopics` is set but none of them exists: a misconfiguration.' },
  { code: 'KSSE_STAGE_ERROR', name: 'StageError', status: 500, scope: 'library', when: '*after start*: a deserializer, filter or custom stage threw.' },
  { code: 'KSSE_INTERNAL', name: 'InternalError', status: 500, scope: 'library', when: 'Anything unexpected (details go to the log only).' },
  { code: 'KSSE_CONSUME_ERROR', name: 'ConsumeError', status: 502, scope: 'library', when: '*after start*: Kafka kept failing for longer than the retry window (30 s), or a batch was corrupt.' },
  { code: 'KSSE_UNSUPPORTED_COMPRESSION', name: 'UnsupportedCompressionError', status: 502, scope: 'library', when: '*after start*: a batch is compressed with a codec this server could not load; has `codec`, and a 60 s `retry:` hint.' },
  { code: 'KSSE_KAFKA_UNAVAILABLE', name: 'KafkaUnavailableError', status: 503, scope: 'library', when: 'Kafka did not answer while the stream was being set up; has `Retry-After`.' },
  { code: 'KSSE_TOO_MANY_CONNECTIONS', name: 'TooManyConnectionsError', status: 503, scope: 'library', when: 'Over `maxConnections` (streams of the whole handle); has `Retry-After`.' },
  { code: 'KSSE_SERVER_CLOSING', name: 'ServerClosingError', status: 503, scope: 'server', when: 'shutting down.' },
] as const;

/** One row of `ERROR_TABLE`. */
export type ErrorTableRow = (typeof ERROR_TABLE)[number];
/** Every code kafka-sse (library or ready-made server) can answer with. */
export type KafkaSseErrorCode = ErrorTableRow['code'];

const rows = new Map<string, ErrorTableRow>(ERROR_TABLE.map((row) => [row.code, row]));

/** The table row of `code`. */
export function errorInfo(code: KafkaSseErrorCode): ErrorTableRow {
  return rows.get(code)!;
}

/**
 * The base of every error kafka-sse answers with: a stable `code`, an HTTP `status`, and a message a
 * user can act on. Subclass it for errors of your own (any `code` string; `KSSE_` is ours).
 */
export class KafkaSseError extends Error {
  override name = 'KafkaSseError';
  constructor(
    readonly code: KafkaSseErrorCode | (string & {}),
    readonly status: number,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** The JSON body sent to clients: no stack, no internals. */
  toJSON(): Record<string, unknown> {
    return { ...this.details, name: this.name, code: this.code, status: this.status, message: this.message };
  }
}

/** The base class of the error with `code`: its name and status come from the table. */
export function errorClass<C extends KafkaSseErrorCode>(code: C) {
  const { name, status } = errorInfo(code);
  return class extends KafkaSseError {
    declare readonly code: C;
    override name: string = name;
    constructor(message: string, details: Record<string, unknown> = {}) {
      super(code, status, message, details);
    }
  };
}

/** Assignments or `Last-Event-ID` are malformed: not JSON, wrong shape, bad numbers, duplicates. */
export class InvalidAssignmentError extends errorClass('KSSE_INVALID_ASSIGNMENT') {}
/** A topic name Kafka would never accept (characters, length, `.`/`..`, empty). */
export class InvalidTopicNameError extends errorClass('KSSE_INVALID_TOPIC_NAME') {}
/** A partition the topic does not have. */
export class PartitionNotFoundError extends errorClass('KSSE_PARTITION_NOT_FOUND') {}
/** A timestamp (`atTimestamp`, `since`) that is not a date. */
export class InvalidTimestampError extends errorClass('KSSE_INVALID_TIMESTAMP') {}
/** A filter in the query string (`urlFilter`) is malformed or over its bounds. */
export class InvalidFilterError extends errorClass('KSSE_INVALID_FILTER') {}
/** `Last-Event-ID` is larger than the configured byte limit; rejected before it is parsed. */
export class HeaderTooLargeError extends errorClass('KSSE_HEADER_TOO_LARGE') {}
/** A requested topic does not exist (it is never created on the client's behalf). */
export class TopicNotFoundError extends errorClass('KSSE_TOPIC_NOT_FOUND') {}
/** A requested topic is not in `allowedTopics`. Answers 404 like a missing one, so names don't leak. */
export class TopicNotAllowedError extends errorClass('KSSE_TOPIC_NOT_ALLOWED') {}
/** `allowedTopics` is set but none of those topics exists: a server misconfiguration. */
export class NoTopicsAvailableError extends errorClass('KSSE_NO_TOPICS_AVAILABLE') {}
/** Kafka did not answer while the stream was being set up. */
export class KafkaUnavailableError extends errorClass('KSSE_KAFKA_UNAVAILABLE') {}
/** The server is at its connection limit; retry later (`Retry-After`). */
export class TooManyConnectionsError extends errorClass('KSSE_TOO_MANY_CONNECTIONS') {}
/** This client address has `maxConnectionsPerClient` streams open already; retry later (`Retry-After`). */
export class TooManyClientConnectionsError extends errorClass('KSSE_TOO_MANY_CLIENT_CONNECTIONS') {}
/** The caller may not read these topics (no or bad credentials). */
export class UnauthorizedError extends errorClass('KSSE_UNAUTHORIZED') {}
/** The stream's authorization ran out (`authorize`'s `expiresAt`, the JWT's `exp`): sent as the last event. */
export class TokenExpiredError extends errorClass('KSSE_TOKEN_EXPIRED') {}
/** The caller is known but may not read these topics. */
export class ForbiddenError extends errorClass('KSSE_FORBIDDEN') {}
/** A topic being streamed was deleted. */
export class TopicDeletedError extends errorClass('KSSE_TOPIC_DELETED') {}
/** Kafka failed mid-stream in a way the stream cannot recover from. */
export class ConsumeError extends errorClass('KSSE_CONSUME_ERROR') {}
/**
 * A record batch is compressed with a codec this server cannot decode. The stream ends with this code
 * and asks the client to come back later (`retry:`), instead of reconnecting into it every few seconds.
 */
export class UnsupportedCompressionError extends errorClass('KSSE_UNSUPPORTED_COMPRESSION') {}
/** A pipeline stage (a deserializer, filter or custom stage) threw. */
export class StageError extends errorClass('KSSE_STAGE_ERROR') {}
/** Anything unexpected. The message is generic; details go to the server log only. */
export class InternalError extends errorClass('KSSE_INTERNAL') {}

/**
 * Anything thrown, as a KafkaSseError fit to show a client: itself if it is one, else a generic
 * InternalError (the original belongs in the log). For `connectErrorHandler`s and servers of your own.
 */
export function toClientError(err: unknown): KafkaSseError {
  if (err instanceof KafkaSseError) return err;
  return new InternalError('Internal error');
}
