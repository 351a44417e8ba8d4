// Sample events for tests: the same generators the demo load uses.
export { SAMPLE_EVENTS, searchPerformed, trackPlayed, uiInteraction } from '../../services/local-run/sample-events.ts';
