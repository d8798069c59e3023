/**
 * Device list rows, shared by both backends. A change is about a device (its
 * m.device_list_update names it) or, with no device, the user's cross-signing
 * keys (federation/federation-sending.ts sends m.signing_key_update for those).
 */
import type { DeviceListChangeRecord, DeviceListOutboundHead } from '../storage.js';

export interface DeviceListSubject {
  userId: string;
  /** Null: the user's cross-signing keys. */
  deviceId: string | null;
}

/**
 * The changes a batch of signatures makes: per target user, in the order the
 * users are first named, each signed device once, then the cross-signing keys
 * once if any was signed. A target that is one of the user's devices (`isDevice`,
 * read in the write's transaction) is a device; else it is a cross-signing key.
 */
export function signatureSubjects(
  signatures: readonly { targetUserId: string; targetKeyId: string }[],
  isDevice: (userId: string, keyId: string) => boolean,
): DeviceListSubject[] {
  const byUser = new Map<string, Set<string | null>>();
  for (const { targetUserId, targetKeyId } of signatures) {
    let subjects = byUser.get(targetUserId);
    if (!subjects) byUser.set(targetUserId, (subjects = new Set()));
    subjects.add(isDevice(targetUserId, targetKeyId) ? targetKeyId : null);
  }
  return [...byUser].flatMap(([userId, subjects]) => {
    const devices = [...subjects].filter((subject) => subject !== null);
    const crossSigning = subjects.has(null) ? [null] : [];
    return [...devices, ...crossSigning].map((deviceId) => ({ userId, deviceId }));
  });
}

export interface ChangeRow {
  stream_id: number | string;
  user_id: string;
  device_id: string | null;
}

export const toChangeRecord = (row: ChangeRow): DeviceListChangeRecord => ({
  position: Number(row.stream_id),
  userId: row.user_id,
  ...(row.device_id !== null ? { deviceId: row.device_id } : {}),
});

export interface OutboundRow {
  user_id: string;
  destination: string;
  stream_id: number | string;
}

export const toOutboundHead = (row: OutboundRow): DeviceListOutboundHead => ({
  userId: row.user_id,
  destination: row.destination,
  streamId: Number(row.stream_id),
});
