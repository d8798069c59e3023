/**
 * Server notices, as Synapse's: a system user (server_notices.system_mxid_localpart)
 * writes to one user in a room of their own. The room is made on first use by
 * the system user (private, the user invited at creation, users_default -10 so
 * the user cannot write, tagged m.server_notice in the user's account data) and
 * found again afterwards as Synapse finds it: the room the user is invited to or
 * joined where the system user is joined. That is durable (room state), and a
 * user who left gets a new room with the next notice, as in Synapse.
 */
import type { ServerNoticesConfig } from '../config/config.js';
import type { AccountDataService } from '../account-data/account-data-service.js';
import { TAGS } from '../account-data/account-data-rules.js';
import type { JsonObject } from '../events/pdu.js';
import { errors } from '../protocol/errors.js';
import type { CreateRoomRequest } from '../rooms/create-room.js';
import { currentMembership } from '../rooms/current-membership.js';
import type { MembershipService } from '../rooms/membership-service.js';
import type { RoomService, TransactionScope } from '../rooms/room-service.js';
import type { MembershipReader, RoomStateReader } from '../storage/readers.js';
import type { UserStore } from '../storage/storage.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { checkLocalUserId } from './admin-rules.js';

/** The room tag clients show server notices rooms by (the spec's Server Notices module). */
export const SERVER_NOTICE_TAG = 'm.server_notice';

export interface ServerNotice {
  type: string;
  content: JsonObject;
  stateKey?: string;
}

export interface ServerNoticesStorage {
  users: Pick<UserStore, 'getUser' | 'createUser'>;
  rooms: RoomStateReader & MembershipReader;
}

export interface ServerNoticesDeps {
  rooms: RoomService;
  membership: MembershipService;
  accountData: AccountDataService;
  createRoom: (request: CreateRoomRequest) => Promise<string>;
}

export class ServerNoticeService {
  /** One room creation at a time per user, so two first notices share a room. */
  private readonly perUser = new KeyedLock();
  private readonly systemUserId: string | undefined;

  constructor(
    private readonly serverName: string,
    private readonly config: ServerNoticesConfig,
    private readonly storage: ServerNoticesStorage,
    private readonly deps: ServerNoticesDeps,
  ) {
    const localpart = config.system_mxid_localpart;
    this.systemUserId = localpart === null ? undefined : `@${localpart}:${serverName}`;
  }

  /**
   * Makes the system user's account (no password: nobody logs in as it) when
   * notices are on, at start, so that nobody registers its ID first.
   */
  async start(): Promise<void> {
    if (!this.systemUserId) return;
    const displayName = this.config.system_mxid_display_name;
    await this.storage.users.createUser({
      userId: this.systemUserId,
      passwordHash: null,
      isGuest: false,
      isAdmin: false,
      now: Date.now(),
      ...(displayName === null ? {} : { displayName }),
    });
  }

  /** Sends the notice into the user's notices room (made if needed); answers the event ID. */
  async send(userId: string, notice: ServerNotice, txn?: TransactionScope): Promise<string> {
    const systemUserId = this.systemUserId;
    if (!systemUserId) throw errors.unknown('Server notices are not enabled on this server');
    checkLocalUserId(userId, this.serverName, 'Server notices can only be sent to local users');
    if (!(await this.storage.users.getUser(userId))) throw errors.notFound('User not found');
    const roomId = await this.perUser.run(userId, () => this.noticeRoom(userId, systemUserId));
    const draft = { type: notice.type, content: notice.content };
    const event = await this.deps.rooms.send(
      roomId,
      systemUserId,
      notice.stateKey === undefined ? draft : { ...draft, stateKey: notice.stateKey },
      txn,
    );
    return event.eventId;
  }

  private async noticeRoom(userId: string, systemUserId: string): Promise<string> {
    const roomId =
      (await this.existingRoom(userId, systemUserId)) ??
      (await this.createRoom(userId, systemUserId));
    // Again on every notice: repairs a crash between the room's creation and its tag.
    await this.ensureTagged(userId, roomId);
    if (this.config.auto_join && (await this.membershipOf(roomId, userId)) === 'invite') {
      await this.deps.membership.join({ userId, deviceId: '', isGuest: false }, roomId);
    }
    return roomId;
  }

  /** Synapse's lookup: a room the user is in or invited to where the system user is joined. */
  private async existingRoom(userId: string, systemUserId: string) {
    for (const membership of ['join', 'invite']) {
      for (const roomId of await this.storage.rooms.roomsWithMembership(userId, membership)) {
        if ((await this.membershipOf(roomId, systemUserId)) === 'join') return roomId;
      }
    }
    return undefined;
  }

  /** Synapse's room: private_chat, users_default -10 (only the system user may write). */
  private createRoom(userId: string, systemUserId: string): Promise<string> {
    return this.deps.createRoom({
      creator: systemUserId,
      preset: 'private_chat',
      visibility: 'private',
      creationContent: {},
      powerLevelOverride: { users_default: -10 },
      initialState: [],
      name: this.config.room_name,
      invite: [userId],
      isDirect: false,
    });
  }

  private async ensureTagged(userId: string, roomId: string): Promise<void> {
    const tags = (await this.deps.accountData.get(userId, roomId, TAGS))?.tags;
    const tagged = typeof tags === 'object' && tags !== null && SERVER_NOTICE_TAG in tags;
    if (!tagged) await this.deps.accountData.putTag(userId, roomId, SERVER_NOTICE_TAG, {});
  }

  private membershipOf(roomId: string, userId: string) {
    return currentMembership(this.storage, roomId, userId);
  }
}
