/**
 * The user's profile in their m.room.member events, as Synapse adds it when it
 * builds a member event (EventCreationHandler.create_event): for join, knock and
 * invite (Synapse's default `include_profile_data_on_invite`), `displayname` and
 * `avatar_url` each come from the target's profile unless the content already
 * has that key (a per-room name sent through PUT /state stays), and only when
 * the profile has a value. Only local users have profiles here (no federation yet).
 */
import { serverNameOf } from '../events/auth/ids.js';
import type { JsonObject } from '../events/pdu.js';
import type { EventDraft } from './room-service.js';
import type { ProfileReader } from '../storage/readers.js';

const MEMBERSHIPS_WITH_PROFILE: ReadonlySet<unknown> = new Set(['join', 'invite', 'knock']);

export class MemberProfiles {
  constructor(
    private readonly profiles: ProfileReader,
    private readonly serverName: string,
  ) {}

  /** The draft with the target's profile added where it belongs; other drafts unchanged. */
  async complete(draft: EventDraft): Promise<EventDraft> {
    const target = draft.stateKey;
    if (draft.type !== 'm.room.member' || target === undefined) return draft;
    if (!MEMBERSHIPS_WITH_PROFILE.has(draft.content.membership)) return draft;
    if (serverNameOf(target) !== this.serverName) return draft;
    const profile = await this.profiles.getProfile(target);
    if (!profile) return draft;
    const content: JsonObject = { ...draft.content };
    if (!Object.hasOwn(content, 'displayname') && profile.displayName !== undefined) {
      content.displayname = profile.displayName;
    }
    if (!Object.hasOwn(content, 'avatar_url') && profile.avatarUrl !== undefined) {
      content.avatar_url = profile.avatarUrl;
    }
    return { ...draft, content };
  }

  async completeAll(drafts: EventDraft[]): Promise<EventDraft[]> {
    return Promise.all(drafts.map((draft) => this.complete(draft)));
  }
}
