/**
 * Rule 4 (v12: 5): `m.room.member`, every membership transition. Rule numbers
 * here are those of v10/v11; `refusedBy` shifts them for v12.
 */
import type { RoomVersion } from '../room-versions.js';
import { namedLevel, powerLevelOf } from '../power-levels.js';
import type { Pdu } from '../pdu.js';
import {
  type AuthState,
  createEventOf,
  firstJoiner,
  joinRuleOf,
  membershipOf,
} from './auth-state.js';
import { serverNameOf } from './ids.js';
import { ALLOWED, type AuthResult, refusedBy } from './result.js';
import type { SignatureVerifier } from './verifier.js';
import { authorizeThirdPartyInvite } from './third-party-invite.js';

/** What the membership rules read, gathered once. */
interface MemberContext {
  event: Pdu;
  target: string;
  state: AuthState;
  version: RoomVersion;
  verifier: SignatureVerifier | undefined;
}

export function authorizeMember(
  event: Pdu,
  state: AuthState,
  version: RoomVersion,
  verifier: SignatureVerifier | undefined,
): AuthResult {
  const membership = event.content.membership;
  // 4.1
  if (event.state_key === undefined || membership === undefined) {
    return refusedBy(version, '4.1', 'member: malformed', 'No state_key or no membership');
  }
  const ctx: MemberContext = { event, target: event.state_key, state, version, verifier };
  const unauthorised = refuseUnverifiedAuthoriser(ctx);
  if (unauthorised) return unauthorised;
  switch (membership) {
    case 'join':
      return authorizeJoin(ctx);
    case 'invite':
      return authorizeInvite(ctx);
    case 'leave':
      return authorizeLeave(ctx);
    case 'ban':
      return authorizeBan(ctx);
    case 'knock':
      return authorizeKnock(ctx);
    default:
      // 4.8
      return refusedBy(
        version,
        '4.8',
        'member: unknown membership',
        `Unknown membership ${String(membership)}`,
      );
  }
}

/** 4.2.1: a `join_authorised_via_users_server` must be backed by that server's signature. */
function refuseUnverifiedAuthoriser(ctx: MemberContext): AuthResult | undefined {
  const content = ctx.event.content;
  if (!Object.hasOwn(content, 'join_authorised_via_users_server')) return undefined;
  const authoriser = content.join_authorised_via_users_server;
  const server = typeof authoriser === 'string' ? serverNameOf(authoriser) : undefined;
  if (server !== undefined && ctx.verifier?.isSignedBy(ctx.event, server)) return undefined;
  const why = ctx.verifier ? `not signed by ${String(server)}` : 'no signature verifier given';
  return refusedBy(
    ctx.version,
    '4.2.1',
    'member: join_authorised_via_users_server not signed',
    `The event is not validly signed by the authorising user's server (${why})`,
  );
}

/** 4.3: join. */
function authorizeJoin(ctx: MemberContext): AuthResult {
  const { event, target, state, version } = ctx;
  if (isCreatorsFirstJoin(ctx)) return ALLOWED; // 4.3.1
  if (event.sender !== target) {
    return refusedBy(
      version,
      '4.3.2',
      'join: sender is not state_key',
      'Users can only join themselves',
    );
  }
  const current = membershipOf(state, target);
  if (current === 'ban') {
    return refusedBy(version, '4.3.3', 'join: banned', `${target} is banned from the room`);
  }
  const joinRule = joinRuleOf(state);
  const invitedOrJoined = current === 'invite' || current === 'join';
  // 4.3.4
  if ((joinRule === 'invite' || joinRule === 'knock') && invitedOrJoined) return ALLOWED;
  // 4.3.5
  if (isRestricted(joinRule, version)) {
    return invitedOrJoined ? ALLOWED : authorizeRestrictedJoin(ctx);
  }
  // 4.3.6
  if (joinRule === 'public') return ALLOWED;
  return refusedBy(
    version,
    '4.3.7',
    'join: not allowed by join rule',
    `The join rule is ${joinRule} and ${target} is not invited`,
  );
}

/** 4.3.1: the first join right after the create event, by the creator. */
function isCreatorsFirstJoin(ctx: MemberContext): boolean {
  const create = createEventOf(ctx.state);
  const prev = ctx.event.prev_events;
  return (
    create !== undefined &&
    prev.length === 1 &&
    prev[0] === create.eventId &&
    ctx.target === firstJoiner(ctx.state, ctx.version)
  );
}

function isRestricted(joinRule: string, version: RoomVersion): boolean {
  return (
    joinRule === 'restricted' ||
    (joinRule === 'knock_restricted' && version.knockRestrictedJoinRule)
  );
}

/**
 * 4.3.5.2: a restricted join needs `join_authorised_via_users_server` naming a
 * user who could invite: joined, with at least the invite level.
 */
function authorizeRestrictedJoin(ctx: MemberContext): AuthResult {
  const authoriser = ctx.event.content.join_authorised_via_users_server;
  const canInvite =
    typeof authoriser === 'string' &&
    membershipOf(ctx.state, authoriser) === 'join' &&
    powerLevelOf(authoriser, ctx.state, ctx.version) >=
      namedLevel('invite', ctx.state, ctx.version);
  if (canInvite) return ALLOWED; // 4.3.5.3
  return refusedBy(
    ctx.version,
    '4.3.5.2',
    'join: restricted, authoriser cannot invite',
    'join_authorised_via_users_server does not name a joined user with the invite level',
  );
}

/** 4.4: invite. */
function authorizeInvite(ctx: MemberContext): AuthResult {
  const { event, target, state, version } = ctx;
  const thirdPartyInvite = event.content.third_party_invite;
  if (thirdPartyInvite !== undefined) {
    return authorizeThirdPartyInvite(event, target, state, version, ctx.verifier); // 4.4.1
  }
  if (membershipOf(state, event.sender) !== 'join') {
    return refusedBy(version, '4.4.2', 'invite: sender not joined', 'Only joined users can invite');
  }
  const targetMembership = membershipOf(state, target);
  if (targetMembership === 'join' || targetMembership === 'ban') {
    return refusedBy(
      version,
      '4.4.3',
      'invite: target joined or banned',
      `${target} is ${targetMembership}`,
    );
  }
  if (powerLevelOf(event.sender, state, version) >= namedLevel('invite', state, version)) {
    return ALLOWED; // 4.4.4
  }
  return refusedBy(
    version,
    '4.4.5',
    'invite: below invite level',
    'The sender lacks the invite level',
  );
}

/** 4.5: leave (and kick, and unban). */
function authorizeLeave(ctx: MemberContext): AuthResult {
  const { event, target, state, version } = ctx;
  const targetMembership = membershipOf(state, target);
  if (event.sender === target) {
    const canLeave = ['invite', 'join', 'knock'].includes(targetMembership ?? '');
    if (canLeave) return ALLOWED; // 4.5.1
    return refusedBy(
      version,
      '4.5.1',
      'leave: not in the room',
      `Cannot leave from membership ${String(targetMembership)}`,
    );
  }
  if (membershipOf(state, event.sender) !== 'join') {
    return refusedBy(
      version,
      '4.5.2',
      'leave: sender not joined',
      'Only joined users can kick or unban',
    );
  }
  const senderLevel = powerLevelOf(event.sender, state, version);
  if (targetMembership === 'ban' && senderLevel < namedLevel('ban', state, version)) {
    return refusedBy(
      version,
      '4.5.3',
      'leave: unban below ban level',
      'Unbanning needs the ban level',
    );
  }
  if (
    senderLevel >= namedLevel('kick', state, version) &&
    powerLevelOf(target, state, version) < senderLevel
  ) {
    return ALLOWED; // 4.5.4
  }
  return refusedBy(
    version,
    '4.5.5',
    'leave: cannot kick',
    'Kicking needs the kick level and a higher level than the target',
  );
}

/** 4.6: ban. */
function authorizeBan(ctx: MemberContext): AuthResult {
  const { event, target, state, version } = ctx;
  if (membershipOf(state, event.sender) !== 'join') {
    return refusedBy(version, '4.6.1', 'ban: sender not joined', 'Only joined users can ban');
  }
  const senderLevel = powerLevelOf(event.sender, state, version);
  if (
    senderLevel >= namedLevel('ban', state, version) &&
    powerLevelOf(target, state, version) < senderLevel
  ) {
    return ALLOWED; // 4.6.2
  }
  return refusedBy(
    version,
    '4.6.3',
    'ban: cannot ban',
    'Banning needs the ban level and a higher level than the target',
  );
}

/** 4.7: knock. */
function authorizeKnock(ctx: MemberContext): AuthResult {
  const { event, target, state, version } = ctx;
  const joinRule = joinRuleOf(state);
  const knockable =
    joinRule === 'knock' || (joinRule === 'knock_restricted' && version.knockRestrictedJoinRule);
  if (!knockable) {
    return refusedBy(version, '4.7.1', 'knock: join rule forbids', `The join rule is ${joinRule}`);
  }
  if (event.sender !== target) {
    return refusedBy(
      version,
      '4.7.2',
      'knock: sender is not state_key',
      'Users can only knock for themselves',
    );
  }
  const current = membershipOf(state, event.sender);
  if (current !== 'ban' && current !== 'invite' && current !== 'join') return ALLOWED; // 4.7.3
  return refusedBy(
    version,
    '4.7.4',
    'knock: already invited, joined or banned',
    `${target} is ${current}`,
  );
}
