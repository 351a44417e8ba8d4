// The table benchmark's pipeline: bench/kit/pipeline-processes.ts (SDK publishers → worker → local directory ← checker, which announces its closes) with the table committer (node services/table/main.ts) reading the closed-windows topic.
import type { LocalStack } from '../../services/local-stack/local-stack.ts';
import type { Registry } from '../../services/registry/registry.ts';
import type { Child } from '../kit/child-process.ts';
import { openPipeline, type PipelineProcesses } from '../kit/pipeline-processes.ts';

export interface TableCommitterParams {
  /** The Iceberg REST catalog's base URI. */
  readonly catalogUri: string;
  readonly namespace: string;
  /** Names the committer in its snapshots' summaries. */
  readonly committerId: string;
}

export interface TablePipelineParams {
  readonly stack: LocalStack;
  /** The registry of `schemasDir`: a type that opts in makes provisioning create the tables subscription. */
  readonly registry: Registry;
  /** A schemas folder where track_played opts in ("table": true); the committer loads it. */
  readonly schemasDir: string;
  /** Window length of publishers, worker and checker (s). */
  readonly windowS: number;
  /** Start the table committer too; without it the tables subscription is made but read by nobody. */
  readonly committer?: TableCommitterParams;
}

export type TablePipeline = Omit<PipelineProcesses, 'checker' | 'services'> & { readonly checker: Child; readonly committer: Child | undefined };

export async function openTablePipeline(o: TablePipelineParams): Promise<TablePipeline> {
  const committer = o.committer;
  const pipeline = await openPipeline({
    stack: o.stack,
    registry: o.registry,
    windowS: o.windowS,
    // The checker announces each closed window on <prefix>closed-windows (HOURGLASS_ANNOUNCE_CLOSED, on by default).
    withChecker: true,
    services: (names) =>
      committer
        ? [
            {
              entry: 'services/table/main.ts',
              env: {
                HOURGLASS_SCHEMAS_DIR: o.schemasDir,
                HOURGLASS_TABLE_CATALOG_URI: committer.catalogUri,
                HOURGLASS_TABLE_NAMESPACE: committer.namespace,
                HOURGLASS_TABLE_SUBSCRIPTION: names.tablesSubscription,
                HOURGLASS_TABLE_COMMITTER_ID: committer.committerId,
              },
              readyEvent: 'table_committer_started',
            },
          ]
        : [],
  });
  return { ...pipeline, checker: pipeline.checker!, committer: pipeline.services[0] };
}
