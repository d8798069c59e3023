/**
 * The router's gate for account moderation: run on every authenticated
 * request once its body is parsed, before the handler. Suspended users are
 * refused what suspension forbids, message sends take from the message rate
 * limit, and a shadow-banned user's sends are answered here without being
 * made. The flags come with the token (no query of their own).
 */
import { randomBytes } from 'node:crypto';
import type { TokenOwner } from '../domain/records.js';
import {
  shadowBanAnswer,
  isMessageSend,
  suspensionRefuses,
  userSuspended,
} from './account-moderation-rules.js';
import type { MessageRateLimit } from './message-rate-limit.js';

export interface GatedRequest {
  owner: TokenOwner;
  method: string;
  /** The route's URL pattern. */
  url: string;
  params: unknown;
}

/** Synapse's fake event IDs: `$` and 43 random URL-safe characters, as a real ID of room v4+ looks. */
export function fakeEventId(): string {
  return `$${randomBytes(32).toString('base64url').slice(0, 43)}`;
}

export class AccountModerationGate {
  constructor(private readonly messages: MessageRateLimit) {}

  /** Undefined: go on to the handler; else the answer to give instead. */
  async check({ owner, method, url, params }: GatedRequest): Promise<unknown> {
    const eventType = (params as { eventType?: string } | undefined)?.eventType;
    if (owner.suspended && suspensionRefuses(method, url, eventType)) throw userSuspended();
    // Application services' senders (and `rate_limited: false` services) are not limited.
    const limited = !owner.rateLimitExempt;
    if (limited && isMessageSend(method, url)) await this.messages.take(owner.userId);
    if (!owner.shadowBanned) return undefined;
    switch (shadowBanAnswer(method, url)) {
      case 'fake-event':
        return { event_id: fakeEventId() };
      case 'empty':
        return {};
      default:
        return undefined;
    }
  }
}
