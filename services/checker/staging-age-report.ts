// The line the checker logs once a minute per type whose oldest unclosed staging is past its window's end: what the
// "staging older than its max wait" alert in infra/ counts, since nothing deletes unproven staging by age.
//
// On Cloud Run the OpenTelemetry gauge (hourglass.checker.staging.unclosed_age) is not exported to Cloud
// Monitoring, so the alert reads a log-based metric of this line, as the window alerts do; the field names
// below are that metric's contract (test/infra/ checks infra/ against them).

/** jsonPayload.code of the line. */
export const STAGING_AGE_LOG_CODE = 'HG_STAGING_AGE';
/** Field: how far past the type's max wait the oldest unclosed staging is (s; negative while within it). The alert's filter compares it. */
export const STAGING_OVER_MAX_WAIT_FIELD = 'overMaxWaitS';

export interface UnclosedStaging {
  readonly type: string;
  /** Index of the oldest window holding a staged file. */
  readonly window: number;
  /** Seconds past that window's end (0 while it is open). */
  readonly ageS: number;
}

export interface StagingAgeLine {
  readonly level: 'info' | 'warn';
  readonly fields: Record<string, string | number>;
}

/** One line per type whose oldest staging is past its window's end; a warning once past the type's max wait. */
export function stagingAgeLines(staging: readonly UnclosedStaging[], windowS: number, maxWaitS: (type: string) => number): StagingAgeLine[] {
  return staging
    .filter((s) => s.ageS > 0)
    .map((s) => {
      const wait = maxWaitS(s.type);
      const over = Math.round(s.ageS - wait);
      return {
        level: over > 0 ? 'warn' : 'info',
        fields: { code: STAGING_AGE_LOG_CODE, type: s.type, window: new Date(s.window * windowS * 1000).toISOString(), oldestUnclosedStagingS: Math.round(s.ageS), maxWaitS: wait, [STAGING_OVER_MAX_WAIT_FIELD]: over },
      };
    });
}
