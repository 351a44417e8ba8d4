// Renders settings specs as Markdown tables (variable, meaning, default, allowed values): the README's configuration section is made from the schemas with it, never by hand.
import type { Setting, SettingsSpec } from './settings.ts';

export interface SpecSection {
  /** Heading of the table, e.g. "Worker (services/worker)". */
  readonly title: string;
  readonly spec: SettingsSpec;
  /** Settings left out of this table (shown in a shared table instead). */
  readonly omit?: readonly Setting<unknown>[];
}

/** One Markdown table per section; a setting read from nowhere but code is marked "code only". */
export function renderSettingsTables(sections: readonly SpecSection[]): string {
  return sections.map(renderSection).join('\n');
}

function renderSection({ title, spec, omit = [] }: SpecSection): string {
  const rows = Object.entries(spec)
    .filter(([, s]) => !omit.includes(s))
    .map(([key, s]) => `| ${where(key, s)} | ${cell(s.doc)} | ${cell(defaultOf(s))} | ${cell(s.kind.range)} |`);
  return [`#### ${title}`, '', '| Setting | Meaning | Default | Allowed |', '|---|---|---|---|', ...rows, ''].join('\n');
}

/** `HOURGLASS_BUCKET`, `PORT`, `--flag`, or the option's name in code. */
function where(key: string, s: Setting<unknown>): string {
  const names = [...(s.flag ? [`\`--${s.flag}\``] : []), ...(s.env ?? []).map((e) => `\`${e}\``)];
  return names.length > 0 ? names.join(', ') : `\`${key}\` (code only)`;
}

function defaultOf(s: Setting<unknown>): string {
  if (s.defaultText !== undefined) return s.defaultText;
  if (s.default === undefined) return 'none';
  if (typeof s.default === 'function') return 'computed';
  const v = s.default as unknown;
  const unit = s.kind.unit ? ` ${s.kind.unit}` : '';
  return typeof v === 'string' ? `\`${v}\`` : `${String(v)}${unit}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
