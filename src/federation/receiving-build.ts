/**
 * Federation's inbound side and joins, wired for app.ts (which registers the
 * routes): our keys and other servers' (KeyService), the X-Matrix check of
 * every federation request, received transactions and the events other
 * servers may fetch, and membership handshakes both ways.
 */
import type { Logger } from 'pino';
import { resolveState } from '../events/state-resolution.js';
import type { ServerKeys } from '../crypto/server-keys.js';
import type { FederationConfig } from '../config/config.js';
import type { ServerEventBus } from '../domain/server-events.js';
import type { RoomService } from '../rooms/room-service.js';
import type { Storage } from '../storage/storage.js';
import { Backfill } from './backfill.js';
import { EventReceiver, type ReceiverStore } from './event-receiver.js';
import { EventServing } from './event-serving.js';
import { InboundAuth } from './inbound-auth.js';
import { KeyService } from './key-service.js';
import { MembershipChecks } from './membership-checks.js';
import { MembershipServing } from './membership-serving.js';
import { MembershipWriter } from './membership-writer.js';
import type { FederationSender } from './outbound.js';
import { RemoteEvents } from './remote-events.js';
import { RemoteMembershipClient } from './remote-membership.js';
import { ServerAclCheck } from './server-acl.js';
import { TransactionReceiver, type EduReceiver } from './transaction-receiver.js';

export interface FederationReceivingDeps {
  serverName: string;
  config: FederationConfig;
  keys: ServerKeys;
  storage: Storage;
  sender: FederationSender;
  rooms: RoomService;
  bus: ServerEventBus;
  edus: EduReceiver;
  logger: Logger;
}

export function buildFederationReceiving(deps: FederationReceivingDeps) {
  const { serverName, config, keys, storage, sender, rooms, logger } = deps;
  const keyService = new KeyService({
    serverName,
    keys,
    store: storage.serverKeys,
    sender,
    trustedKeyServers: config.trusted_key_servers,
    validityPeriodMs: config.key_validity_period_ms,
    oldSigningKeys: config.old_signing_keys,
    logger,
  });
  const store = receiverStore(storage);
  const acl = new ServerAclCheck(storage.rooms);
  const events = new EventReceiver({
    serverName,
    store,
    writer: rooms,
    keys: keyService,
    remote: new RemoteEvents(sender),
    resolveState,
    logger,
  });
  const membershipDeps = {
    serverName,
    signingKey: keys.signingKey,
    storage: { rooms: storage.rooms, users: storage.users, accountData: storage.accountData },
    checks: new MembershipChecks(keyService),
    writer: new MembershipWriter(storage.rooms, rooms, deps.bus),
  };
  return {
    keys: keyService,
    // The ACL cache and the event checks, shared with the directory queries (app.ts).
    acl,
    checks: membershipDeps.checks,
    inboundAuth: new InboundAuth(serverName, keyService),
    transactions: new TransactionReceiver(
      events,
      deps.edus,
      (err) => logger.warn({ err }, 'federation: receiving EDUs failed'),
      Date.now,
      acl,
    ),
    serving: new EventServing(serverName, store, Date.now, acl),
    membershipServing: new MembershipServing({ ...membershipDeps, acl }),
    backfill: new Backfill({ serverName, storage, sender, receiver: events, acl, logger }),
    remoteMembership: new RemoteMembershipClient({ ...membershipDeps, sender, logger }),
  };
}

/** The room store as the receiver and serving read it, with the room's version. */
function receiverStore(storage: Storage): ReceiverStore & {
  stateIdsBefore: Storage['rooms']['stateIdsBefore'];
} {
  const rooms = storage.rooms;
  return {
    heldEvents: (ids) => rooms.heldEvents(ids),
    stateIdsAfter: (id) => rooms.stateIdsAfter(id),
    stateIdsBefore: (id) => rooms.stateIdsBefore(id),
    forwardExtremities: (roomId) => rooms.forwardExtremities(roomId),
    currentStateIdsFor: (roomId, pairs) => rooms.currentStateIdsFor(roomId, pairs),
    hasJoinedMember: (roomId, server) => rooms.hasJoinedMember(roomId, server),
    roomVersion: async (roomId) => (await rooms.getRoom(roomId))?.version,
  };
}
