/**
 * The body of `PUT /_matrix/federation/v1/send/{txnId}` (server-server API,
 * "Transactions"): `origin`, `origin_server_ts`, `pdus` (at most 50), `edus`
 * (optional, at most 100). Pure. A body over the limits is refused whole
 * with 400 M_BAD_JSON, as Synapse answers 400 (the spec sets the limits and
 * no error code); the sender is expected to split it.
 */
import { errors, MatrixError } from '../protocol/errors.js';

export const MAX_PDUS_PER_TRANSACTION = 50;
export const MAX_EDUS_PER_TRANSACTION = 100;

export interface Edu {
  edu_type: string;
  content: Record<string, unknown>;
}

export interface TransactionBody {
  origin: string;
  originServerTs: number;
  /** Untrusted JSON: each PDU is checked on its own, a bad one does not fail the transaction. */
  pdus: unknown[];
  edus: Edu[];
}

/** Reads the body; `authenticatedOrigin` is the server that signed the request. */
export function parseTransactionBody(body: unknown, authenticatedOrigin: string): TransactionBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw errors.notJson('The transaction must be a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const { origin, origin_server_ts: originServerTs, pdus, edus } = fields;
  if (origin === undefined) throw errors.missingParam('origin');
  if (typeof origin !== 'string') throw errors.badJson('origin must be a string');
  if (origin !== authenticatedOrigin) {
    throw new MatrixError(403, 'M_FORBIDDEN', 'origin is not the server that signed the request');
  }
  if (originServerTs === undefined) throw errors.missingParam('origin_server_ts');
  if (typeof originServerTs !== 'number' || !Number.isSafeInteger(originServerTs)) {
    throw errors.badJson('origin_server_ts must be an integer');
  }
  if (pdus === undefined) throw errors.missingParam('pdus');
  if (!Array.isArray(pdus)) throw errors.badJson('pdus must be an array');
  if (pdus.length > MAX_PDUS_PER_TRANSACTION) {
    throw errors.badJson(`A transaction holds at most ${MAX_PDUS_PER_TRANSACTION} PDUs`);
  }
  return { origin, originServerTs, pdus, edus: parseEdus(edus) };
}

/** EDUs: an array of `{edu_type, content}`; malformed entries are skipped, not fatal. */
function parseEdus(edus: unknown): Edu[] {
  if (edus === undefined || edus === null) return [];
  if (!Array.isArray(edus)) throw errors.badJson('edus must be an array');
  if (edus.length > MAX_EDUS_PER_TRANSACTION) {
    throw errors.badJson(`A transaction holds at most ${MAX_EDUS_PER_TRANSACTION} EDUs`);
  }
  return edus.filter(isEdu);
}

function isEdu(value: unknown): value is Edu {
  if (typeof value !== 'object' || value === null) return false;
  const { edu_type: type, content } = value as Record<string, unknown>;
  return (
    typeof type === 'string' &&
    typeof content === 'object' &&
    content !== null &&
    !Array.isArray(content)
  );
}
