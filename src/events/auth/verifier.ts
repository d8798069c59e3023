/**
 * The signature checks two rules need, injected so that the rules stay pure:
 * the caller does the ed25519 work with the keys it has fetched.
 */
import type { JsonObject, Pdu } from '../pdu.js';

export interface SignatureVerifier {
  /** Rule 4.2.1: whether the event carries a valid signature of this server. */
  isSignedBy(event: Pdu, serverName: string): boolean;
  /**
   * Rule 4.4.1.7: whether any signature in `signed` (of a third-party invite)
   * verifies with any of these unpadded-base64 ed25519 public keys.
   */
  isSignedByAnyKey(signed: JsonObject, publicKeys: readonly string[]): boolean;
}
