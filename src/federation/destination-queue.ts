/**
 * One destination server's sending: one transaction in flight at a time, cut
 * from its stored queue (PDUs in stream order, durable EDUs in insertion
 * order) and its in-memory EDUs (typing, receipts, presence).
 *
 * A transaction keeps its txnId and its content across retries; its rows
 * leave the stored queue only once the destination answered 2xx (a refused
 * PDU in the answer is logged, not sent again). A failure (an error status,
 * FederationUnreachable, a timeout) backs off: 5 s doubling to an hour by
 * default, stored so a restart keeps waiting; hearing from the destination
 * (`wake`) ends the wait. After a restart the transaction is cut again from
 * the stored queue under a new txnId: the receiver recognises PDUs it holds
 * by event ID and to-device messages by message_id, so a repeat is harmless.
 *
 * Catching up: a failing destination with more than `catchUpAfterPdus` PDUs
 * queued keeps only each room's newest CATCH_UP_PDUS_PER_ROOM before the next
 * attempt. The peer fetches the events they build on itself (get_missing_events,
 * then /state_ids and backfill past a larger gap), as after Synapse's catch-up,
 * which sends each room's newest event; a day's outage of a busy room then
 * costs a few transactions, not thousands. The dropped rows go for good: the
 * events stay in the room, served to whoever asks.
 */
import type { Logger } from 'pino';
import type { FederationSendingStore, QueuedEdu, QueuedPdu } from '../domain/federation-sending.js';
import type { JsonObject } from '../events/pdu.js';
import type { EventRecord } from '../events/records.js';
import type { RoomStateReader } from '../storage/readers.js';
import { FederationUnreachable, type FederationSender } from './outbound.js';
import {
  acknowledges,
  addEphemeral,
  MAX_EDUS_PER_TRANSACTION,
  MAX_PDUS_PER_TRANSACTION,
  refusedPdus,
  retryDelayMs,
  transactionBody,
  transactionPath,
  wirePdu,
  type BackoffSettings,
  type Edu,
} from './sending-rules.js';

export interface DestinationDeps {
  serverName: string;
  store: FederationSendingStore;
  rooms: Pick<RoomStateReader, 'getEvents'>;
  sender: FederationSender;
  backoff: BackoffSettings;
  logger: Logger;
  /** A new transaction ID, unique across restarts (FederationSending's counter). */
  nextTxnId: () => string;
  now?: () => number;
  /** How long one attempt may take. */
  requestTimeoutMs?: number;
  /** A failing destination's backlog past which it catches up (default 500). */
  catchUpAfterPdus?: number;
}

interface Transaction {
  txnId: string;
  body: JsonObject;
  pdus: QueuedPdu[];
  edus: QueuedEdu[];
}

const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const DEFAULT_CATCH_UP_AFTER_PDUS = 500;
/** What a caught-up room keeps: one get_missing_events' worth (Synapse asks for 10). */
const CATCH_UP_PDUS_PER_ROOM = 10;

export class DestinationQueue {
  private ephemeral: Edu[] = [];
  private current?: Transaction;
  private failures = 0;
  private retryAt = 0;
  private wakeUp?: () => void;
  private kicked = false;
  private closed = false;
  private running?: Promise<void>;
  private closing!: () => void;
  private readonly closedSignal = new Promise<void>((resolve) => (this.closing = resolve));
  /** Transactions acknowledged since start (tests, metrics). */
  delivered = 0;

  constructor(
    readonly destination: string,
    private readonly deps: DestinationDeps,
  ) {}

  /** Starts the loop, after the stored backoff (if any) is read. */
  start(): void {
    this.running = this.run().catch((err: unknown) =>
      this.deps.logger.error({ err, destination: this.destination }, 'federation: sender stopped'),
    );
  }

  /** Something new is queued for the destination (stored or in memory). */
  kick(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    if (wake) wake();
    else this.kicked = true;
  }

  /** A typing, receipt or presence EDU: in memory only, best effort. */
  addEphemeral(edu: Edu): void {
    if (this.closed) return;
    addEphemeral(this.ephemeral, edu);
    this.kick();
  }

  /** The destination is up (it sent us a request): any backoff ends now. */
  wake(): void {
    if (this.retryAt === 0) return;
    this.retryAt = 0;
    this.failures = 0;
    this.kick();
  }

  /** Whether the destination is backing off after failures. */
  get backingOff(): boolean {
    return this.retryAt > this.now();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing();
    this.kick();
    await this.running;
  }

  private async run(): Promise<void> {
    const stored = await this.deps.store.retry(this.destination);
    if (stored) ({ failures: this.failures, retryAtTs: this.retryAt } = stored);
    while (!this.closed) {
      try {
        await this.step();
      } catch (err) {
        // Storage failed: nothing is lost (the rows stay); try again after a while.
        this.deps.logger.error({ err, destination: this.destination }, 'federation: sender step');
        await this.sleep(this.deps.backoff.initialMs);
      }
    }
  }

  private async step(): Promise<void> {
    const wait = this.retryAt - this.now();
    // New queue entries do not cut a backoff short; only `wake` (or close) does.
    if (wait > 0) return this.sleep(wait, true);
    if (this.failures > 0) await this.catchUp();
    this.current ??= await this.cut();
    if (!this.current) return this.sleep();
    await this.attempt(this.current);
  }

  /** A failing destination's long backlog cut to each room's newest PDUs (the file's comment). */
  private async catchUp(): Promise<void> {
    const { store, logger } = this.deps;
    const threshold = this.deps.catchUpAfterPdus ?? DEFAULT_CATCH_UP_AFTER_PDUS;
    const backlog = await store.pduBacklog(this.destination);
    if (backlog <= threshold) return;
    const dropped = await store.dropOlderPdusPerRoom(this.destination, CATCH_UP_PDUS_PER_ROOM);
    if (dropped === 0) return;
    logger.info({ destination: this.destination, backlog, dropped }, 'federation: catching up');
    // The transaction retried so far may hold dropped PDUs: cut it again from what is left.
    this.current = undefined;
  }

  /** The next transaction from the stored queue and the in-memory EDUs; undefined: nothing. */
  private async cut(): Promise<Transaction | undefined> {
    const store = this.deps.store;
    const pdus = await store.pendingPdus(this.destination, MAX_PDUS_PER_TRANSACTION);
    const edus = await store.pendingEdus(this.destination, MAX_EDUS_PER_TRANSACTION);
    const ephemeral = this.ephemeral.splice(0, MAX_EDUS_PER_TRANSACTION - edus.length);
    if (pdus.length === 0 && edus.length === 0 && ephemeral.length === 0) return undefined;
    const records = await this.deps.rooms.getEvents(pdus.map((pdu) => pdu.eventId));
    const byId = new Map<string, EventRecord>(records.map((record) => [record.eventId, record]));
    const body = transactionBody({
      origin: this.deps.serverName,
      originServerTs: this.now(),
      // An event gone since it was queued (a purged room) is left out.
      pdus: pdus.flatMap((pdu) => {
        const record = byId.get(pdu.eventId);
        return record ? [wirePdu(record.pdu)] : [];
      }),
      edus: [...edus.map(storedEdu), ...ephemeral],
    });
    return { txnId: this.deps.nextTxnId(), body, pdus, edus };
  }

  private async attempt(txn: Transaction): Promise<void> {
    const log = { destination: this.destination, txnId: txn.txnId };
    const outcome = await Promise.race([this.send(txn), this.closedSignal.then(() => 'closed')]);
    if (outcome === 'closed' || this.closed) return;
    if (outcome === 'sent') {
      await this.deps.store.removeSent(
        this.destination,
        txn.pdus.map((pdu) => pdu.streamOrdering),
        txn.edus.map((edu) => edu.id),
      );
      this.current = undefined;
      this.delivered++;
      if (this.failures > 0) await this.deps.store.setRetry(this.destination, undefined);
      this.failures = 0;
      this.retryAt = 0;
      return;
    }
    this.failures++;
    this.retryAt = this.now() + retryDelayMs(this.failures, this.deps.backoff);
    this.deps.logger.info(
      { ...log, failures: this.failures, retryInMs: this.retryAt - this.now() },
      'federation: destination backing off',
    );
    await this.deps.store.setRetry(this.destination, {
      failures: this.failures,
      retryAtTs: this.retryAt,
    });
  }

  /** One attempt: 'sent' on a 2xx, 'failed' otherwise (logged). */
  private async send(txn: Transaction): Promise<'sent' | 'failed'> {
    const log = { destination: this.destination, txnId: txn.txnId };
    try {
      const response = await this.deps.sender.request({
        destination: this.destination,
        method: 'PUT',
        path: transactionPath(txn.txnId),
        body: txn.body,
        timeoutMs: this.deps.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      });
      if (!acknowledges(response.status)) {
        this.deps.logger.warn(
          { ...log, status: response.status },
          'federation: transaction refused',
        );
        return 'failed';
      }
      for (const refused of refusedPdus(response.body)) {
        this.deps.logger.warn({ ...log, ...refused }, 'federation: the destination refused a PDU');
      }
      return 'sent';
    } catch (err) {
      const reason = err instanceof FederationUnreachable ? err.message : String(err);
      this.deps.logger.warn({ ...log, reason }, 'federation: transaction failed');
      return 'failed';
    }
  }

  /** Waits for a kick, or `ms`; `onlyWake`: kicks (new entries) do not end it, `wake` does. */
  private sleep(ms?: number, onlyWake = false): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.kicked && !onlyWake) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        if (this.wakeUp === wake) this.wakeUp = undefined;
        resolve();
      };
      const wake = () => {
        // A kick during a backoff only marks work waiting; a wake (retryAt reset) ends it.
        if (onlyWake && !this.closed && this.retryAt > this.now()) {
          this.kicked = true;
          this.wakeUp = wake;
          return;
        }
        done();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.wakeUp = wake;
    });
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

function storedEdu(edu: QueuedEdu): Edu {
  return { edu_type: edu.eduType, content: JSON.parse(edu.contentJson) as JsonObject };
}
