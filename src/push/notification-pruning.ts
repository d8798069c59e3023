/**
 * Keeps the notification rows from growing without end: a message in a room
 * of n members stores n − 1 of them. Once read, a row no longer counts; it is
 * kept a while for GET /notifications, then deleted.
 *
 * The spec sets no retention. Synapse keeps push actions about a day once
 * summarised, and highlights (mentions, which Element's notification panel
 * lists) for a month; Weft keeps read ones for as long. Unread rows stay
 * until read: they are the unread counts.
 */
import type { Logger } from 'pino';
import type { NotificationCutoffs, NotificationStore } from '../storage/storage.js';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
export const READ_NOTIFICATION_RETENTION_MS = DAY_MS;
export const READ_HIGHLIGHT_RETENTION_MS = 30 * DAY_MS;
/** The first pruning waits for the server to settle after start; then one an hour. */
const FIRST_PRUNING_DELAY_MS = 60 * 1000;
const PRUNING_INTERVAL_MS = HOUR_MS;

/** What is old enough to delete at `now`, once read. */
export function pruningCutoffs(now: number): NotificationCutoffs {
  return {
    before: now - READ_NOTIFICATION_RETENTION_MS,
    highlightsBefore: now - READ_HIGHLIGHT_RETENTION_MS,
  };
}

export class NotificationPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly store: NotificationStore,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule(FIRST_PRUNING_DELAY_MS);
  }

  /** Deletes what is old enough now; resolves with how many rows went. */
  async pruneNow(now = Date.now()): Promise<number> {
    return this.store.pruneRead(pruningCutoffs(now), this.abort.signal);
  }

  /** Stops the schedule and any pruning in progress (before the storage closes). */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.running = this.pruneNow()
        .then((deleted) => {
          if (deleted > 0) this.logger.info({ deleted }, 'push: pruned read notifications');
        })
        .catch((err: unknown) => this.logger.warn({ err }, 'push: pruning notifications failed'))
        .finally(() => {
          this.running = undefined;
          if (!this.abort.signal.aborted) this.schedule(PRUNING_INTERVAL_MS);
        });
    }, delayMs).unref();
  }
}
