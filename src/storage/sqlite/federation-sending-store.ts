/** The federation sender's queues and marks in SQLite (domain/federation-sending.ts). */
import type {
  DestinationRetry,
  FederationSendingStore,
  NewQueuedEdu,
  QueuedEdu,
  QueuedPdu,
  SendingStream,
} from '../../domain/federation-sending.js';
import {
  federationSendingSql,
  toQueuedEdu,
  toQueuedPdu,
  toRetry,
  type EduRow,
  type PduRow,
  type RetryRow,
} from '../common/federation-sending-sql.js';
import { writeTransaction, type SqliteDatabase } from './database.js';

export class SqliteFederationSendingStore implements FederationSendingStore {
  private readonly s;
  private readonly enqueuePdusTx;
  private readonly enqueueEdusTx;
  private readonly removeSentTx;

  constructor(db: SqliteDatabase) {
    const sql = federationSendingSql(() => '?');
    this.s = {
      position: db.prepare(sql.position).pluck(),
      initialisePosition: db.prepare(sql.initialisePosition),
      movePosition: db.prepare(sql.movePosition),
      insertPdu: db.prepare(sql.insertPdu),
      insertEdu: db.prepare(sql.insertEdu),
      destinations: db.prepare(sql.destinations).pluck(),
      pendingPdus: db.prepare(sql.pendingPdus),
      pendingEdus: db.prepare(sql.pendingEdus),
      pduBacklog: db.prepare(sql.pduBacklog).pluck(),
      dropOlderPdusPerRoom: db.prepare(sql.dropOlderPdusPerRoom),
      deletePdu: db.prepare(sql.deletePdu),
      deleteEdu: db.prepare(sql.deleteEdu),
      retry: db.prepare(sql.retry),
      setRetry: db.prepare(sql.setRetry),
      clearRetry: db.prepare(sql.clearRetry),
      eventIdsAfter: db.prepare(sql.eventIdsAfter).pluck(),
    };
    this.enqueuePdusTx = writeTransaction(db, (pdus: readonly QueuedPdu[], upTo: number) => {
      for (const pdu of pdus)
        this.s.insertPdu.run(pdu.destination, pdu.streamOrdering, pdu.eventId);
      this.s.movePosition.run('events', upTo);
    });
    this.enqueueEdusTx = writeTransaction(
      db,
      (edus: readonly NewQueuedEdu[], mark?: { stream: SendingStream; upTo: number }) => {
        for (const edu of edus) this.s.insertEdu.run(edu.destination, edu.eduType, edu.contentJson);
        if (mark) this.s.movePosition.run(mark.stream, mark.upTo);
      },
    );
    this.removeSentTx = writeTransaction(
      db,
      (destination: string, orderings: readonly number[], eduIds: readonly number[]) => {
        for (const ordering of orderings) this.s.deletePdu.run(destination, ordering);
        for (const id of eduIds) this.s.deleteEdu.run(destination, id);
      },
    );
  }

  async position(stream: SendingStream): Promise<number | undefined> {
    const value = this.s.position.get(stream) as number | undefined;
    return value === undefined ? undefined : Number(value);
  }

  async initialisePosition(stream: SendingStream, position: number): Promise<void> {
    this.s.initialisePosition.run(stream, position);
  }

  async enqueuePdus(pdus: readonly QueuedPdu[], upTo: number): Promise<void> {
    this.enqueuePdusTx(pdus, upTo);
  }

  async enqueueEdus(
    edus: readonly NewQueuedEdu[],
    mark?: { stream: SendingStream; upTo: number },
  ): Promise<void> {
    this.enqueueEdusTx(edus, mark);
  }

  async destinationsWithQueues(): Promise<string[]> {
    return this.s.destinations.all() as string[];
  }

  async pendingPdus(destination: string, limit: number): Promise<QueuedPdu[]> {
    return (this.s.pendingPdus.all(destination, limit) as PduRow[]).map(toQueuedPdu);
  }

  async pendingEdus(destination: string, limit: number): Promise<QueuedEdu[]> {
    return (this.s.pendingEdus.all(destination, limit) as EduRow[]).map(toQueuedEdu);
  }

  async pduBacklog(destination: string): Promise<number> {
    return Number(this.s.pduBacklog.get(destination));
  }

  async dropOlderPdusPerRoom(destination: string, keepPerRoom: number): Promise<number> {
    return this.s.dropOlderPdusPerRoom.run(destination, destination, keepPerRoom).changes;
  }

  async removeSent(
    destination: string,
    streamOrderings: readonly number[],
    eduIds: readonly number[],
  ): Promise<void> {
    this.removeSentTx(destination, streamOrderings, eduIds);
  }

  async retry(destination: string): Promise<DestinationRetry | undefined> {
    const row = this.s.retry.get(destination) as RetryRow | undefined;
    return row && toRetry(row);
  }

  async setRetry(destination: string, retry: DestinationRetry | undefined): Promise<void> {
    if (retry) this.s.setRetry.run(destination, retry.failures, retry.retryAtTs);
    else this.s.clearRetry.run(destination);
  }

  async eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]> {
    return this.s.eventIdsAfter.all(after, upTo, limit) as string[];
  }
}
