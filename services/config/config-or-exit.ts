// A process entry's first step: its configuration, or one log line listing every problem and exit code 2, the code of a refused configuration (nothing started yet, so nothing to stop).
import { hasCode } from '../errors/catalogue.ts';

/** What a refused configuration is reported with (a logger's error method). */
type ReportProblems = (event: string, fields: Record<string, unknown>) => void;

/** Returns `resolve()`; when it throws HG_CONFIG_INVALID, reports {"event":"config_invalid","problems":[…]} and exits 2. Other errors propagate. */
export function configOrExit<T>(resolve: () => T, report: ReportProblems): T {
  try {
    return resolve();
  } catch (err) {
    if (!hasCode(err, 'HG_CONFIG_INVALID')) throw err;
    const details = (err as { details?: { problems?: string[] } }).details;
    report('config_invalid', { message: err.message, problems: details?.problems ?? [err.message] });
    process.exit(2);
  }
}
