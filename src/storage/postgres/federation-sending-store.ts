/** The federation sender's queues and marks in PostgreSQL, as in SQLite (sqlite/federation-sending-store.ts). */
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
import type { PgDatabase } from './database.js';

const SQL = federationSendingSql((n) => `$${n}`);

export class PgFederationSendingStore implements FederationSendingStore {
  constructor(private readonly db: PgDatabase) {}

  async position(stream: SendingStream): Promise<number | undefined> {
    const row = await this.db.row<{ position: number | string }>(SQL.position, [stream]);
    return row && Number(row.position);
  }

  async initialisePosition(stream: SendingStream, position: number): Promise<void> {
    await this.db.run(SQL.initialisePosition, [stream, position]);
  }

  async enqueuePdus(pdus: readonly QueuedPdu[], upTo: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const pdu of pdus) {
        await tx.run(SQL.insertPdu, [pdu.destination, pdu.streamOrdering, pdu.eventId]);
      }
      await tx.run(SQL.movePosition, ['events', upTo]);
    });
  }

  async enqueueEdus(
    edus: readonly NewQueuedEdu[],
    mark?: { stream: SendingStream; upTo: number },
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const edu of edus) {
        await tx.run(SQL.insertEdu, [edu.destination, edu.eduType, edu.contentJson]);
      }
      if (mark) await tx.run(SQL.movePosition, [mark.stream, mark.upTo]);
    });
  }

  async destinationsWithQueues(): Promise<string[]> {
    const rows = await this.db.rows<{ destination: string }>(SQL.destinations);
    return rows.map((row) => row.destination);
  }

  async pendingPdus(destination: string, limit: number): Promise<QueuedPdu[]> {
    return (await this.db.rows<PduRow>(SQL.pendingPdus, [destination, limit])).map(toQueuedPdu);
  }

  async pendingEdus(destination: string, limit: number): Promise<QueuedEdu[]> {
    return (await this.db.rows<EduRow>(SQL.pendingEdus, [destination, limit])).map(toQueuedEdu);
  }

  async pduBacklog(destination: string): Promise<number> {
    const row = await this.db.row<{ n: number | string }>(SQL.pduBacklog, [destination]);
    return Number(row?.n ?? 0);
  }

  async dropOlderPdusPerRoom(destination: string, keepPerRoom: number): Promise<number> {
    return this.db.run(SQL.dropOlderPdusPerRoom, [destination, destination, keepPerRoom]);
  }

  async removeSent(
    destination: string,
    streamOrderings: readonly number[],
    eduIds: readonly number[],
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const ordering of streamOrderings) await tx.run(SQL.deletePdu, [destination, ordering]);
      for (const id of eduIds) await tx.run(SQL.deleteEdu, [destination, id]);
    });
  }

  async retry(destination: string): Promise<DestinationRetry | undefined> {
    const row = await this.db.row<RetryRow>(SQL.retry, [destination]);
    return row && toRetry(row);
  }

  async setRetry(destination: string, retry: DestinationRetry | undefined): Promise<void> {
    if (retry) await this.db.run(SQL.setRetry, [destination, retry.failures, retry.retryAtTs]);
    else await this.db.run(SQL.clearRetry, [destination]);
  }

  async eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]> {
    const rows = await this.db.rows<{ event_id: string }>(SQL.eventIdsAfter, [after, upTo, limit]);
    return rows.map((row) => row.event_id);
  }
}
