// The completeness checker: each round, bounds every publisher, closes the windows the close rule allows, and moves late events.
//
// Its state files (heartbeat snapshot, status, coverage per type, close watermark per type) have fixed
// names and are rewritten at most once a second each (Cloud Storage's per-object limit), whatever the
// round interval: a round that comes sooner skips the write, or waits for it where order matters.
import type { PubSub } from '@google-cloud/pubsub';
import { mapLimit } from '../concurrency/map-limit.ts';
import { MemoryBudget } from '../concurrency/memory-budget.ts';
import type { Registry } from '../registry/registry.ts';
import { layout, type WindowRef } from '../storage/layout.ts';
import { STAGING_MANIFEST_SUFFIX } from '../storage/staging-manifest.ts';
import type { Storage } from '../storage/storage.ts';
import { traceClose, withinCloseSpan } from '../telemetry/tracing.ts';
import { RewritePacer } from '../storage/rewrite-pacer.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import { topicNames } from '../wire/topics.ts';
import { windowEndUs, windowOf, windowStartUs } from '../wire/window.ts';
import type { CheckerOptions } from './checker-options.ts';
import { decideClose, type PublisherView } from './close-rule.ts';
import type { ClosedManifest } from './closed-manifest.ts';
import { CheckerMetrics } from './checker-metrics.ts';
import { CloseWatermarks } from './close-watermark.ts';
import { removeUnlistedClientIds } from './closed-client-ids.ts';
import { ControlConsumer } from './control-consumer.ts';
import { StagedNoticeSubscription } from './staged-notices.ts';
import { statusKey, sweepGoneStatus } from './status-files.ts';
import { CoverageStore, coverageKey } from './coverage-store.ts';
import { HeartbeatTable, heartbeatSnapshotKey } from './heartbeat-table.ts';
import { moveLateEvents, removeStaged } from './late-events.ts';
import { WindowAnnouncer, type EventSink } from './window-announcer.ts';
import { compactSegment, notInSegments, segmentPrefix } from './segments.ts';
import { emptyWindowStaging, StagingIndex, type IndexedManifest, type WindowStaging } from './staging-index.ts';
import { closeWindow, closeWindowOutcome, closingRoot, readClosedManifest, type CloseOutcome } from './window-closer.ts';
import { ownedTypes } from './type-owners.ts';
import { runsOf, WindowedRuns } from './windowed-runs.ts';

/** Windows older than this drop out of the published status. */
const STATUS_HORIZON_MS = 48 * 3600 * 1000;
/** And at most this many windows per type (short windows would otherwise make the file large). */
const STATUS_WINDOWS_PER_TYPE = 200;
/** At most this many empty windows behind the newest ended one are closed (after a long outage, older empty ones stay unclosed). */
const MAX_EMPTY_WINDOWS = 1000;
/** How often each replica retries the windows whose announcement failed (one listing of checker/announce-pending/). */
const OWED_RETRY_MS = 10_000;
/** How often a notice slot that failed is opened again (ms). */
const NOTICE_RETRY_MS = 30_000;
/** A publisher heard from within this long counts as alive on the status page. */
const STATUS_ALIVE_MS = 30_000;
/**
 * How often the heartbeat snapshot is saved and the replicas' snapshots read, between rounds as well as at the start of each:
 * a replica's liveness (and so the types' ownership) must not depend on how long its rounds take.
 */
export const MEMBERSHIP_REFRESH_MS = 1000;
/** A replica not live whose state files were not written for this long is gone for good: what it left is merged, then removed. */
export const STALE_REPLICA_STATE_MS = 3600 * 1000;
/** How often a replica looks for heartbeat snapshots of replicas gone for good. */
const SNAPSHOT_SWEEP_EVERY_MS = 10 * 60 * 1000;

export type WindowStateName = 'open' | 'closing' | 'closed' | 'incomplete';

export interface WindowState {
  readonly type: string;
  readonly window: number;
  readonly windowStart: string;
  readonly state: WindowStateName;
  readonly stagedEvents: number;
  readonly events?: number;
  readonly closeDelayMs?: number;
  readonly lostEvents?: number;
  readonly abandonedEvents?: number;
  readonly lateEvents: number;
  readonly waitingOn?: string[];
  readonly path: string;
}

interface ClosedWindow {
  readonly ref: WindowRef;
  readonly manifest: ClosedManifest;
  /** What was staged when the round listed it. */
  readonly staging: WindowStaging;
  /** Closed by this round, after the listing: its closing attempt's files are not in `staging`, but here. */
  readonly closedNow?: CloseOutcome;
}

interface StagedCoverage {
  /** Keys of staged manifests already folded into `runs`. */
  readonly folded: Set<string>;
  readonly runs: Map<string, WindowedRuns>;
  /** When a publisher was first seen in staging (ms), for publishers that never sent a heartbeat. */
  readonly firstSeen: Map<string, number>;
}

export interface CheckerDeps {
  readonly registry: Registry;
  readonly storage: Storage;
  /** Pub/Sub client for the heartbeat subscription; omit to only read heartbeat snapshots from the bucket. */
  readonly pubsub?: PubSub;
  readonly options: CheckerOptions;
  readonly clock?: Clock;
  /** Called once per window this checker saw closed (by itself or another replica). */
  readonly onClosed?: (manifest: ClosedManifest, path: string) => void;
  /** Called once per window still open past its end plus the liveness timeout (it waits on a gap). */
  readonly onOverdue?: (ref: WindowRef, waitingOn: string[]) => void;
  /** Where closed-window events go (the closed-windows topic, see window-announcer.ts); omit to announce nothing. */
  readonly announce?: EventSink;
  /** Called when the types this replica owns, or the replicas it shares them with, change (and in its first round). */
  readonly onOwnership?: (o: { owned: string[]; replicas: string[] }) => void;
  /** Called with each failure of a round, a type's part of one, or a background step (also kept in `errors`, the last 100). */
  readonly onError?: (message: string) => void;
}

export class Checker {
  readonly #d: CheckerDeps;
  readonly #clock: Clock;
  readonly #heartbeats = new HeartbeatTable();
  readonly #coverage = new CoverageStore();
  readonly #index: StagingIndex;
  readonly #watermarks: CloseWatermarks;
  readonly #consumer: ControlConsumer | undefined;
  readonly #announcer: WindowAnnouncer | undefined;
  readonly #closed = new Map<string, ClosedManifest>();
  /** Ended windows (type/index) whose manifest this replica read and found absent, since it last gained the type. */
  readonly #metOpen = new Set<string>();
  readonly #states = new Map<string, WindowState>();
  readonly #late = new Map<string, number>();
  /** Per type: seqs of staged manifests folded in so far (coverage only grows). */
  readonly #staged = new Map<string, StagedCoverage>();
  /** Types whose delivered coverage changed and is not saved yet (a save failed). */
  readonly #unsavedCoverage = new Set<string>();
  /** Per type: the segment compaction in flight, if any. */
  readonly #compacting = new Map<string, Promise<void>>();
  /** What closes, segments and late moves may buffer at once (partsInMemory parts): each reserves its staged bytes, at most a part. */
  readonly #memory: MemoryBudget;
  /** Windows reported overdue (once each). */
  readonly #overdue = new Set<string>();
  /** Per type: the oldest window holding a staged file's manifest at the type's last listing (unproven data; nothing deletes it by age). */
  readonly #oldestStaged = new Map<string, number>();
  readonly #metrics: CheckerMetrics;
  /** Keeps each state file of this replica to one write a second. */
  readonly #pacer = new RewritePacer();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #membershipTimer: NodeJS.Timeout | undefined;
  /** This replica's reader of the staged notices (with a Pub/Sub client and notice slots). */
  readonly #notices: StagedNoticeSubscription | undefined;
  /** The notice slot it reads (its rank among the live replicas), if any. */
  #noticeSlot: number | undefined;
  /** When a slot was last opened (wall clock ms). */
  #noticesTriedMs = -Infinity;
  /** The membership refresh in flight, if any (one at a time). */
  #refreshing: Promise<void> | undefined;
  /** When snapshots of replicas gone were last looked for (wall clock ms). */
  #snapshotsSweptMs = -Infinity;
  readonly #startedMs: number;
  /** How far every live replica has read the control topic (Pub/Sub publish time, ms), as of this round. */
  #controlReadToMs: number | undefined;
  #stopped = false;
  /** When owed announcements were last retried (ms); -Infinity: in the first round. */
  #owedRetriedMs = -Infinity;
  /** The types this replica closes, as of the last round (type-owners.ts); every type when sharing is off. */
  #owned: ReadonlySet<string> = new Set();
  /** The replicas sharing the types with this one, as of the last round (itself included). */
  #replicas: readonly string[] = [];
  /** Segments this replica compacted (for tests and metrics). */
  segmentsMade = 0;
  /** Failures of a round, by message: counted, logged by the caller, retried next round. */
  readonly errors: string[] = [];

  constructor(deps: CheckerDeps) {
    this.#d = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#index = new StagingIndex(deps.storage, deps.options.windowS, deps.options.stagingRelistS * 1000);
    this.#watermarks = new CloseWatermarks(deps.storage, deps.options.windowS, deps.options.checkerId, this.#pacer);
    this.#startedMs = this.#clock.nowUs() / 1000;
    this.#memory = new MemoryBudget(deps.options.partsInMemory * deps.options.maxPartBytes);
    this.#metrics = new CheckerMetrics({
      windowStates: () => this.windowStates(),
      unclosedStaging: () => this.unclosedStaging(),
      publishersAlive: () => [...this.#heartbeats.views().values()].filter((v) => !(v.heartbeat?.final ?? false) && this.#nowMs() - v.lastSeenMs < STATUS_ALIVE_MS).length,
      nowMs: () => this.#nowMs(),
    });
    const names = topicNames(deps.options.topicPrefix);
    this.#announcer = deps.announce ? new WindowAnnouncer(deps.storage, deps.announce) : undefined;
    this.#consumer = deps.pubsub ? new ControlConsumer(deps.pubsub, { topic: names.controlTopic, subscription: names.controlSubscription }, this.#heartbeats, deps.options.checkerId) : undefined;
    this.#notices =
      deps.pubsub && deps.options.stagedNoticeSlots > 0
        ? new StagedNoticeSubscription(deps.pubsub, {
            notice: (n) => this.#index.noticed(n.type, n.key, this.#nowMs()),
            failed: (err) => {
              this.#index.distrustNotices();
              this.#recordError(`staged notices stopped (listing every round until they resume): ${err.message}`);
            },
          })
        : undefined;
  }

  /**
   * Reads the notice slot of this replica's rank among the live replicas (staged-notices.ts); none beyond the slots.
   * Any change, or a slot that failed (retried every NOTICE_RETRY_MS), starts a new notice epoch: views listed before
   * are listed again, so what a slot changing hands let another replica take is not missed.
   */
  #followNoticeSlot(): void {
    const notices = this.#notices;
    if (!notices || this.#stopped) return;
    const { checkerId, stagedNoticeSlots, topicPrefix } = this.#d.options;
    const rank = this.#liveReplicasWithSelf().indexOf(checkerId);
    const slot = rank < stagedNoticeSlots ? rank : undefined;
    if (slot === this.#noticeSlot && (slot === undefined || notices.listening || Date.now() - this.#noticesTriedMs < NOTICE_RETRY_MS)) return;
    this.#index.distrustNotices();
    this.#noticeSlot = slot;
    if (slot === undefined) {
      void notices.close();
      this.#recordError(`${rank + 1} live checker replicas, ${stagedNoticeSlots} notice slots: this one lists every round (raise stagedNoticeSlots with the replicas)`);
      return;
    }
    this.#noticesTriedMs = Date.now();
    notices.open(topicNames(topicPrefix).stagedSubscription(slot));
    this.#index.trustNotices();
  }

  /** Runs rounds every tickMs until stop(). */
  start(): void {
    const loop = async () => {
      if (this.#stopped) return;
      this.#running = this.tick().catch((err: unknown) => this.#recordError((err as Error).message));
      await this.#running;
      if (!this.#stopped) this.#timer = setTimeout(loop, this.#d.options.tickMs);
    };
    void loop();
    // Also while a long round runs (hundreds of types on a slow bucket): others see this replica alive, it sees them.
    // Next as soon as the snapshot may be written again (one write a second), at most every MEMBERSHIP_REFRESH_MS / 2.
    const refresh = async () => {
      if (this.#stopped) return;
      await this.#refreshMembership().catch((err: unknown) => this.#recordError(`refreshing the replicas' snapshots: ${(err as Error).message}`));
      const waitMs = this.#pacer.waitMs(heartbeatSnapshotKey(this.#d.options.checkerId));
      if (!this.#stopped) this.#membershipTimer = setTimeout(refresh, Math.max(MEMBERSHIP_REFRESH_MS / 2, waitMs));
    };
    this.#membershipTimer = setTimeout(refresh, MEMBERSHIP_REFRESH_MS);
  }

  /** Stops after the round in progress; idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#membershipTimer);
    await this.#running;
    await this.#refreshing?.catch(() => undefined);
    await Promise.all(this.#compacting.values());
    // The last snapshot says this replica reads no more, so the others stop counting on its progress.
    const consumer = this.#consumer;
    if (consumer) {
      await this.#pacer
        .whenDue(heartbeatSnapshotKey(this.#d.options.checkerId), () => consumer.persist(this.#d.storage, this.#nowMs(), true))
        .catch((err: unknown) => this.#recordError(`saving the last heartbeat snapshot: ${(err as Error).message}`));
    }
    await this.#consumer?.close();
    await this.#notices?.close();
    this.#metrics.close();
  }

  windowStates(): WindowState[] {
    return [...this.#states.values()].sort((a, b) => a.type.localeCompare(b.type) || b.window - a.window);
  }

  /**
   * Per type with staged files: the oldest window holding one (as last listed) and how long past that
   * window's end it is now (s; 0 while the window is open). A window closes by its max wait at the
   * latest, so an age beyond it means unproven data is stuck: the alert in infra/ reads this.
   */
  unclosedStaging(): Array<{ type: string; window: number; ageS: number }> {
    const nowMs = this.#nowMs();
    return [...this.#oldestStaged].map(([type, window]) => ({ type, window, ageS: Math.max(0, (nowMs - windowEndUs(window, this.#d.options.windowS) / 1000) / 1000) }));
  }

  /** One round: save and merge heartbeats, then every owned type's windows. */
  async tick(): Promise<void> {
    const { options, registry } = this.#d;
    const startedMs = this.#nowMs();
    await this.#refreshMembership();
    // Types are independent: a big type compacting or closing must not hold a small type's close back. Ownership can
    // change while the round runs (the refresh goes on beside it): a type lost is skipped, one gained is taken in this round.
    const done = new Set<string>();
    for (;;) {
      const types = registry.types().filter((t) => this.#owned.has(t.name) && !done.has(t.name));
      if (types.length === 0) break;
      for (const t of types) done.add(t.name);
      // Every replica's coverage of these types, with one listing: a type decides (and moves late events) only on it.
      await this.#coverage.loadAll(this.#d.storage, types.map((t) => t.name));
      await mapLimit(types, options.typesInParallel, async (type) => {
        if (!this.#owned.has(type.name)) return;
        try {
          await this.#tickType(type.name, type.config.livenessTimeoutMs, type.config.maxWaitMs);
        } catch (err) {
          this.#recordError(`${type.name}: ${(err as Error).message}`);
        }
      });
    }
    await this.#retryOwedAnnouncements();
    await this.#pacer.ifDue(statusKey(options.checkerId), () => this.#publishStatus());
    this.#metrics.round((this.#nowMs() - startedMs) / 1000);
  }

  /**
   * Saves this replica's heartbeat snapshot (when due), merges the replicas' snapshots, and decides the types it owns.
   * One at a time: a call while one runs waits for that one.
   */
  #refreshMembership(): Promise<void> {
    this.#refreshing ??= (async () => {
      const { storage, options } = this.#d;
      const consumer = this.#consumer;
      if (consumer) {
        consumer.probe();
        // Heartbeats received since the last save stay unacknowledged until the next one (at most a second).
        await this.#pacer.ifDue(heartbeatSnapshotKey(options.checkerId), () => consumer.persist(storage, this.#nowMs()));
      }
      await this.#heartbeats.loadAll(storage);
      this.#controlReadToMs = this.#heartbeats.controlReadToMs(this.#nowMs());
      this.#heartbeats.prune(this.#nowMs(), options.publisherRetentionMs);
      this.#shareTypes();
      this.#followNoticeSlot();
      if (Date.now() - this.#snapshotsSweptMs >= SNAPSHOT_SWEEP_EVERY_MS) {
        this.#snapshotsSweptMs = Date.now();
        const olderThanMs = Math.max(options.publisherRetentionMs, STALE_REPLICA_STATE_MS);
        await this.#heartbeats
          .sweepGone(storage, options.checkerId, { nowMs: Date.now(), olderThanMs })
          .catch((err: unknown) => this.#recordError(`removing heartbeat snapshots of replicas gone: ${(err as Error).message}`));
        await sweepGoneStatus(storage, { self: options.checkerId, live: new Set(this.#heartbeats.liveReplicas(this.#nowMs())), nowMs: Date.now(), olderThanMs: STALE_REPLICA_STATE_MS })
          .catch((err: unknown) => this.#recordError(`removing status files of replicas gone: ${(err as Error).message}`));
      }
    })().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /**
   * The registry's types this replica closes this round: its share among the live replicas (type-owners.ts),
   * or all of them with shareTypes off. A type it stops owning is forgotten here (its states and staging age:
   * its new owner reports them), so the status page and the alerts read each type from one replica.
   */
  #shareTypes(): ReturnType<Registry['types']> {
    const { options, registry } = this.#d;
    const all = registry.types();
    const live = options.shareTypes ? this.#heartbeats.liveReplicas(this.#nowMs()) : [];
    const replicas = options.shareTypes ? this.#liveReplicasWithSelf() : [options.checkerId];
    const owned = options.shareTypes ? ownedTypes(all.map((t) => t.name), options.checkerId, live) : new Set(all.map((t) => t.name));
    const changed = owned.size !== this.#owned.size || [...owned].some((t) => !this.#owned.has(t));
    if (changed || replicas.join() !== this.#replicas.join()) {
      for (const key of [...this.#states.keys()]) if (!owned.has(key.slice(0, key.indexOf('/')))) this.#states.delete(key);
      for (const type of [...this.#oldestStaged.keys()]) if (!owned.has(type)) this.#oldestStaged.delete(type);
      for (const type of this.#owned) {
        if (owned.has(type)) continue;
        this.#watermarks.forget(type);
        this.#index.forget(type);
        for (const key of this.#metOpen) if (key.startsWith(`${type}/`)) this.#metOpen.delete(key); // met again if regained
      }
      this.#d.onOwnership?.({ owned: [...owned].sort(), replicas });
    }
    this.#owned = owned;
    this.#replicas = replicas;
    return all.filter((t) => owned.has(t.name));
  }

  /** How this replica learnt of staging: listings, answers from notices without one, and notices received. */
  stagingReads(): { listings: number; fromNotices: number; notices: number } {
    return { listings: this.#index.listings, fromNotices: this.#index.fromNotices, notices: this.#notices?.received ?? 0 };
  }

  /** The live replicas, this one included (it always counts itself live), sorted: what ownership and notice slots rank. */
  #liveReplicasWithSelf(): string[] {
    return [...new Set([this.#d.options.checkerId, ...this.#heartbeats.liveReplicas(this.#nowMs())])].sort();
  }

  /** The types this replica closes (as of the last round), and the replicas it shares them with. */
  ownership(): { owned: string[]; replicas: string[] } {
    return { owned: [...this.#owned].sort(), replicas: [...this.#replicas] };
  }

  /** Writes this replica's view of every window to checker/status/<checker>.json, for the status page and the CLI. */
  async #publishStatus(): Promise<void> {
    const nowMs = this.#nowMs();
    const perType = new Map<string, number>();
    for (const s of this.windowStates()) {
      // windowStates() is newest first per type: keep the most recent windows of each type.
      const n = (perType.get(s.type) ?? 0) + 1;
      perType.set(s.type, n);
      if (n > STATUS_WINDOWS_PER_TYPE || nowMs - Date.parse(s.windowStart) >= STATUS_HORIZON_MS) this.#states.delete(`${s.type}/${s.window}`);
    }
    const states = this.windowStates();
    const publishers = [...this.#heartbeats.views().values()].map((v) => ({
      id: v.id,
      lastSeenMs: v.lastSeenMs,
      final: v.heartbeat?.final ?? false,
      alive: !(v.heartbeat?.final ?? false) && nowMs - v.lastSeenMs < STATUS_ALIVE_MS,
    }));
    await this.#d.storage.put(
      statusKey(this.#d.options.checkerId),
      JSON.stringify({ checker: this.#d.options.checkerId, updatedAt: new Date(nowMs).toISOString(), windowS: this.#d.options.windowS, windows: states, publishers, errors: this.errors.slice(-10) }),
    );
  }

  async #tickType(type: string, livenessTimeoutMs: number, maxWaitMs: number): Promise<void> {
    const { storage, options } = this.#d;
    if (this.#unsavedCoverage.has(type)) await this.#saveCoverage(type);
    const lastEnded = windowOf(this.#clock.nowUs(), options.windowS) - 1;
    const watermark = await this.#watermarks.get(type, windowOf(this.#startedMs * 1000, options.windowS) - 1);
    // On notices alone while only open windows are staged; listed when a window may close (a close is decided only
    // on a listing: a lost notice must never make seqs look missing), or late files wait in an ended one.
    const windows = await this.#index.windows(type, { nowMs: this.#nowMs(), mustList: lastEnded > watermark, listIfAny: (w) => w <= lastEnded });
    // Manifests, read or not: an unreadable one is unproven data too. (Debris without a manifest is not data.)
    const oldestStaged = [...windows].reduce((oldest, [w, { keys }]) => (w < oldest && keys.some((k) => k.endsWith(STAGING_MANIFEST_SUFFIX)) ? w : oldest), Infinity);
    if (Number.isFinite(oldestStaged)) this.#oldestStaged.set(type, oldestStaged);
    else this.#oldestStaged.delete(type);
    // Every ended window since the mark is considered, staged or not: one with no events closes empty,
    // with its proof, so whoever waits on its _SUCCESS is not left waiting for an hour that had nothing.
    for (let w = Math.max(watermark + 1, lastEnded - MAX_EMPTY_WINDOWS + 1); w <= lastEnded; w++) {
      if (!windows.has(w)) windows.set(w, emptyWindowStaging());
    }
    // Coverage: what is delivered already, plus what is staged in open windows. Staged manifests are
    // immutable, so each is folded in once; a round costs the listing, not the window's messages.
    // (Segments need no folding: their staged files stay until the window closes.)
    const listed = new Set<string>();
    for (const { staged: manifests, deadLetterNotes } of windows.values()) for (const { key } of [...manifests, ...deadLetterNotes]) listed.add(key);
    // Runs cannot be subtracted: when a folded manifest is gone (after a close, or removed by anyone
    // else), start over from what is listed now, so coverage never claims seqs no file holds.
    let staged = this.#stagedCoverage(type);
    if ([...staged.folded].some((key) => !listed.has(key))) {
      this.#staged.delete(type);
      staged = this.#stagedCoverage(type);
    }
    for (const [w, { staged: manifests, deadLetterNotes }] of windows) {
      for (const { key, manifest } of manifests) {
        if (staged.folded.has(key)) continue;
        staged.folded.add(key);
        for (const m of manifest.messages) {
          runsOf(staged.runs, m.publisher).add(m.firstSeq, m.firstSeq + m.count, w, w);
          staged.firstSeen.set(m.publisher, Math.min(staged.firstSeen.get(m.publisher) ?? Infinity, manifest.writtenAtUs / 1000));
        }
      }
      // Seqs a worker dead-lettered are accounted for (in deadletter/, named in the window's manifest), not missing.
      // A note alone does not bring its publisher into the rule: a real publisher is there by its heartbeats, and
      // a message from one that never sent any (a misconfigured client) must not hold windows for a liveness timeout.
      for (const { key, note } of deadLetterNotes) {
        if (staged.folded.has(key)) continue;
        staged.folded.add(key);
        for (const [from, to] of note.ranges) runsOf(staged.runs, note.publisher).add(from, to, w, w);
      }
    }
    const coverage = new Map<string, WindowedRuns>();
    for (const [p, runs] of this.#coverage.runs(type)) coverage.set(p, WindowedRuns.of(runs.runs));
    for (const [p, runs] of [...this.#coverage.deadLetteredRuns(type), ...staged.runs]) {
      const c = coverage.get(p);
      if (c) c.addAll(runs);
      else coverage.set(p, WindowedRuns.of(runs.runs));
    }
    const firstSeen = staged.firstSeen;
    // Liveness is counted from when this checker started listening at the earliest: a checker that has
    // just started has not read the heartbeat backlog yet, and must not declare anyone dead for that.
    const heard = (ms: number) => Math.max(ms, this.#startedMs);
    // How far the control topic is read, taken with the views it speaks for (both change while the round awaits storage).
    const controlReadToMs = this.#controlReadToMs;
    const publishers = new Map<string, PublisherView>();
    for (const [id, v] of this.#heartbeats.views()) publishers.set(id, { ...v, lastSeenMs: heard(v.lastSeenMs), heartbeatPublishedMs: v.lastSeenMs });
    for (const [id, seenMs] of firstSeen) if (!publishers.has(id)) publishers.set(id, { id, lastSeenMs: heard(seenMs) });

    const closedWindows: ClosedWindow[] = [];
    for (const w of [...windows.keys()].sort((a, b) => a - b)) {
      const staging = windows.get(w)!;
      const ref: WindowRef = { type, index: w, lengthS: options.windowS };
      const ended = this.#nowMs() >= windowEndUs(w, options.windowS) / 1000;
      // Known closed; or read when this replica first meets the ended window (another replica may have closed it: a
      // type just gained, a replica that crashed after its commit), and again only once the rule would close it.
      // While a window waits, its manifest is not read every round.
      const key = `${type}/${w}`;
      let closed = ended ? this.#closed.get(key) : undefined;
      const readNow = ended && !closed && !this.#metOpen.has(key);
      if (readNow) {
        closed = await this.#closedManifest(ref);
        if (!closed) this.#metOpen.add(key);
      }
      if (closed) {
        closedWindows.push({ ref, manifest: closed, staging });
        continue;
      }
      const pending = notInSegments(staging.staged, staging.segments);
      const stagedEvents = staging.staged.reduce((n, m) => n + m.manifest.events, 0);
      const decidedAtMs = this.#nowMs();
      const decision = ended
        ? decideClose({
            type,
            window: w,
            windowS: options.windowS,
            nowMs: this.#nowMs(),
            livenessTimeoutMs: options.livenessTimeoutMs ?? livenessTimeoutMs,
            maxWaitMs: options.maxWaitMs ?? maxWaitMs,
            publishers,
            controlReadToMs,
            discoveryMarginMs: options.discoveryMarginMs,
            ...(this.#consumer ? { readingSinceMs: this.#startedMs } : {}),
            coverage,
            seenInWindow: new Set([
              ...staging.staged.flatMap((m) => m.manifest.messages.map((x) => x.publisher)),
              ...staging.segments.flatMap((g) => Object.keys(g.runs)),
            ]),
          })
        : undefined;
      const committed = decision?.kind === 'close' && !readNow ? await this.#closedManifest(ref) : undefined;
      if (committed) {
        closedWindows.push({ ref, manifest: committed, staging });
        continue;
      }
      if (decision?.kind !== 'close') {
        // Not closable yet: compact what has piled up, so that closing later only finishes the tail. Beside
        // the rounds, so it never holds a close back; and not for a window that has just ended (its close
        // is due within seconds and finishes the tail anyway), only for one overdue on a gap.
        const overdueAtMs = windowEndUs(w, options.windowS) / 1000 + (options.livenessTimeoutMs ?? livenessTimeoutMs);
        const pendingBytes = stagedBytes(pending);
        if ((!ended || this.#nowMs() >= overdueAtMs) && !this.#compacting.has(type) && (pendingBytes >= options.segmentBytes || pending.length >= options.segmentFiles)) {
          const batch = segmentBatch(pending, options.segmentBytes, options.segmentFiles);
          const job = this.#memory
            .run(this.#partBytes(batch), () => compactSegment(storage, this.#d.registry, ref, staging.segments, batch, { codec: options.codec, maxPartBytes: options.maxPartBytes, checker: options.checkerId, clientIdHorizonUs: options.clientIdHorizonS * 1e6 }))
            .then((segment) => {
              if (!segment) return; // another replica made that segment first
              this.segmentsMade++;
              this.#metrics.segment(type);
            })
            .catch((err: unknown) => {
              // A window that closed meanwhile took its staged files away: the segment is moot, not a failure.
              if (!this.#closed.has(`${type}/${w}`)) this.#recordError(`${type}: compacting window ${w}: ${(err as Error).message}`);
            })
            .finally(() => {
              this.#compacting.delete(type);
              this.#index.changed(type); // a segment written: the next round lists it
            });
          this.#compacting.set(type, job);
        }
        this.#setState(ref, { state: ended ? 'closing' : 'open', stagedEvents, ...(decision ? { waitingOn: decision.waitingOn } : {}) });
        // Past the liveness timeout every publisher is bounded or dead: a window still open now waits on a gap.
        if (decision && this.#nowMs() >= overdueAtMs && !this.#overdue.has(`${type}/${w}`)) {
          this.#overdue.add(`${type}/${w}`);
          this.#d.onOverdue?.(ref, decision.waitingOn);
        }
        continue;
      }
      // A span per close, in the trace of the window's first traced message, linked to every one (tracing.ts).
      const traced = { type: ref.type, window: ref.index, windowS: ref.lengthS, manifests: staging.staged.map((s) => s.manifest) };
      let outcome: CloseOutcome | undefined;
      const manifest = await traceClose(traced, async () => (outcome = await this.#memory.run(this.#partBytes(pending), () => closeWindowOutcome(storage, this.#d.registry, {
        ref,
        status: decision.status,
        reason: decision.reason,
        proofs: decision.proofs,
        otherPublishersBounded: decision.otherPublishersBounded,
        manifests: staging.staged,
        deadLetterNotes: staging.deadLetterNotes,
        segments: staging.segments,
        closer: options.checkerId,
        provenAtMs: decidedAtMs,
        nowMs: () => this.#nowMs(),
        maxPartBytes: options.maxPartBytes,
        codec: options.codec,
        clientIdHorizonUs: options.clientIdHorizonS * 1e6,
        knownUncommitted: true, // #closedManifest read none just now (this round)
      }))).manifest);
      closedWindows.push({ ref, manifest, staging, closedNow: outcome });
    }
    await this.#afterClose(type, closedWindows);
    if (closedWindows.length > 0) this.#index.changed(type); // staging removed, late files moved: the next round lists
    let closedThrough = Math.max(watermark, lastEnded - MAX_EMPTY_WINDOWS);
    while (closedThrough < lastEnded && this.#closed.has(`${type}/${closedThrough + 1}`)) closedThrough++;
    await this.#watermarks.advance(type, closedThrough);
    await this.#watermarks
      .sweep(type, { nowMs: Date.now(), staleMs: STALE_REPLICA_STATE_MS, live: new Set(this.#heartbeats.liveReplicas(this.#nowMs())) })
      .catch((err: unknown) => this.#recordError(`${type}: removing watermarks of replicas gone: ${(err as Error).message}`));
  }

  /**
   * Records the closed windows' coverage and saves it (once for the lot: it is one object per type),
   * then removes their staging and segments, and moves staged files they do not hold to the late area.
   * The coverage is saved before any staged file goes, so a crash in between never forgets a delivered seq.
   */
  async #afterClose(type: string, closedWindows: readonly ClosedWindow[]): Promise<void> {
    const { storage, options } = this.#d;
    for (const { ref, manifest } of closedWindows) {
      const key = `${ref.type}/${ref.index}`;
      if (this.#closed.has(key)) continue;
      this.#closed.set(key, manifest);
      this.#metOpen.delete(key);
      for (const p of manifest.publishers) for (const [from, to] of p.ranges) this.#coverage.add(ref.type, p.publisher, from, to, ref.index);
      for (const d of manifest.deadLettered ?? []) for (const [from, to] of d.ranges) this.#coverage.addDeadLettered(ref.type, d.publisher, from, to, ref.index);
      this.#unsavedCoverage.add(type);
      // Count a close once, in the replica that made it (before anything below can fail: this runs once).
      if (manifest.closer === options.checkerId) this.#metrics.closed(manifest);
      // In the close's span, so the window_closed line joins its trace.
      withinCloseSpan(manifest, () => this.#d.onClosed?.(manifest, layout.closed(ref)));
    }
    // Announced before the staging goes (a crash here leaves the window listed, so it is announced later). A failed
    // publish does not hold the cleanup back: the window is recorded as owed and retried (#retryOwedAnnouncements).
    for (const { ref, manifest, closedNow } of closedWindows) {
      const failed = await this.#announcer?.announceOrOwe(ref, manifest, closedNow?.manifestSha256);
      if (failed) this.#recordError(`${ref.type}: announcing window ${ref.index} (owed, retried): ${failed.message}`);
    }
    // Notes of dead-lettered seqs, in the manifest or come after the close: kept as coverage before they go.
    for (const { ref, staging } of closedWindows) {
      for (const { note } of staging.deadLetterNotes) for (const [from, to] of note.ranges) this.#coverage.addDeadLettered(ref.type, note.publisher, from, to, ref.index);
      if (staging.deadLetterNotes.length > 0) this.#unsavedCoverage.add(type);
    }
    // A failed save is retried first thing in the type's next round.
    if (this.#unsavedCoverage.has(type)) await this.#saveCoverage(type);
    for (const { ref, manifest, staging, closedNow } of closedWindows) {
      const key = `${ref.type}/${ref.index}`;
      const included = new Set(manifest.stagingFiles);
      const done = staging.staged.filter((m) => included.has(m.manifest.file));
      const late = staging.staged.filter((m) => !included.has(m.manifest.file));
      await removeStaged(storage, done);
      await mapLimit(staging.deadLetterNotes, 16, (n) => storage.delete(n.key));
      // Segments and closing attempts are caches of staged files: once the window is closed, none of them is
      // needed. A close made by this round wrote its attempt after the listing (the outcome names its files; an
      // attempt another replica wrote after the listing is in the next listing, and goes then).
      const listedCaches = staging.keys.filter((k) => k.startsWith(segmentPrefix(ref)) || k.startsWith(closingRoot(ref)));
      await mapLimit([...new Set([...listedCaches, ...(closedNow?.attemptKeys ?? [])])], 16, (k) => storage.delete(k));
      // Debris of workers that died between a file and its manifest: old enough that no manifest can still come.
      const debris = staging.orphans.filter((o) => this.#nowMs() - o.updatedMs >= options.orphanAgeS * 1000);
      await mapLimit(debris, 16, (o) => storage.delete(o.key));
      // Every client-id chunk is written after its segment's or closing attempt's parts: debris here is when orphans can
      // exist (a window this round closed itself, from staged files alone, has only its own chunks, which it keeps).
      if (listedCaches.length > 0 || (closedNow && !closedNow.committedHere)) await removeUnlistedClientIds(storage, ref, manifest.attempt);
      if (late.length > 0) {
        const moved = await this.#memory.run(this.#partBytes(late), () => moveLateEvents(storage, this.#d.registry, this.#coverage, ref, late, {
          maxPartBytes: options.maxPartBytes,
          codec: options.codec,
          closer: options.checkerId,
          nowMs: this.#nowMs(),
          clientIdHorizonUs: options.clientIdHorizonS * 1e6,
          closedAttempt: manifest.attempt,
          beforeRemoval: () => this.#saveCoverage(type),
        }));
        this.#late.set(key, (this.#late.get(key) ?? 0) + moved.events);
        this.#metrics.late(ref.type, moved.events, moved.duplicates);
      }
      this.#setState(ref, {
        state: manifest.status === 'complete' ? 'closed' : 'incomplete',
        stagedEvents: 0,
        events: manifest.events,
        closeDelayMs: manifest.closeDelayMs,
        lostEvents: manifest.lostEvents,
        abandonedEvents: manifest.abandonedEvents,
      });
    }
  }

  async #closedManifest(ref: WindowRef): Promise<ClosedManifest | undefined> {
    const cached = this.#closed.get(`${ref.type}/${ref.index}`);
    if (cached) return cached;
    const manifest = await readClosedManifest(this.#d.storage, ref);
    if (manifest) {
      // Committed (perhaps by another replica): make sure it is finished before relying on it.
      return closeWindow(this.#d.storage, this.#d.registry, {
        ref, status: manifest.status, reason: manifest.reason, proofs: [], manifests: [], segments: [], closer: this.#d.options.checkerId,
        nowMs: () => this.#nowMs(), maxPartBytes: this.#d.options.maxPartBytes, codec: this.#d.options.codec, clientIdHorizonUs: this.#d.options.clientIdHorizonS * 1e6,
      });
    }
    return undefined;
  }

  #setState(ref: WindowRef, s: Omit<WindowState, 'type' | 'window' | 'windowStart' | 'path' | 'lateEvents'>): void {
    if (!this.#owned.has(ref.type)) return; // lost to another replica mid-round: its owner reports it
    const key = `${ref.type}/${ref.index}`;
    this.#states.set(key, {
      type: ref.type,
      window: ref.index,
      windowStart: new Date(windowStartUs(ref.index, ref.lengthS) / 1000).toISOString(),
      path: layout.closed(ref),
      lateEvents: this.#late.get(key) ?? 0,
      ...s,
    });
  }

  /** Saves the type's coverage, waiting first if it was saved less than a second ago (what follows a save relies on it). */
  async #saveCoverage(type: string): Promise<void> {
    this.#unsavedCoverage.add(type);
    const { storage, options } = this.#d;
    await this.#pacer.whenDue(coverageKey(type, options.checkerId), () => this.#coverage.save(storage, type, options.checkerId, () => true));
    this.#unsavedCoverage.delete(type);
    // What replicas gone for good left of this type is in the file just saved: it can go (best effort, next save again).
    // Age by the wall clock, as the bucket stamps updatedMs (not the checker's clock, which tests drive).
    await this.#coverage
      .sweepMerged(storage, type, options.checkerId, { nowMs: Date.now(), staleMs: STALE_REPLICA_STATE_MS, live: new Set(this.#heartbeats.liveReplicas(this.#nowMs())) })
      .catch((err: unknown) => this.#recordError(`${type}: removing coverage files of replicas gone: ${(err as Error).message}`));
  }

  /** What compacting these staged files may buffer: their bytes, at most a part. */
  #partBytes(staged: readonly IndexedManifest[]): number {
    return Math.min(this.#d.options.maxPartBytes, stagedBytes(staged));
  }

  /** Every OWED_RETRY_MS (and in the first round): announce the windows any replica recorded as owed. */
  async #retryOwedAnnouncements(): Promise<void> {
    const announcer = this.#announcer;
    if (!announcer || this.#nowMs() - this.#owedRetriedMs < OWED_RETRY_MS) return;
    this.#owedRetriedMs = this.#nowMs();
    try {
      for (const err of await announcer.retryOwed(this.#d.options.windowS)) this.#recordError(err.message);
    } catch (err) {
      this.#recordError(`listing owed announcements: ${(err as Error).message}`);
    }
  }

  #recordError(message: string): void {
    this.errors.push(message);
    if (this.errors.length > 100) this.errors.shift();
    this.#d.onError?.(message);
  }

  #stagedCoverage(type: string): StagedCoverage {
    let c = this.#staged.get(type);
    if (!c) this.#staged.set(type, (c = { folded: new Set(), runs: new Map(), firstSeen: new Map() }));
    return c;
  }

  #nowMs(): number {
    return this.#clock.nowUs() / 1000;
  }
}

/** The bytes of these staged files. */
function stagedBytes(staged: readonly IndexedManifest[]): number {
  return staged.reduce((n, m) => n + m.manifest.bytes, 0);
}

/** The oldest pending staged files, up to one segment's worth: a checker that fell behind compacts in bounded steps, not all at once. */
function segmentBatch(pending: readonly IndexedManifest[], maxBytes: number, maxFiles: number): IndexedManifest[] {
  const oldest = [...pending].sort((a, b) => a.manifest.writtenAtUs - b.manifest.writtenAtUs || (a.key < b.key ? -1 : 1));
  const batch: IndexedManifest[] = [];
  let bytes = 0;
  for (const m of oldest) {
    if (batch.length > 0 && (bytes >= maxBytes || batch.length >= maxFiles)) break;
    batch.push(m);
    bytes += m.manifest.bytes;
  }
  return batch;
}
