/** UIA for endpoints where the caller proves again that it is the token's user. */
import type { FastifyRequest } from 'fastify';
import type { TokenOwner } from '../../domain/records.js';
import { ownerOf } from '../../http/router.js';
import type { ClientApiServices } from './services.js';

/**
 * Resolves with the caller once UIA is complete; otherwise throws the 401 challenge.
 * `operation` names the request the UIA session is bound to.
 */
export async function reauthenticate(
  services: ClientApiServices,
  request: FastifyRequest,
  auth: unknown,
  operation: string,
): Promise<TokenOwner> {
  return withReauthentication(services, request, auth, operation, async (owner) => owner);
}

/**
 * Runs `run` once UIA is complete, using the session up only if it succeeds
 * (a failure leaves it for the client's retry); otherwise throws the 401 challenge.
 */
export async function withReauthentication<T>(
  services: ClientApiServices,
  request: FastifyRequest,
  auth: unknown,
  operation: string,
  run: (owner: TokenOwner) => Promise<T>,
): Promise<T> {
  const owner = ownerOf(request);
  const uiaRequest = {
    operation,
    userId: owner.userId,
    flows: await services.reauthFlows(owner.userId),
    ip: request.ip,
  };
  return services.uia.authorise(auth, uiaRequest, () => run(owner));
}
