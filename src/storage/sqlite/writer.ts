/**
 * The writer thread: the two transactions that every message costs — storing
 * the events, and storing what push evaluation made of them — run in a worker
 * thread on a second connection to the same database (writer-thread.ts).
 * Building a batch of rows is cheap; executing and committing it (B-tree
 * inserts, WAL writes, checkpoints, the disk sync) was about 40% of the main
 * thread's time under message load. Now the main thread answers requests and
 * builds the next events meanwhile, and its callers are still answered only
 * after the commit, so an acknowledged write is as durable as before.
 *
 * WAL lets the main connection read while the writer commits; a read that
 * starts after a commit returns sees it. The main connection's own writes
 * wait for the writer's lock (busy_timeout), and its write transactions begin
 * IMMEDIATE (see `writeTransaction`), so no read inside them goes stale.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { NewRoomEvent, NotificationCutoffs, PruneStep } from '../storage.js';
import type { EvaluationRows } from '../common/notification-cache.js';
import { packEvaluation, type PackedEvaluation } from './evaluation-packing.js';
import type { PersistedEvent } from '../common/room-caches.js';
import { probes, probing, secondsSince } from '../../util/probes.js';

/** What the events' transaction reports of each event, in order. */
export type { PersistedEvent };

export type WriterRequest =
  | { id: number; op: 'persistEvents'; events: NewRoomEvent[] }
  | { id: number; op: 'recordEvaluated'; packed: PackedEvaluation }
  | { id: number; op: 'pruneNotifications'; cutoffs: NotificationCutoffs; afterUser: number }
  /** Event writes are accepted again after a failed one (see writer-thread.ts). */
  | { id: number; op: 'resume' }
  | { id: number; op: 'close' };

export type WriterReply =
  | { id: number; ok: true; value: unknown }
  /** failedWrite: this request's own transaction failed (not refused after another's). */
  | { id: number; ok: false; message: string; failedWrite?: boolean };

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/**
 * The worker thread, running writer-thread.js beside this module. Run from
 * source (the tests, under tsx), the thread registers tsx itself first: Node
 * 20 does not apply the parent's `--import` loader hooks to a worker's entry.
 */
function startWorker(file: string): Worker {
  const workerData = { file };
  if (extname(fileURLToPath(import.meta.url)) !== '.ts') {
    return new Worker(new URL('./writer-thread.js', import.meta.url), { workerData });
  }
  const entry = new URL('./writer-thread.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => {
    register();
    return import(${JSON.stringify(entry)});
  });`;
  return new Worker(code, { eval: true, workerData });
}

export class SqliteWriter {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly file: string) {}

  /**
   * Several may be in flight: they commit in the order sent. Once one fails,
   * those sent before its failure was known here fail too (they may build on
   * its events); later ones are accepted again.
   */
  persistEvents(events: NewRoomEvent[]): Promise<PersistedEvent[]> {
    return this.call({ id: this.nextId++, op: 'persistEvents', events }) as Promise<
      PersistedEvent[]
    >;
  }

  /** Whether each notification was new (a re-evaluated event keeps its first row). */
  recordEvaluated(result: EvaluationRows): Promise<boolean[]> {
    const packed = packEvaluation(result);
    return this.call({ id: this.nextId++, op: 'recordEvaluated', packed }) as Promise<boolean[]>;
  }

  /** One step of pruning read notifications (see SqliteNotificationRows.pruneReadStep). */
  pruneNotifications(cutoffs: NotificationCutoffs, afterUser: number): Promise<PruneStep> {
    const request = { id: this.nextId++, op: 'pruneNotifications' as const, cutoffs, afterUser };
    return this.call(request) as Promise<PruneStep>;
  }

  /** Waits for the writes handed in so far, then closes the thread's connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Requests are handled in order: `close` comes after every write already sent.
    await this.send({ id: this.nextId++, op: 'close' }).catch(() => undefined);
    await exited;
  }

  private call(request: WriterRequest): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('The storage is closed'));
    return this.send(request);
  }

  private send(request: WriterRequest): Promise<unknown> {
    if (!probing()) return this.sendNow(request);
    // The round trip as the main thread waits for it (the metrics' writer query time).
    const start = performance.now();
    const reply = this.sendNow(request);
    const observe = () => probes.databaseQuery('writer', secondsSince(start));
    reply.then(observe, observe);
    return reply;
  }

  private sendNow(request: WriterRequest): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const worker = this.started();
      // A write in flight keeps the process alive; an idle writer does not.
      if (this.pending.size === 0) worker.ref();
      this.pending.set(request.id, { resolve, reject });
      worker.postMessage(request);
    });
  }

  /** The worker, started on first use and again after an unexpected exit. */
  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(this.file);
    worker.on('message', (reply: WriterReply) => this.settle(reply));
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(new Error(`The writer thread exited (code ${code})`));
    });
    this.worker = worker;
    return worker;
  }

  private settle(reply: WriterReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    // While closing, the thread stays referenced until it has exited.
    if (this.pending.size === 0 && !this.closed) this.worker?.unref();
    if (reply.ok) {
      pending.resolve(reply.value);
      return;
    }
    // Sent before the caller hears of the failure, so after everything it had sent.
    if (reply.failedWrite) void this.send({ id: this.nextId++, op: 'resume' }).catch(() => {});
    pending.reject(new Error(reply.message));
  }

  private failAll(err: unknown): void {
    for (const pending of this.pending.values()) pending.reject(err);
    this.pending.clear();
  }
}
