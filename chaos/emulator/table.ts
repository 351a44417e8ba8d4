// Prints the markdown table of chaos/EMULATOR.md from the experiment's result files, so the table is never typed by hand.
//
// Run: node chaos/emulator/table.ts [chaos/emulator-redelivery-results]
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Outcome } from './outcome.ts';

const dir = process.argv[2] ?? path.join(import.meta.dirname, '..', 'emulator-redelivery-results');
const range = (values: number[]) => {
  const [min, max] = [Math.min(...values), Math.max(...values)];
  return min === max ? String(min) : `${min}–${max}`;
};
const rows = [
  '| configuration | emulator | runs | published | processed | redelivered | drained (unprocessed) | missing for good | where the missing were | leases no client saw | StreamingPull threads left |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const result = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { emulator: { kind: string }; runs: Outcome[] };
  const runs = result.runs;
  const stages = new Map<string, number[]>();
  runs.forEach((r, i) => {
    for (const [stage, count] of Object.entries(r.missingByStage)) {
      const perRun = stages.get(stage) ?? runs.map(() => 0);
      perRun[i] = count;
      stages.set(stage, perRun);
    }
  });
  const where = [...stages].map(([stage, perRun]) => `${stage}: ${range(perRun)}`).join('; ') || '–';
  rows.push(
    `| ${file.replace(/\.json$/, '')} | ${result.emulator.kind} | ${runs.length} | ${range(runs.map((r) => r.counts.published))} | ${range(runs.map((r) => r.counts.processed))} | ${range(runs.map((r) => r.counts.redelivered))} | ${range(runs.map((r) => r.counts.drainedUnprocessed))} | **${range(runs.map((r) => r.counts.missingForGood))}** | ${where} | ${range(runs.map((r) => r.leasesNoClientSaw))} | ${range(runs.map((r) => r.pusherThreadsAfterSubscribers))} → ${range(runs.map((r) => r.pusherThreadsAfterDrain))} |`,
  );
}
process.stdout.write(`${rows.join('\n')}\n`);
