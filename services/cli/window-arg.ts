// The <hour> argument: which window a user means (2026-11-22T21, 2026-11-22/21, an ISO window start, a window id or a Hive path), and how windows are printed.
import { windowStartUs } from '../wire/window.ts';
import { UsageError } from './cli-error.ts';

const FORMS = '2026-11-22T21, 2026-11-22/21, or a window start such as 2026-11-22T21:52:20Z';

/** The window index `text` names, for windows of `windowS` seconds; UsageError when it names none. */
export function parseWindowArg(text: string, windowS: number, command?: string): number {
  const parts = matchForms(text.trim());
  if (!parts) throw new UsageError(`bad <hour> ${JSON.stringify(text)}: expected ${FORMS}`, command);
  const [y, mo, d, h, mi, s] = parts.fields;
  const ms = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  const back = new Date(ms);
  if (
    back.getUTCFullYear() !== y || back.getUTCMonth() !== mo! - 1 || back.getUTCDate() !== d ||
    back.getUTCHours() !== h || back.getUTCMinutes() !== mi || back.getUTCSeconds() !== s || parts.fraction
  ) {
    throw new UsageError(`bad <hour> ${JSON.stringify(text)}: not a valid UTC time (a window starts on a whole second)`, command);
  }
  if (parts.hourOnly && windowS < 3600) {
    throw new UsageError(
      `<hour> ${JSON.stringify(text)} names an hour, but windows are ${windowS} s long: name one window by its start, e.g. ${formatWindow(Math.floor(ms / 1000 / windowS), windowS)} (see "hourglass-events ls <type>")`,
      command,
    );
  }
  const seconds = ms / 1000;
  if (seconds % windowS !== 0) {
    throw new UsageError(
      `<hour> ${JSON.stringify(text)} is not the start of a ${windowS} s window; the window holding it starts at ${formatWindow(Math.floor(seconds / windowS), windowS)}`,
      command,
    );
  }
  return seconds / windowS;
}

/** How the CLI prints a window, in a form parseWindowArg accepts: 2026-11-22T21 for hour-aligned windows of an hour or more, else the ISO start. */
export function formatWindow(index: number, windowS: number): string {
  const iso = new Date(windowStartUs(index, windowS) / 1000).toISOString();
  if (windowS >= 3600 && iso.slice(13, 19) === ':00:00') return iso.slice(0, 13);
  return `${iso.slice(0, 19)}Z`;
}

interface Matched {
  /** Year, month, day, hour, minute, second. */
  readonly fields: number[];
  readonly hourOnly: boolean;
  /** A non-zero fraction of a second. */
  readonly fraction: boolean;
}

function matchForms(text: string): Matched | undefined {
  let m = /^(\d{4})-(\d{2})-(\d{2})[T/](\d{2})$/.exec(text);
  if (m) return { fields: [...m.slice(1, 5).map(Number), 0, 0], hourOnly: true, fraction: false };
  m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|\+00:00)?$/.exec(text);
  if (m) return { fields: [...m.slice(1, 6).map(Number), Number(m[6] ?? 0)], hourOnly: false, fraction: /[1-9]/.test(m[7] ?? '') };
  m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (m) return { fields: m.slice(1, 7).map(Number), hourOnly: false, fraction: false };
  m = /^(?:[a-z][a-z0-9_]*\/)?dt=(\d{4})-(\d{2})-(\d{2})\/hour=(\d{2})(?:\/minute=(\d{2})(?:\/second=(\d{2}))?)?\/?$/.exec(text);
  if (m) return { fields: [...m.slice(1, 5).map(Number), Number(m[5] ?? 0), Number(m[6] ?? 0)], hourOnly: m[5] === undefined, fraction: false };
  return undefined;
}
