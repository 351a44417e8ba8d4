// The public surface of the hourglass publisher SDK.
export { Publisher, type PublishItem, type PublishManyOptions, type PublishOptions, type PublisherStats, type InvalidEvent } from './publisher.ts';
export { EVENT_ID_SCOPE_SEPARATOR, validateScopedEventId } from './event-id-scope.ts';
export type { PublisherOptions } from './publisher-options.ts';
export { validateEventId, validatePayload, type FieldProblem } from '../registry/payload-validator.ts';
