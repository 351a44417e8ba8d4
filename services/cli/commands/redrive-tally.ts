// What a redrive did, per type and source, and how the CLI reports it: a table and the problems (text), or one JSON object.
import type { CliContext } from '../cli-context.ts';
import { formatTable } from '../text-table.ts';
import type { DeadLetterSource } from './redrive-args.ts';

export type Outcome = 'redriven' | 'already' | 'skipped' | 'failed';

/** A dead letter that was not redriven, and why. */
export interface RedriveProblem {
  readonly outcome: 'skipped' | 'failed';
  readonly type: string;
  readonly source: DeadLetterSource;
  /** The dead letter: its key, and `#<message id>` for a message of an archive file. */
  readonly deadLetter: string;
  /** A reason code: the worker's (bad_records, …), "unreadable", or for a failure "publish_failed" / "mark_failed". */
  readonly reason: string;
  readonly detail: string;
}

type Counts = Record<Outcome, number>;

/** Problems listed in text output before "and N more" (--json lists them all). */
const MAX_LISTED = 50;

export class RedriveTally {
  readonly #rows = new Map<string, { type: string; source: DeadLetterSource; counts: Counts }>();
  readonly problems: RedriveProblem[] = [];
  /** Why the run stopped early, if it did. */
  stoppedBy: string | undefined;
  limitReached = false;

  add(type: string, source: DeadLetterSource, outcome: Outcome, n = 1): void {
    const key = `${type}\u0000${source}`;
    let row = this.#rows.get(key);
    if (row === undefined) {
      row = { type, source, counts: { redriven: 0, already: 0, skipped: 0, failed: 0 } };
      this.#rows.set(key, row);
    }
    row.counts[outcome] += n;
  }

  problem(p: RedriveProblem): void {
    this.add(p.type, p.source, p.outcome);
    this.problems.push(p);
  }

  totals(): Counts {
    const t: Counts = { redriven: 0, already: 0, skipped: 0, failed: 0 };
    for (const { counts } of this.#rows.values()) for (const k of Object.keys(t) as Outcome[]) t[k] += counts[k];
    return t;
  }

  /** 0 when every dead letter selected is (or, in a dry run, would be) redriven; 1 when one was skipped or failed, or the run stopped early on a failure. */
  exitCode(): number {
    const t = this.totals();
    return t.skipped > 0 || t.failed > 0 || this.stoppedBy !== undefined ? 1 : 0;
  }

  print(ctx: CliContext, opts: { json: boolean; dryRun: boolean; location: string; limit: number }): void {
    const rows = [...this.#rows.values()].sort((a, b) => a.type.localeCompare(b.type) || a.source.localeCompare(b.source));
    const totals = this.totals();
    if (opts.json) {
      ctx.print(JSON.stringify({
        location: opts.location, dryRun: opts.dryRun, ...totals, limitReached: this.limitReached, stoppedBy: this.stoppedBy ?? null,
        byType: rows.map((r) => ({ type: r.type, source: r.source, ...r.counts })),
        problems: this.problems,
      }));
      return;
    }
    if (rows.length === 0) {
      ctx.print(`no dead letters match at ${opts.location}`);
      return;
    }
    if (opts.dryRun) ctx.print('dry run: nothing was published, marked or deleted');
    const done = opts.dryRun ? 'TO REDRIVE' : 'REDRIVEN';
    for (const line of formatTable(['TYPE', 'SOURCE', done, 'ALREADY', 'SKIPPED', 'FAILED'], rows.map((r) => [r.type, r.source, ...[r.counts.redriven, r.counts.already, r.counts.skipped, r.counts.failed].map(String)]))) {
      ctx.print(line);
    }
    for (const outcome of ['skipped', 'failed'] as const) {
      const listed = this.problems.filter((p) => p.outcome === outcome);
      if (listed.length === 0) continue;
      ctx.print(
        outcome === 'skipped'
          ? 'skipped: the worker would dead-letter these again (fix the cause and redrive again, or --force republishes them anyway):'
          : 'failed: not redriven; nothing is lost, a dead letter is marked only once Pub/Sub acknowledged its republish, so a next redrive retries it:',
      );
      for (const p of listed.slice(0, MAX_LISTED)) ctx.print(`  ${p.deadLetter}: ${p.reason}: ${p.detail}`);
      if (listed.length > MAX_LISTED) ctx.print(`  … and ${listed.length - MAX_LISTED} more (--json lists them all)`);
    }
    if (this.limitReached) ctx.print(`stopped at --limit ${opts.limit}: more dead letters are selected; run again to go on`);
    if (this.stoppedBy !== undefined) ctx.print(`stopped early: ${this.stoppedBy}; run again once it is fixed`);
    ctx.print(`${totals.redriven} dead letter(s) ${opts.dryRun ? 'to redrive' : 'redriven'}; ${totals.already} already redriven, ${totals.skipped} skipped, ${totals.failed} failed`);
  }
}
