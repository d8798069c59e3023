/** Application service delivery state in PostgreSQL, as in SQLite (sqlite/appservice-store.ts). */
import type {
  AppServiceDeliveryState,
  AppServiceTransactionStore,
  InFlightTransaction,
} from '../../domain/appservice-transactions.js';
import {
  appServiceSql,
  toDeliveryState,
  type AppServiceDeliveryRow,
} from '../common/appservice-sql.js';
import type { PgDatabase } from './database.js';

const SQL = appServiceSql((n) => `$${n}`);

export class PgAppServiceTransactionStore implements AppServiceTransactionStore {
  constructor(private readonly db: PgDatabase) {}

  async state(serviceId: string): Promise<AppServiceDeliveryState | undefined> {
    const row = await this.db.row<AppServiceDeliveryRow>(SQL.select, [serviceId]);
    return row && toDeliveryState(row);
  }

  async initialise(serviceId: string, position: number): Promise<void> {
    await this.db.run(SQL.initialise, [serviceId, position]);
  }

  async begin(serviceId: string, txnNumber: number, txn: InFlightTransaction): Promise<void> {
    await this.db.run(SQL.begin, [txnNumber, txn.txnId, txn.body, txn.upTo, serviceId]);
  }

  async complete(serviceId: string, txnId: string): Promise<void> {
    await this.db.run(SQL.complete, [serviceId, txnId]);
  }

  async skipTo(serviceId: string, position: number): Promise<void> {
    await this.db.run(SQL.skipTo, [position, serviceId, position]);
  }

  async eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]> {
    const rows = await this.db.rows<{ event_id: string }>(SQL.eventIdsAfter, [after, upTo, limit]);
    return rows.map((row) => row.event_id);
  }
}
