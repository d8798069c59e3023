/**
 * `PUT /send/{txnId}` as a service: the PDUs go to the EventReceiver, the
 * EDUs to the EDU receiver, both at once (as Synapse: to-device messages
 * should not wait behind a slow PDU), and the answer is kept per
 * (origin, txnId) so that a retry of the same transaction gets the first
 * answer without being processed again.
 *
 * The answers are kept in memory, for 30 minutes and at most 10,000
 * transactions, not in a table. A sender retries a transaction only until it
 * gets a 200, so a retry comes soon after the first attempt; and when the
 * answer is lost anyway (a restart, an eviction), processing the transaction
 * again is harmless: every PDU already held is recognised before any check
 * and answered as before, and storing an event already stored is a no-op.
 * A retry arriving while the first attempt still runs waits for its answer.
 *
 * Server ACLs (server-acl.ts): the PDUs of a room whose ACL denies the
 * origin are answered with that reason and not processed; the room EDUs are
 * screened by the EDU receiver.
 */
import { LruCache } from '../util/lru-cache.js';
import { pairKey } from '../util/pair-key.js';
import type { EventReceiver, PduResult } from './event-receiver.js';
import type { ServerAclCheck } from './server-acl.js';
import type { Edu, TransactionBody } from './transaction-rules.js';

/** Hands a transaction's EDUs on (typing, receipts, presence, to-device, device lists). */
export interface EduReceiver {
  receive(origin: string, edus: Edu[]): Promise<void>;
}

export interface TransactionAnswer {
  pdus: Record<string, PduResult>;
}

const KEPT_MS = 30 * 60_000;
const KEPT_TRANSACTIONS = 10_000;

interface Kept {
  answer: Promise<TransactionAnswer>;
  at: number;
}

export class TransactionReceiver {
  private readonly answers = new LruCache<string, Kept>(KEPT_TRANSACTIONS);

  constructor(
    private readonly events: Pick<EventReceiver, 'receivePdus'>,
    /** Undefined while no EDU receiver is built: EDUs are then ignored. */
    private readonly edus: EduReceiver | undefined,
    private readonly onEduError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
    private readonly acl?: Pick<ServerAclCheck, 'screenPdus'>,
  ) {}

  receive(txnId: string, body: TransactionBody): Promise<TransactionAnswer> {
    const key = pairKey(body.origin, txnId);
    const kept = this.answers.get(key);
    if (kept && this.now() - kept.at < KEPT_MS) return kept.answer;
    const answer = this.process(body);
    this.answers.set(key, { answer, at: this.now() });
    // A failed attempt is not an answer: the retry processes it again.
    answer.catch(() => {
      if (this.answers.get(key)?.answer === answer) this.answers.delete(key);
    });
    return answer;
  }

  private async process(body: TransactionBody): Promise<TransactionAnswer> {
    const edus = this.receiveEdus(body);
    const screened = this.acl
      ? await this.acl.screenPdus(body.origin, body.pdus)
      : { admitted: body.pdus, refused: {} };
    const pdus = await this.events.receivePdus(body.origin, screened.admitted);
    await edus;
    return { pdus: { ...pdus, ...screened.refused } };
  }

  /** EDUs are best effort (the spec gives them no answer): a failure is logged, not returned. */
  private async receiveEdus(body: TransactionBody): Promise<void> {
    if (!this.edus || body.edus.length === 0) return;
    try {
      await this.edus.receive(body.origin, body.edus);
    } catch (err) {
      this.onEduError(err);
    }
  }
}
