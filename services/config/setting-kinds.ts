// The kinds of value a setting can hold, each a pair of zod schemas (one for the text of a variable or flag, one for a value given in code) and its allowed range in words.
import { z } from 'zod';

export interface SettingKind<T> {
  /** Parses the trimmed text of an environment variable or flag. */
  readonly text: z.ZodType<T, string>;
  /** Checks a value given in code (overrides). */
  readonly value: z.ZodType<T>;
  /** The allowed values in words, for problems and the table ("an integer from 1 to 65535"). */
  readonly range: string;
  /** Unit of a number (s, ms, bytes, events/s), shown in the table. */
  readonly unit?: string;
}

const WHOLE = /^[+-]?\d+$/;

/** A whole number in [min, max]; `unit` names what it counts. */
export function integer(min: number, max: number, unit?: string): SettingKind<number> {
  const value = z.number().int().min(min).max(max);
  return {
    text: z.string().regex(WHOLE, 'not a whole number').transform(Number).pipe(value),
    value,
    range: `an integer from ${min} to ${max}${unit ? ` (${unit})` : ''}`,
    unit,
  };
}

/** A number in [min, max] (a rate, a fraction). */
export function numberIn(min: number, max: number, unit?: string): SettingKind<number> {
  const value = z.number().min(min).max(max);
  return {
    text: z.string().regex(/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, 'not a number').transform(Number).pipe(value),
    value,
    range: `a number from ${min} to ${max}${unit ? ` (${unit})` : ''}`,
    unit,
  };
}

/** A window length: whole seconds that divide a day, so windows align with hours and days. */
export function windowLength(): SettingKind<number> {
  const value = z
    .number()
    .int()
    .min(1)
    .max(86_400)
    .refine((n) => 86_400 % n === 0, 'does not divide a day');
  return {
    text: z.string().regex(WHOLE, 'not a whole number').transform(Number).pipe(value),
    value,
    range: 'a whole number of seconds from 1 to 86400 that divides a day (3600, 60, 10…)',
    unit: 's',
  };
}

const TRUE = ['true', '1', 'on', 'yes'];
const FALSE = ['false', '0', 'off', 'no'];

/** true/false (also 1/0, on/off, yes/no), any case. */
export function flag(): SettingKind<boolean> {
  return {
    text: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum([...TRUE, ...FALSE] as [string, ...string[]]))
      .transform((s) => TRUE.includes(s)),
    value: z.boolean(),
    range: 'true or false (also 1/0, on/off, yes/no)',
  };
}

/** One of the listed words. */
export function oneOf<const T extends string>(values: readonly [T, ...T[]]): SettingKind<T> {
  const value = z.enum(values as unknown as [T, ...T[]]) as unknown as z.ZodType<T>;
  return { text: value as unknown as z.ZodType<T, string>, value, range: `one of ${values.join(', ')}` };
}

/** Text matching `pattern` (whole), described in words by `what`. */
export function text(pattern: RegExp, what: string): SettingKind<string> {
  const value = z.string().regex(pattern, `does not match ${pattern.source}`);
  return { text: value, value, range: what };
}

/** Any non-empty text (a path, a URL, a bucket location). */
export function anyText(what: string): SettingKind<string> {
  const value = z.string().min(1);
  return { text: value, value, range: what };
}

/** The items of a list written with commas or newlines between them, trimmed, blanks dropped. */
export function splitList(raw: string): string[] {
  return raw
    .split(/[,\r\n]+/)
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/** A list separated by commas (and newlines), blanks dropped, at least one item, each item of `item`'s kind. */
export function listOf(item: SettingKind<string>, what: string): SettingKind<readonly string[]> {
  const value = z.array(item.value).min(1, 'an empty list');
  return {
    text: z
      .string()
      .transform(splitList)
      .pipe(value as unknown as z.ZodType<readonly string[], string[]>),
    value,
    range: `${what}, separated by commas`,
  };
}
