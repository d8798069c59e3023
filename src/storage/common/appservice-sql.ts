/** The application service delivery table's SQL, shared by both backends ($n or ? placeholders). */
import type { AppServiceDeliveryState } from '../../domain/appservice-transactions.js';

export const APPSERVICE_DELIVERY_COLUMNS =
  'delivered_up_to, last_txn_number, in_flight_txn_id, in_flight_body, in_flight_up_to';

export interface AppServiceDeliveryRow {
  delivered_up_to: number | string;
  last_txn_number: number | string;
  in_flight_txn_id: string | null;
  in_flight_body: string | null;
  in_flight_up_to: number | string | null;
}

/** Placeholders appear in each statement in order (SQLite's `?` are positional). */
type Placeholder = (n: number) => string;

export function appServiceSql(p: Placeholder) {
  return {
    select: `SELECT ${APPSERVICE_DELIVERY_COLUMNS} FROM appservice_delivery WHERE service_id = ${p(1)}`,
    initialise: `INSERT INTO appservice_delivery (service_id, delivered_up_to, last_txn_number)
      VALUES (${p(1)}, ${p(2)}, 0) ON CONFLICT (service_id) DO NOTHING`,
    begin: `UPDATE appservice_delivery SET last_txn_number = ${p(1)}, in_flight_txn_id = ${p(2)},
      in_flight_body = ${p(3)}, in_flight_up_to = ${p(4)} WHERE service_id = ${p(5)}`,
    complete: `UPDATE appservice_delivery SET delivered_up_to = in_flight_up_to,
      in_flight_txn_id = NULL, in_flight_body = NULL, in_flight_up_to = NULL
      WHERE service_id = ${p(1)} AND in_flight_txn_id = ${p(2)}`,
    skipTo: `UPDATE appservice_delivery SET delivered_up_to = ${p(1)}
      WHERE service_id = ${p(2)} AND in_flight_txn_id IS NULL AND delivered_up_to < ${p(3)}`,
    eventIdsAfter: `SELECT event_id FROM events WHERE stream_ordering > ${p(1)}
      AND stream_ordering <= ${p(2)} ORDER BY stream_ordering LIMIT ${p(3)}`,
  };
}

export function toDeliveryState(row: AppServiceDeliveryRow): AppServiceDeliveryState {
  const state: AppServiceDeliveryState = {
    deliveredUpTo: Number(row.delivered_up_to),
    lastTxnNumber: Number(row.last_txn_number),
  };
  if (row.in_flight_txn_id !== null && row.in_flight_body !== null) {
    state.inFlight = {
      txnId: row.in_flight_txn_id,
      body: row.in_flight_body,
      upTo: Number(row.in_flight_up_to),
    };
  }
  return state;
}
