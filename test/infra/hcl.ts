// A small reader for the subset of HCL that infra/ uses: blocks, labels, attributes. An attribute's
// expression is kept as its source text (not evaluated), which is enough to check what a resource
// iterates over and which resource a grant names. Needs neither terraform nor a provider.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface HclAttribute {
  readonly name: string;
  /** The expression's source text, trimmed. */
  readonly expr: string;
  readonly line: number;
}

export interface HclBody {
  readonly attributes: ReadonlyMap<string, HclAttribute>;
  readonly blocks: readonly HclBlock[];
}

export interface HclBlock extends HclBody {
  readonly type: string;
  readonly labels: readonly string[];
  readonly file: string;
  readonly line: number;
}

/** Parses HCL source into its top-level body. Throws with file and line on input it does not understand. */
export function parseHcl(source: string, file = '<input>'): HclBody {
  const reader = new Reader(source, file);
  const body = reader.body(false);
  return body;
}

/** Every top-level block of every *.tf file in `dir` (not recursive), in file order. */
export function readModule(dir: string): HclBlock[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.tf')).sort();
  return files.flatMap((f) => parseHcl(readFileSync(join(dir, f), 'utf8'), join(dir, f)).blocks);
}

class Reader {
  private pos = 0;
  private readonly src: string;
  private readonly file: string;

  constructor(src: string, file: string) {
    this.src = src;
    this.file = file;
  }

  body(nested: boolean): HclBody {
    const attributes = new Map<string, HclAttribute>();
    const blocks: HclBlock[] = [];
    for (;;) {
      this.skipSpace(true);
      if (this.pos >= this.src.length) {
        if (nested) this.fail('unexpected end of file inside a block');
        return { attributes, blocks };
      }
      if (this.src[this.pos] === '}') {
        if (!nested) this.fail('unexpected "}"');
        this.pos++;
        return { attributes, blocks };
      }
      const line = this.line();
      const name = this.identifier();
      this.skipSpace(false);
      const c = this.src[this.pos];
      if (c === '=' && this.src[this.pos + 1] !== '=') {
        this.pos++;
        if (attributes.has(name)) this.fail(`attribute "${name}" set twice`);
        attributes.set(name, { name, expr: this.expression(), line });
        continue;
      }
      const labels: string[] = [];
      while (this.src[this.pos] !== '{') {
        if (this.src[this.pos] === '"') labels.push(this.stringLiteral());
        else labels.push(this.identifier());
        this.skipSpace(false);
      }
      this.pos++;
      const inner = this.body(true);
      blocks.push({ type: name, labels, file: this.file, line, ...inner });
    }
  }

  /** Reads an expression up to the end of its line (at bracket depth 0), returning its text. */
  private expression(): string {
    const start = this.pos;
    let depth = 0;
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === '\n' && depth === 0) break;
      if (c === '"') {
        this.skipString();
      } else if (c === '<' && this.src.startsWith('<<', this.pos)) {
        this.skipHeredoc();
      } else if (c === '#' || this.src.startsWith('//', this.pos)) {
        if (depth === 0) break;
        this.skipLineComment();
      } else if (this.src.startsWith('/*', this.pos)) {
        this.skipBlockComment();
      } else {
        if (c === '(' || c === '[' || c === '{') depth++;
        else if (c === ')' || c === ']' || c === '}') {
          if (depth === 0) break; // the end of the enclosing block on the same line
          depth--;
        }
        this.pos++;
      }
    }
    const text = this.src.slice(start, this.pos).trim();
    if (text === '') this.fail('attribute without a value');
    return text;
  }

  private skipString(): void {
    this.pos++; // opening quote
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === '\\') {
        this.pos += 2;
      } else if (c === '"') {
        this.pos++;
        return;
      } else if ((c === '$' || c === '%') && this.src[this.pos + 1] === '{') {
        this.pos += 2;
        this.skipTemplate();
      } else if (c === '\n') {
        this.fail('newline in a string');
      } else {
        this.pos++;
      }
    }
    this.fail('unterminated string');
  }

  /** Skips a template interpolation's body up to and including its closing "}". */
  private skipTemplate(): void {
    let depth = 0;
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === '"') {
        this.skipString();
        continue;
      }
      if (c === '{') depth++;
      if (c === '}') {
        if (depth === 0) {
          this.pos++;
          return;
        }
        depth--;
      }
      this.pos++;
    }
    this.fail('unterminated interpolation');
  }

  private skipHeredoc(): void {
    const m = /^<<-?([A-Za-z_][A-Za-z0-9_]*)\r?\n/.exec(this.src.slice(this.pos));
    if (!m) this.fail('malformed heredoc');
    const marker = m[1]!;
    this.pos += m[0].length;
    for (;;) {
      const end = this.src.indexOf('\n', this.pos);
      const lineEnd = end === -1 ? this.src.length : end;
      const text = this.src.slice(this.pos, lineEnd).trim();
      this.pos = lineEnd;
      if (text === marker) return;
      if (end === -1) this.fail(`heredoc ${marker} not closed`);
      this.pos++;
    }
  }

  private skipLineComment(): void {
    const end = this.src.indexOf('\n', this.pos);
    this.pos = end === -1 ? this.src.length : end;
  }

  private skipBlockComment(): void {
    const end = this.src.indexOf('*/', this.pos + 2);
    if (end === -1) this.fail('unterminated comment');
    this.pos = end + 2;
  }

  private skipSpace(newlines: boolean): void {
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\r' || (newlines && c === '\n')) this.pos++;
      else if (newlines && (c === '#' || this.src.startsWith('//', this.pos))) this.skipLineComment();
      else if (this.src.startsWith('/*', this.pos)) this.skipBlockComment();
      else return;
    }
  }

  private identifier(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(this.src.slice(this.pos, this.pos + 200));
    if (!m) this.fail(`expected a name, found ${JSON.stringify(this.src.slice(this.pos, this.pos + 20))}`);
    this.pos += m[0].length;
    return m[0];
  }

  private stringLiteral(): string {
    const start = this.pos;
    this.skipString();
    return JSON.parse(this.src.slice(start, this.pos)) as string;
  }

  private line(): number {
    let n = 1;
    for (let i = 0; i < this.pos; i++) if (this.src[i] === '\n') n++;
    return n;
  }

  private fail(message: string): never {
    throw new Error(`${this.file}:${this.line()}: ${message}`);
  }
}
