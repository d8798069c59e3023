/**
 * The Admin API's background jobs: room deletions and history purges. A job
 * is a row (admin_jobs) inserted before the request is answered, so no
 * acknowledged job is lost; the runner takes jobs one at a time, in the order
 * they were made, and resumes at start every job still scheduled or active.
 * A job's work is done in small transactions with a turn of the event loop
 * between them (`yieldToEventLoop`), so requests keep being answered; each
 * handler saves what it has done (`progress`) so that a resumed job does not
 * do it twice.
 *
 * Closing stops a job between two steps: it stays active, for the next start.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AdminJob, AdminJobKind } from '../domain/admin-jobs.js';
import { MatrixError } from '../protocol/errors.js';
import type { AdminJobStore } from '../storage/storage.js';

/** What a handler is told while it runs a job. */
export interface JobContext {
  /** Saves the job's result so far (shown by the status endpoints, read back on resume). */
  progress(result: Record<string, unknown>): Promise<void>;
  /** True once the server is closing: stop at the next step, the job resumes at start. */
  readonly stopping: boolean;
}

/** Runs one kind of job; resolves with its final result (or null to keep the last saved). */
export type JobHandler = (
  job: AdminJob,
  context: JobContext,
) => Promise<Record<string, unknown> | null>;

/** Thrown by a handler that stopped because the server is closing: the job is left active. */
export class JobInterrupted extends Error {}

/** Lets the event loop run other work between two steps of a job. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A job as first stored: scheduled, with a fresh ID. Stored by a stopped
 * server's CLI too, it runs when the server next starts (resume).
 */
export function newAdminJob(
  kind: AdminJobKind,
  roomId: string,
  params: Record<string, unknown>,
  now: number,
): AdminJob {
  return {
    id: randomBytes(12).toString('base64url'),
    kind,
    roomId,
    params,
    status: 'scheduled',
    error: null,
    result: null,
    createdTs: now,
    updatedTs: now,
  };
}

export class AdminJobRunner {
  private readonly handlers = new Map<AdminJobKind, JobHandler>();
  private readonly queue: AdminJob[] = [];
  private running: Promise<void> | undefined;
  /** The job being run, if any. */
  private current: AdminJob | undefined;
  private closing = false;

  constructor(
    private readonly store: AdminJobStore,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  handle(kind: AdminJobKind, handler: JobHandler): void {
    this.handlers.set(kind, handler);
  }

  /** Stores a new job (scheduled) and queues it; resolves once it is stored. */
  async submit(
    kind: AdminJobKind,
    roomId: string,
    params: Record<string, unknown>,
  ): Promise<AdminJob> {
    const job = newAdminJob(kind, roomId, params, this.now());
    await this.store.insertJob(job);
    this.enqueue(job);
    return job;
  }

  /** Queues the jobs a previous run left scheduled or active. */
  async resume(): Promise<void> {
    for (const job of await this.store.unfinishedJobs()) this.enqueue(job);
  }

  /** Resolves when no job is queued or running (tests, v1's synchronous deletion). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Waits for one job to end (complete, failed, or left for the next start). */
  async waitFor(id: string): Promise<AdminJob | undefined> {
    while (this.running && this.queue.concat(this.current ?? []).some((job) => job.id === id)) {
      await this.running;
    }
    return this.store.getJob(id);
  }

  /** Shutdown: the job running stops at its next step, the queued ones stay for the next start. */
  async close(): Promise<void> {
    this.closing = true;
    this.queue.length = 0;
    await this.running;
  }

  private enqueue(job: AdminJob): void {
    if (this.closing) return;
    this.queue.push(job);
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  private async drain(): Promise<void> {
    // Let the request that submitted the job be answered first.
    await yieldToEventLoop();
    for (let job = this.queue.shift(); job && !this.closing; job = this.queue.shift()) {
      this.current = job;
      try {
        await this.runOne(job);
      } catch (err) {
        // Storage failed while recording the job's status: it stays unfinished for the next start.
        this.logger.error({ err, jobId: job.id }, 'admin job: recording its status failed');
      } finally {
        this.current = undefined;
      }
    }
  }

  private async runOne(job: AdminJob): Promise<void> {
    const handler = this.handlers.get(job.kind);
    if (!handler) throw new Error(`No handler for admin job kind ${job.kind}`);
    await this.store.updateJob(job.id, { status: 'active' }, this.now());
    const context = this.contextFor(job);
    try {
      const result = await handler(job, context);
      const update = result === null ? {} : { result };
      await this.store.updateJob(job.id, { status: 'complete', ...update }, this.now());
    } catch (err) {
      if (err instanceof JobInterrupted) return;
      this.logger.error({ err, jobId: job.id, kind: job.kind }, 'admin job failed');
      // A MatrixError's message is meant for the admin; anything else is logged, not shown.
      const error = err instanceof MatrixError ? err.message : 'Internal error; see the log';
      await this.store.updateJob(job.id, { status: 'failed', error }, this.now());
    }
  }

  private contextFor(job: AdminJob): JobContext {
    const progress = async (result: Record<string, unknown>) => {
      job.result = result;
      await this.store.updateJob(job.id, { status: 'active', result }, this.now());
    };
    const isClosing = () => this.closing;
    return {
      progress,
      get stopping() {
        return isClosing();
      },
    };
  }
}
