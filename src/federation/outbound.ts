/**
 * The contract between federation's parts and the one client that speaks to
 * other servers (federation-http.ts): a request names a destination server
 * name, never a host; resolution, TLS and the X-Matrix signature happen there.
 */
import type { JsonObject } from '../events/pdu.js';

export interface FederationRequest {
  /** The server name of the destination, as it appears in IDs (`example.org`, `example.org:8448`). */
  destination: string;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** The path with its query string, already encoded: `/_matrix/federation/v1/event/%24abc`. */
  path: string;
  body?: JsonObject;
  /** Signed with X-Matrix unless false (the key endpoints are unsigned). */
  signed?: boolean;
  timeoutMs?: number;
}

export interface FederationResponse {
  status: number;
  /** The parsed JSON body (undefined when the body was not JSON). */
  body: unknown;
}

/** Thrown when the destination could not be reached (resolution, connection, TLS, timeout, refused address). */
export class FederationUnreachable extends Error {
  constructor(
    readonly destination: string,
    message: string,
  ) {
    super(`${destination}: ${message}`);
    this.name = 'FederationUnreachable';
  }
}

export interface FederationSender {
  request(request: FederationRequest): Promise<FederationResponse>;
}
