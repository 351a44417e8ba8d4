// The worker's SIGTERM path inside one budget: Cloud Run sends SIGKILL 10 s after SIGTERM, so every step gets a deadline of its own, cut from one budget.
//
//   step      what                                                        until                with the default 9 s
//   writes    stop pulling, write what is held, wait for writes in flight budget − 2·reserve   7 s
//   release   close the subscriptions, send the last acks and nacks       budget − reserve     8 s
//   teardown  close the Pub/Sub client, storage, ops server, telemetry    budget               9 s (SIGKILL at 10 s)
//
// reserve = min(1 s, budget / 6). Each deadline is passed down to the step it bounds (not one timeout
// applied to each step in turn, which would add up). What a step has not finished by its deadline is
// abandoned, never acked: see Worker.stop().

import { Deadline, shutdownReserveMs } from '../concurrency/deadline.ts';

export { Deadline, type StepOutcome } from '../concurrency/deadline.ts';

/** Default of the budget (ms): Cloud Run kills 10 s after SIGTERM; a second is left for the process to end. */
export const DEFAULT_SHUTDOWN_BUDGET_MS = 9000;

/** The deadlines of one shutdown, all counted from the moment it was planned. */
export interface ShutdownPlan {
  readonly budgetMs: number;
  /** Held messages are written and acked by then; what is not is nacked (Pub/Sub delivers it again). */
  readonly writes: Deadline;
  /** The subscriptions are closed and the last acks and nacks sent by then. */
  readonly release: Deadline;
  /** The process's own clients (Pub/Sub, storage, ops server, telemetry) are closed by then, and it exits. */
  readonly exit: Deadline;
}

/** The offsets (ms after the start) of each deadline of a budget. */
export function shutdownOffsets(budgetMs: number): { writesMs: number; releaseMs: number; exitMs: number } {
  const reserve = shutdownReserveMs(budgetMs);
  return { writesMs: budgetMs - 2 * reserve, releaseMs: budgetMs - reserve, exitMs: budgetMs };
}

/** Splits `budgetMs`, starting now. */
export function planShutdown(budgetMs: number): ShutdownPlan {
  const start = performance.now();
  const o = shutdownOffsets(budgetMs);
  return { budgetMs, writes: new Deadline(start + o.writesMs), release: new Deadline(start + o.releaseMs), exit: new Deadline(start + o.exitMs) };
}
