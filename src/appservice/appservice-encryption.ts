/**
 * MSC3202, for bridges that encrypt end to bridge (`org.matrix.msc3202: true`):
 * what a transaction tells the service of its users' encryption, as Synapse
 * puts it on the wire (synapse/handlers/appservice.py,
 * _compute_msc3202_otk_counts_and_fallback_keys):
 *
 * - the device lists that changed since the last transaction, of users the
 *   service is interested in or shares a room with (collected by the ephemeral
 *   feed; `left` stays empty, as the service learns of leaves from the events);
 * - for each of the service's users the transaction names (the senders of its
 *   events, the recipients of its to-device messages), per device, the one-time
 *   key counts and the unused fallback key types.
 */
import type { AppServiceRegistration } from '../domain/appservice.js';
import type { EventRecord } from '../events/records.js';
import type { Storage } from '../storage/storage.js';
import { interestedInUser } from './interest-rules.js';
import type {
  TransactionContent,
  OneTimeKeyCounts,
  UnusedFallbackKeys,
} from './transaction-rules.js';

export type EncryptionSummary = Pick<
  TransactionContent,
  'deviceLists' | 'oneTimeKeyCounts' | 'unusedFallbackKeys'
>;

export interface EncryptionSources {
  events: readonly EventRecord[];
  toDevice: readonly Record<string, unknown>[];
  changedDeviceLists: readonly string[];
}

export async function encryptionSummary(
  storage: Pick<Storage, 'devices' | 'e2eeKeys'>,
  registration: AppServiceRegistration,
  serverName: string,
  sources: EncryptionSources,
): Promise<EncryptionSummary> {
  const oneTimeKeyCounts: OneTimeKeyCounts = {};
  const unusedFallbackKeys: UnusedFallbackKeys = {};
  for (const userId of namedUsers(sources)) {
    if (!userId.endsWith(`:${serverName}`)) continue;
    if (!interestedInUser(registration, userId, serverName)) continue;
    for (const { deviceId } of await storage.devices.listDevices(userId)) {
      (oneTimeKeyCounts[userId] ??= {})[deviceId] = await storage.e2eeKeys.oneTimeKeyCounts(
        userId,
        deviceId,
      );
      (unusedFallbackKeys[userId] ??= {})[deviceId] = await storage.e2eeKeys.unusedFallbackKeyTypes(
        userId,
        deviceId,
      );
    }
  }
  return {
    deviceLists: { changed: [...sources.changedDeviceLists], left: [] },
    oneTimeKeyCounts,
    unusedFallbackKeys,
  };
}

/** The senders of the events and the recipients of the to-device messages. */
function namedUsers(sources: EncryptionSources): Set<string> {
  const users = new Set<string>();
  for (const { pdu } of sources.events) users.add(pdu.sender);
  for (const message of sources.toDevice) {
    if (typeof message.to_user_id === 'string') users.add(message.to_user_id);
  }
  return users;
}
