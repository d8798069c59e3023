/** Application service delivery state in SQLite (domain/appservice-transactions.ts). */
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
import type { SqliteDatabase } from './database.js';

export class SqliteAppServiceTransactionStore implements AppServiceTransactionStore {
  private readonly statements;

  constructor(db: SqliteDatabase) {
    const sql = appServiceSql(() => '?');
    this.statements = {
      select: db.prepare(sql.select),
      initialise: db.prepare(sql.initialise),
      begin: db.prepare(sql.begin),
      complete: db.prepare(sql.complete),
      skipTo: db.prepare(sql.skipTo),
      eventIdsAfter: db.prepare(sql.eventIdsAfter).pluck(),
    };
  }

  async state(serviceId: string): Promise<AppServiceDeliveryState | undefined> {
    const row = this.statements.select.get(serviceId) as AppServiceDeliveryRow | undefined;
    return row && toDeliveryState(row);
  }

  async initialise(serviceId: string, position: number): Promise<void> {
    this.statements.initialise.run(serviceId, position);
  }

  async begin(serviceId: string, txnNumber: number, txn: InFlightTransaction): Promise<void> {
    this.statements.begin.run(txnNumber, txn.txnId, txn.body, txn.upTo, serviceId);
  }

  async complete(serviceId: string, txnId: string): Promise<void> {
    this.statements.complete.run(serviceId, txnId);
  }

  async skipTo(serviceId: string, position: number): Promise<void> {
    this.statements.skipTo.run(position, serviceId, position);
  }

  async eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]> {
    return this.statements.eventIdsAfter.all(after, upTo, limit) as string[];
  }
}
