/**
 * Login tokens for `m.login.token`. The token itself names the user (the client
 * sends no username), carries its expiry, and is signed with a server secret so
 * it cannot be forged; a nonce recorded in storage makes it single-use.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'wlt_';

export interface LoginTokenClaims {
  userId: string;
  nonce: string;
  expiresTs: number;
}

export function mintLoginToken(
  secret: Buffer,
  userId: string,
  expiresTs: number,
): { token: string; claims: LoginTokenClaims } {
  const claims = { userId, nonce: randomBytes(16).toString('base64url'), expiresTs };
  const payload = Buffer.from(
    JSON.stringify({ u: claims.userId, n: claims.nonce, e: claims.expiresTs }),
  ).toString('base64url');
  return { token: `${PREFIX}${payload}.${sign(secret, payload)}`, claims };
}

/** The token's claims if its signature is valid; expiry and reuse are checked by the caller. */
export function readLoginToken(secret: Buffer, token: string): LoginTokenClaims | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  const [payload, signature, ...rest] = token.slice(PREFIX.length).split('.');
  if (!payload || !signature || rest.length > 0) return undefined;
  const expected = Buffer.from(sign(secret, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    if (typeof decoded !== 'object' || decoded === null) return undefined;
    const { u, n, e } = decoded as Record<string, unknown>;
    if (typeof u !== 'string' || typeof n !== 'string' || typeof e !== 'number') return undefined;
    return { userId: u, nonce: n, expiresTs: e };
  } catch {
    return undefined;
  }
}

function sign(secret: Buffer, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}
