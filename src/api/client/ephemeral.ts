/** Typing notifications, receipts and read markers. */
import type { FastifyRequest } from 'fastify';
import {
  FULLY_READ,
  isEventId,
  parseReceiptType,
  parseThreadId,
  PRIVATE_RECEIPT_TYPE,
  SHARED_RECEIPT_TYPE,
  type ReceiptType,
} from '../../ephemeral/receipt-rules.js';
import { DEFAULT_TYPING_TIMEOUT_MS } from '../../ephemeral/typing-service.js';
import { errors } from '../../protocol/errors.js';
import { objectBody, optionalString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { UserDataDeps } from './user-data.js';

interface Params {
  roomId: string;
  userId?: string;
  receiptType?: string;
  eventId?: string;
}

const AUTH = { auth: 'required', guest: true } as const;

export function registerEphemeralRoutes(router: Router, deps: UserDataDeps): void {
  const { typing, receipts } = deps;

  router.client('PUT', '/rooms/:roomId/typing/:userId', AUTH, async (request) => {
    const { roomId, userId } = request.params as Params;
    if (userId !== ownerOf(request).userId) throw errors.forbidden('Cannot set typing for others');
    const body = objectBody(request.body);
    if (body.typing === undefined) throw errors.missingParam('typing');
    if (typeof body.typing !== 'boolean') throw errors.badJson('typing must be a boolean');
    const timeout = body.timeout ?? DEFAULT_TYPING_TIMEOUT_MS;
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) {
      throw errors.badJson('timeout must be a non-negative number');
    }
    await typing.setTyping(roomId, userId, body.typing, timeout);
    return {};
  });

  router.client('POST', '/rooms/:roomId/receipt/:receiptType/:eventId', AUTH, async (request) => {
    const { roomId, receiptType, eventId } = request.params as Params;
    const type = parseReceiptType(receiptType!);
    const body = objectBody(request.body, { allowEmpty: true });
    const threadId = parseThreadId(type, body.thread_id);
    await receipts.send({
      roomId,
      userId: ownerOf(request).userId,
      receiptType: type,
      eventId: eventId!,
      threadId,
    });
    return {};
  });

  router.client('POST', '/rooms/:roomId/read_markers', AUTH, async (request) => {
    const { roomId } = request.params as Params;
    const userId = ownerOf(request).userId;
    const markers = readMarkers(request);
    for (const [receiptType, eventId] of markers) {
      await receipts.send({ roomId, userId, receiptType, eventId });
    }
    return {};
  });
}

/** The body of /read_markers: receipts first, the fully-read marker last (as Synapse). */
function readMarkers(request: FastifyRequest): [ReceiptType, string][] {
  const body = objectBody(request.body, { allowEmpty: true });
  const markers: [ReceiptType, string][] = [];
  for (const type of [SHARED_RECEIPT_TYPE, PRIVATE_RECEIPT_TYPE, FULLY_READ] as const) {
    const eventId = optionalString(body, type);
    if (eventId === undefined) continue;
    if (!isEventId(eventId)) throw errors.invalidParam(`${type} must be an event ID`);
    markers.push([type, eventId]);
  }
  return markers;
}
