/**
 * Records that storage holds and the pure rules read: types only, so rule
 * modules need not import the storage interface.
 */
import type { AppServiceRegistration } from './appservice.js';

/** What an access token resolves to. */
export interface TokenOwner {
  userId: string;
  deviceId: string;
  isGuest: boolean;
  /** Account moderation (admin/account-moderation-service.ts), read with the token; absent: false. */
  locked?: boolean;
  suspended?: boolean;
  shadowBanned?: boolean;
  /** A puppet token's expiry (ms since the epoch); absent: it never expires. */
  validUntilMs?: number;
  /** Set when an application service's as_token made the request (appservice/appservice-auth.ts). */
  appService?: AppServiceRegistration;
  /** An application service's request that no rate limit counts (its sender, or `rate_limited: false`). */
  rateLimitExempt?: boolean;
}

/** One piece of account data: global (no roomId) or for one room. */
export interface AccountDataRecord {
  userId: string;
  roomId?: string;
  type: string;
  content: Record<string, unknown>;
  /** The accountData stream position of its latest change. */
  streamId: number;
}

export type CrossSigningKeyType = 'master' | 'self_signing' | 'user_signing';

export interface KeyWithId {
  algorithm: string;
  keyId: string;
  /** Canonical JSON of the key (an object, or a string for unsigned keys). */
  keyJson: string;
}

export interface BackupKeyRecord {
  roomId: string;
  sessionId: string;
  firstMessageIndex: number;
  forwardedCount: number;
  isVerified: boolean;
  sessionDataJson: string;
}

export interface PusherRecord {
  userId: string;
  appId: string;
  pushkey: string;
  kind: string;
  /** The device whose access token set it: the pusher goes with the device. */
  deviceId: string | null;
  appDisplayName: string;
  deviceDisplayName: string;
  profileTag?: string;
  lang: string;
  data: Record<string, unknown>;
  /** When the pushkey was set, in seconds. */
  pushkeyTs: number;
  /** The newest notification handled (sent, or given up on). */
  lastStreamOrdering: number;
  failingSince?: number;
  lastError?: string;
}
