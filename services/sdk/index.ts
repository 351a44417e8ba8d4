// The public surface of the hourglass publisher SDK.
export {
  Publisher,
  type CloseOptions,
  type CloseTimeoutDetails,
  type PublishItem,
  type PublishManyOptions,
  type PublishOptions,
  type PublisherStats,
  type InvalidEvent,
} from './publisher.ts';
export { EVENT_ID_SCOPE_SEPARATOR, validateScopedEventId } from './event-id-scope.ts';
export type { PublisherOptions } from './publisher-options.ts';
export { validateEventId, validatePayload, type FieldProblem } from '../registry/payload-validator.ts';
// What a publisher needs beside the Publisher: the registry it publishes against, and the errors it may catch.
export { Registry, type EventType, type SchemaVersion } from '../registry/registry.ts';
export { ERROR_CATALOGUE, HourglassError, hasCode, type ErrorCode } from '../errors/catalogue.ts';
export type { CodecName } from '../wire/codecs.ts';
