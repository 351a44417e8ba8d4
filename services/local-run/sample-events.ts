// Realistic sample events of the shipped types, deterministic from an index: the demo load, tests and benchmarks use them.

const PLATFORMS = ['ANDROID', 'IOS', 'DESKTOP', 'WEB', 'CAR', 'SPEAKER', 'OTHER'] as const;
const COUNTRIES = ['SE', 'US', 'BR', 'DE', 'JP', 'IN', 'GB'] as const;

function base62(n: number, length: number): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let out = '';
  let x = Math.abs(Math.imul(n + 1, 2654435761));
  for (let i = 0; i < length; i++) {
    out += alphabet[x % 62];
    x = Math.floor(x / 62) + Math.imul(i + 7, 40503);
  }
  return out;
}

/** A ~100-byte track_played payload (v2 shape when `v2`). */
export function trackPlayed(i: number, v2 = true): Record<string, unknown> {
  const event: Record<string, unknown> = {
    user_id: `u${base62(i % 5000, 11)}`,
    track_id: base62(i, 22),
    context_uri: i % 3 === 0 ? null : `playlist:${base62(i % 97, 22)}`,
    ms_played: 30_000 + (i % 180_000),
    reason_start: 'CLICK',
    reason_end: i % 5 === 0 ? 'FORWARD' : 'TRACK_DONE',
    platform: PLATFORMS[i % PLATFORMS.length],
    offline: i % 11 === 0,
    country: COUNTRIES[i % COUNTRIES.length],
  };
  if (v2) event.shuffle = i % 2 === 0;
  return event;
}

export function uiInteraction(i: number): Record<string, unknown> {
  return {
    user_id: `u${base62(i % 5000, 11)}`,
    session_id: base62(i % 300, 16),
    view: ['home', 'album', 'now_playing', 'search'][i % 4],
    element: ['play_button', 'shelf_item', 'like', 'share'][i % 4],
    action: ['TAP', 'LONG_PRESS', 'SWIPE', 'SCROLL', 'IMPRESSION'][i % 5],
    position: i % 4 === 0 ? null : i % 20,
    platform: PLATFORMS[i % PLATFORMS.length],
  };
}

export function searchPerformed(i: number): Record<string, unknown> {
  return {
    user_id: `u${base62(i % 5000, 11)}`,
    query: ['daft punk', 'lofi beats', 'taylor', 'jazz for work', 'podcast news'][i % 5],
    input: ['TYPED', 'VOICE', 'SUGGESTION'][i % 3],
    results_count: i % 50,
    latency_ms: 20 + (i % 200),
    clicked_position: i % 3 === 0 ? null : i % 10,
    market: COUNTRIES[i % COUNTRIES.length],
  };
}

export const SAMPLE_EVENTS: Record<string, (i: number) => Record<string, unknown>> = {
  track_played: (i) => trackPlayed(i),
  ui_interaction: uiInteraction,
  search_performed: searchPerformed,
};
