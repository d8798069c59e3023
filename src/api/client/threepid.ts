/**
 * The 3PID operations of a server with no email, no phone numbers and no
 * identity server (GET /account/3pid is in account.ts and lists none; the
 * requestToken endpoints answer M_THREEPID_MEDIUM_NOT_SUPPORTED). The
 * capability `m.3pid_changes` says `enabled: false`, and these answers agree.
 */
import type { FastifyRequest } from 'fastify';
import type { Router } from '../../http/router.js';
import { errors } from '../../protocol/errors.js';
import { objectBody, optionalString, requiredString } from '../../protocol/params.js';

/** Synapse's words when 3PID changes are off (`enable_3pid_changes: false`). */
const CHANGES_DISABLED = '3PID changes are disabled on this server';

export function registerThreepidRoutes(router: Router): void {
  const options = { auth: 'required' } as const;
  // Nothing is bound, so there is nothing to delete or unbind: done, and no identity
  // server was asked (the spec's `no-support`), as Synapse answers without one.
  const unbound = async (request: FastifyRequest) => {
    parseThreepid(request.body);
    return { id_server_unbind_result: 'no-support' };
  };
  router.client('POST', '/account/3pid/delete', options, unbound);
  router.client('POST', '/account/3pid/unbind', options, unbound);

  // Refused before any UIA, as Synapse does: asking for a password first would only
  // lead to the same refusal. 403 M_FORBIDDEN (Synapse sends M_FORBIDDEN with 400;
  // 403 is the status the code stands for, and clients read the code).
  const disabled = async () => {
    throw errors.forbidden(CHANGES_DISABLED);
  };
  router.client('POST', '/account/3pid/add', options, disabled);
  // The deprecated r0 form of add and bind.
  router.client('POST', '/account/3pid', options, disabled);
  router.client('POST', '/account/3pid/bind', options, async () => {
    throw errors.forbidden(
      'This server does not use identity servers: third-party identifiers cannot be bound',
    );
  });
}

/** The body of delete and unbind: which 3PID, and optionally which identity server. */
function parseThreepid(body: unknown): void {
  const fields = objectBody(body);
  requiredString(fields, 'medium');
  requiredString(fields, 'address');
  optionalString(fields, 'id_server');
}

/**
 * POST /rooms/{roomId}/invite with `id_server`, `medium` and `address` instead of
 * `user_id` (third-party invites): refused with 403, which the spec's
 * third_party_membership.yaml lists, and words that say why. Without an identity
 * server there is nobody to look the address up or to sign the invite.
 */
export function refuseThirdPartyInvite(body: Record<string, unknown>): void {
  if (body.user_id !== undefined) return;
  const thirdParty = ['id_server', 'medium', 'address'].some((key) => body[key] !== undefined);
  if (thirdParty) {
    throw errors.forbidden(
      'Third-party invites (by email or phone number) are not supported on this server: invite a Matrix user ID',
    );
  }
}
