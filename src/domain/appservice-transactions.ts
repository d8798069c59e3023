/**
 * What the application service pusher keeps per service (appservice/appservice-pusher.ts):
 * how far into the event stream it has delivered, and the transaction in flight, stored
 * before it is sent so that a restart sends the same transaction (same txnId, same body)
 * again instead of building another.
 */

/** A transaction built and stored, not yet acknowledged by the service. */
export interface InFlightTransaction {
  txnId: string;
  /** The exact JSON body sent, byte for byte the same on every retry. */
  body: string;
  /** The stream position the service has everything up to once this one is acknowledged. */
  upTo: number;
}

export interface AppServiceDeliveryState {
  /** Every event up to this stream position has been delivered (or was of no interest). */
  deliveredUpTo: number;
  /** The last transaction number used (transaction IDs count up per service, as Synapse's). */
  lastTxnNumber: number;
  inFlight?: InFlightTransaction;
}

export interface AppServiceTransactionStore {
  /** The service's state; undefined the first time Weft runs with this registration. */
  state(serviceId: string): Promise<AppServiceDeliveryState | undefined>;
  /** Creates the service's row at `position` unless it exists (a new service starts at "now"). */
  initialise(serviceId: string, position: number): Promise<void>;
  /** Stores the transaction about to be sent (and its number), durably, before it is sent. */
  begin(serviceId: string, txnNumber: number, transaction: InFlightTransaction): Promise<void>;
  /**
   * The service acknowledged the transaction: in one write, the position moves to
   * its `upTo` and the transaction is cleared. Nothing happens if another is in flight.
   */
  complete(serviceId: string, txnId: string): Promise<void>;
  /**
   * Events up to `position` were of no interest to the service: the position moves
   * there when no transaction is in flight, and never back.
   */
  skipTo(serviceId: string, position: number): Promise<void>;
  /** Event IDs with stream positions in (after, upTo], in stream order, at most `limit`. */
  eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]>;
}
