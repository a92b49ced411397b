// kafka-sse: the public surface. Re-exports only.
export { createKafkaSse, kafkaSse, kafkaSseResponse, refusalResponse, sendRefusal, isTransientRefusal, streamFormat } from './kafkaSse.js';
export type { AuthorizeResult, KafkaSseHandle, KafkaSseOptions, KafkaInstrumentationEvent, KafkaInstrumentationEventType, StreamSummary } from './kafkaSse.js';
export { consume } from './stages/consume.js';
export type { ConsumeOptions } from './stages/consume.js';
export type { Source, RecordSource, StartPosition, FetchedPartition, FetchOptions } from './source/source.js';
export { deserialize, jsonDeserializer } from './stages/deserialize.js';
export type { Deserializer, DeserializeOptions } from './stages/deserialize.js';
export { TombstoneRecord, isTombstone } from './stages/rawJsonRecord.js';
export { filter } from './stages/filter.js';
export type { Filterer } from './stages/filter.js';
export { urlFilter, MAX_FILTER_CONDITIONS, MAX_FILTER_PATH_DEPTH, MAX_FILTER_VALUE_BYTES } from './stages/urlFilter.js';
export { idTrack } from './stages/idTrack.js';
export type { IdTrackOptions } from './stages/idTrack.js';
export { sseEncode, sseEncodeBytes, encodeEvent, encodeComment, encodePosition, dataLines } from './stages/sseEncode.js';
export type { SseEncodeOptions } from './stages/sseEncode.js';
export { ndjsonEncode } from './stages/ndjsonEncode.js';
export { heartbeat } from './stages/heartbeat.js';
export { preamble } from './stages/preamble.js';
export { countEvents, meter } from './stages/meter.js';
export type { StreamCounters } from './stages/meter.js';
export { errorEvent, stageError } from './stages/errorEvent.js';
export type { ErrorEventOptions } from './stages/errorEvent.js';
export { defaultStages, streamFraming } from './pipeline.js';
export type { DefaultStagesOptions, StreamFramingOptions } from './pipeline.js';
export { sink } from './stages/sink.js';
export { webSink } from './stages/webSink.js';
export { compress, negotiateEncoding } from './stages/compress.js';
export type { CompressOptions, StreamEncoding } from './stages/compress.js';
export type { WebSinkOptions } from './stages/webSink.js';
export { KafkaClient, sharedClient, closeSharedClient } from './kafka/client.js';
export type { ClientTuning } from './kafka/client.js';
export { resolveStart } from './resolve.js';
export type { ResolveOptions } from './resolve.js';
export { parseAssignments, parseLastEventId, parseTimestamp, validateTopicName } from './position.js';
export type { Assignment, StartRequest, ParseLimits } from './position.js';
export {
  ERROR_TABLE,
  ConsumeError,
  ForbiddenError,
  HeaderTooLargeError,
  InternalError,
  InvalidAssignmentError,
  InvalidFilterError,
  InvalidTimestampError,
  InvalidTopicNameError,
  KafkaSseError,
  KafkaUnavailableError,
  NoTopicsAvailableError,
  PartitionNotFoundError,
  StageError,
  TooManyClientConnectionsError,
  TooManyConnectionsError,
  TokenExpiredError,
  TopicDeletedError,
  TopicNotAllowedError,
  TopicNotFoundError,
  UnauthorizedError,
  UnsupportedCompressionError,
  toClientError,
} from './errors.js';
export type { ErrorTableRow, KafkaSseErrorCode } from './errors.js';
export { silentLogger } from './logger.js';
export { kafkajsLogCreator } from './kafka/logging.js';
export type {
  KafkaRecord,
  DeserializedRecord,
  Position,
  TimestampPosition,
  PartitionProgress,
  RecordBatch,
  TrackedRecord,
  TrackedBatch,
  Stage,
  Logger,
  RequestLike,
  RawJsonRecord,
  IdParts,
} from './types.js';
