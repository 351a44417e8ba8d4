// The public surface of the hourglass publisher SDK.
export { Publisher, type PublishItem, type PublishOptions, type PublisherStats, type InvalidEvent } from './publisher.ts';
export type { PublisherOptions } from './publisher-options.ts';
export { validateEventId, validatePayload, type FieldProblem } from '../registry/payload-validator.ts';
