/**
 * Every error kafka-sse can answer a client with. Each has a stable `code`, an HTTP `status`, and a
 * message a user can act on. Before the first byte of a stream they become an HTTP response; after it,
 * one SSE `error` event (see README, "Errors").
 */
export class KafkaSseError extends Error {
  override name = 'KafkaSseError';
  constructor(
    readonly code: string,
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

/**
 * Makes a KafkaSseError subclass with a fixed name, code and status: `new MyError(message, details?)`.
 * Exported so servers and stages built on the library can add codes of their own in the same shape.
 */
export function defineError(name: string, code: string, status: number) {
  const cls = class extends KafkaSseError {
    override name = name;
    constructor(message: string, details: Record<string, unknown> = {}) {
      super(code, status, message, details);
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** Assignments or `Last-Event-ID` are malformed: not JSON, wrong shape, bad numbers, duplicates. */
export const InvalidAssignmentError = defineError('InvalidAssignmentError', 'KSSE_INVALID_ASSIGNMENT', 400);
/** A topic name Kafka would never accept (characters, length, `.`/`..`, empty). */
export const InvalidTopicNameError = defineError('InvalidTopicNameError', 'KSSE_INVALID_TOPIC_NAME', 400);
/** A partition the topic does not have. */
export const PartitionNotFoundError = defineError('PartitionNotFoundError', 'KSSE_PARTITION_NOT_FOUND', 400);
/** A timestamp (`atTimestamp`, `since`) that is not a date. */
export const InvalidTimestampError = defineError('InvalidTimestampError', 'KSSE_INVALID_TIMESTAMP', 400);
/** `Last-Event-ID` is larger than the configured byte limit; rejected before it is parsed. */
export const HeaderTooLargeError = defineError('HeaderTooLargeError', 'KSSE_HEADER_TOO_LARGE', 431);
/** A requested topic does not exist (it is never created on the client's behalf). */
export const TopicNotFoundError = defineError('TopicNotFoundError', 'KSSE_TOPIC_NOT_FOUND', 404);
/** A requested topic is not in `allowedTopics`. Answers 404 like a missing one, so names don't leak. */
export const TopicNotAllowedError = defineError('TopicNotAllowedError', 'KSSE_TOPIC_NOT_ALLOWED', 404);
/** `allowedTopics` is set but none of those topics exists: a server misconfiguration. */
export const NoTopicsAvailableError = defineError('NoTopicsAvailableError', 'KSSE_NO_TOPICS_AVAILABLE', 500);
/** Kafka did not answer while the stream was being set up. */
export const KafkaUnavailableError = defineError('KafkaUnavailableError', 'KSSE_KAFKA_UNAVAILABLE', 503);
/** The server is at its connection limit; retry later (`Retry-After`). */
export const TooManyConnectionsError = defineError('TooManyConnectionsError', 'KSSE_TOO_MANY_CONNECTIONS', 503);
/** The caller may not read these topics (no or bad credentials). */
export const UnauthorizedError = defineError('UnauthorizedError', 'KSSE_UNAUTHORIZED', 401);
/** The caller is known but may not read these topics. */
export const ForbiddenError = defineError('ForbiddenError', 'KSSE_FORBIDDEN', 403);
/** A topic being streamed was deleted. */
export const TopicDeletedError = defineError('TopicDeletedError', 'KSSE_TOPIC_DELETED', 410);
/** Kafka failed mid-stream in a way the stream cannot recover from. */
export const ConsumeError = defineError('ConsumeError', 'KSSE_CONSUME_ERROR', 502);
/**
 * A record batch is compressed with a codec this server cannot decode. The stream ends with this code
 * and asks the client to come back later (`retry:`), instead of reconnecting into it every few seconds.
 */
export const UnsupportedCompressionError = defineError('UnsupportedCompressionError', 'KSSE_UNSUPPORTED_COMPRESSION', 502);
/** A pipeline stage (a deserializer, filter or custom stage) threw. */
export const StageError = defineError('StageError', 'KSSE_STAGE_ERROR', 500);
/** Anything unexpected. The message is generic; details go to the server log only. */
export const InternalError = defineError('InternalError', 'KSSE_INTERNAL', 500);

/** Wraps anything thrown into a KafkaSseError fit to show a client. */
export function toClientError(err: unknown): KafkaSseError {
  if (err instanceof KafkaSseError) return err;
  return new InternalError('Internal error');
}
