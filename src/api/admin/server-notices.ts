/**
 * Synapse's `send_server_notice`: POST, or PUT with a transaction ID (a retry
 * answers the first event, as a client's PUT /send does). Server admins only.
 */
import type { ServerNotice, ServerNoticeService } from '../../admin/server-notices.js';
import { ownerOf, type Router } from '../../http/router.js';
import { errors } from '../../protocol/errors.js';
import { objectBody, optionalString, requiredString } from '../../protocol/params.js';
import type { FastifyRequest } from 'fastify';

/** The body: `user_id` and `content` required, `type` m.room.message unless given, `state_key` for state. */
function parseNotice(body: unknown): { userId: string; notice: ServerNotice } {
  const fields = objectBody(body);
  const userId = requiredString(fields, 'user_id');
  const content = fields.content;
  if (content === undefined || content === null) throw errors.missingParam('content');
  if (typeof content !== 'object' || Array.isArray(content)) {
    throw errors.badJson('content must be an object');
  }
  const notice: ServerNotice = {
    type: optionalString(fields, 'type') ?? 'm.room.message',
    content: content as ServerNotice['content'],
  };
  const stateKey = optionalString(fields, 'state_key');
  if (stateKey !== undefined) notice.stateKey = stateKey;
  return { userId, notice };
}

export function registerServerNoticeRoutes(router: Router, notices: ServerNoticeService): void {
  const send = async (request: FastifyRequest, txnId?: string) => {
    const { userId, notice } = parseNotice(request.body);
    const owner = ownerOf(request);
    const txn =
      txnId === undefined
        ? undefined
        : { userId: owner.userId, deviceId: owner.deviceId, endpoint: 'send_server_notice', txnId };
    return { event_id: await notices.send(userId, notice, txn) };
  };

  router.admin('POST', '/v1/send_server_notice', (request) => send(request));
  router.admin('PUT', '/v1/send_server_notice/:txnId', (request) =>
    send(request, (request.params as { txnId: string }).txnId),
  );
}
