/**
 * Authenticating a request another server sent us (server-server API,
 * "Request Authentication"): one of its `Authorization: X-Matrix` headers must
 * carry a valid signature, by the origin's key, over the request's method,
 * URI as sent, origin, our name as destination, and JSON body.
 */
import type { JsonObject, JsonValue } from '../events/pdu.js';
import { verifyJsonSignature } from '../events/signing.js';
import { MatrixError } from '../protocol/errors.js';
import { parseXMatrix, requestSigningJson, type XMatrixParams } from './request-auth.js';
import { parseServerName } from './server-name.js';

/** Where the origin's keys come from (KeyService). */
export interface VerifyKeySource {
  verifyKeyFor(serverName: string, keyId: string, atTs: number): Promise<string | undefined>;
}

export interface InboundRequest {
  method: string;
  /** The request target as received: path and query string, still percent-encoded. */
  uri: string;
  /** The parsed JSON body; undefined when the request had none. */
  body: unknown;
  /** Every `Authorization` header value (a server may send one per key). */
  authorization: readonly string[];
}

/** More signatures than a request needs; beyond these, headers are not looked at. */
const MAX_SIGNATURES_TRIED = 4;

export function unauthorized(message: string): MatrixError {
  return new MatrixError(401, 'M_UNAUTHORIZED', message);
}

export class InboundAuth {
  constructor(
    private readonly serverName: string,
    private readonly keys: VerifyKeySource,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The origin server whose signature verified; 401 M_UNAUTHORIZED when none does. */
  async authenticate(request: InboundRequest): Promise<string> {
    const signatures = request.authorization
      .map(parseXMatrix)
      .filter((params): params is XMatrixParams => params !== undefined)
      .slice(0, MAX_SIGNATURES_TRIED);
    if (signatures.length === 0) throw unauthorized('Missing X-Matrix authorization');
    let refusal = 'Invalid signature';
    for (const signature of signatures) {
      const problem = await this.check(signature, request);
      if (problem === undefined) return signature.origin;
      refusal = problem;
    }
    throw unauthorized(refusal);
  }

  /** What is wrong with one signature, or undefined when it verifies. */
  private async check(params: XMatrixParams, request: InboundRequest): Promise<string | undefined> {
    if (params.destination !== undefined && params.destination !== this.serverName) {
      return `The request is for ${params.destination}, not this server`;
    }
    if (!parseServerName(params.origin)) return 'The origin is not a server name';
    if (!params.key.startsWith('ed25519:')) return 'Unsupported key algorithm';
    const publicKey = await this.keys.verifyKeyFor(params.origin, params.key, this.clock());
    if (publicKey === undefined) return `No valid key ${params.key} of ${params.origin}`;
    const signed: JsonObject = {
      ...requestSigningJson({
        method: request.method,
        uri: request.uri,
        origin: params.origin,
        // Servers before v1.3 sent no destination but signed ours.
        destination: this.serverName,
        content: request.body as JsonValue | undefined,
      }),
      signatures: { [params.origin]: { [params.key]: params.sig } },
    };
    return verifySafely(signed, params, publicKey) ? undefined : 'Invalid signature';
  }
}

/** A body canonical JSON cannot encode (a float, say) cannot have been signed. */
function verifySafely(signed: JsonObject, params: XMatrixParams, publicKey: string): boolean {
  try {
    return verifyJsonSignature(signed, params.origin, params.key, publicKey);
  } catch (err) {
    if (err instanceof MatrixError) return false;
    throw err;
  }
}
