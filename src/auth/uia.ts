/**
 * User-Interactive Authentication: one engine for every protected endpoint.
 *
 * A protected request never succeeds without `auth`: the first answer is a 401
 * listing the flows and a new session. Each retry may complete one stage; a
 * session is bound to the request (operation and user) it started with, is kept
 * in storage (it survives restarts), expires, and is used up once the request it
 * authorised has succeeded, so a stolen session ID cannot authorise a second
 * request. A request that fails after UIA (a weak password, a rate limit) leaves
 * the session usable for the client's retry, as in Synapse.
 */
import type { Storage, UiaSessionRecord } from '../storage/storage.js';
import { MatrixError, errors } from '../protocol/errors.js';
import { generateSessionId } from './secrets.js';

/** Checks one stage's `auth` dict; throws a 403 MatrixError when it fails. */
export type StageVerifier = (
  auth: Record<string, unknown>,
  session: UiaSessionRecord,
  /** The client's address, for the stages' rate limits. */
  ip: string,
) => Promise<void>;

export interface UiaRequest {
  /** What the session authorises, e.g. `POST /account/password`. */
  operation: string;
  /** The user who must authenticate; null when there is none yet (registration). */
  userId: string | null;
  flows: string[][];
  params?: Record<string, unknown>;
  ip: string;
  /**
   * Request parameters the session's later requests may leave out, as Synapse
   * remembers the registration password. Kept in memory only, never stored, and
   * forgotten with the session (so also on restart); undefined values are skipped.
   */
  remember?: Record<string, string | undefined>;
}

/** What a finished UIA session hands to the operation it authorises. */
export interface UiaGrant {
  /** The finished session (what a registration token's use is counted against). */
  sessionId: string;
  /** The `remember` values of the session's requests, the latest winning. */
  remembered: Record<string, string>;
}

interface RememberedValues {
  expiresTs: number;
  values: Record<string, string>;
}

/** The 401 answer of UIA: flows, params, session, completed, and errcode only on failure. */
export class UiaChallenge extends MatrixError {
  constructor(
    private readonly challenge: Record<string, unknown>,
    failure?: MatrixError,
  ) {
    super(401, failure?.errcode ?? 'M_UNAUTHORIZED', failure?.message ?? 'Authentication required');
    this.failure = failure;
  }
  private readonly failure: MatrixError | undefined;

  override body(): Record<string, unknown> {
    return this.failure ? { ...this.failure.body(), ...this.challenge } : this.challenge;
  }
}

/** The UIA sessions: the engine uses no other store. */
export type UiaEngineStorage = Pick<Storage, 'uia'>;

export class UiaEngine {
  /** Sessions whose operation is running: no second request may use them meanwhile. */
  private readonly running = new Set<string>();
  private readonly remembered = new Map<string, RememberedValues>();

  constructor(
    private readonly storage: UiaEngineStorage,
    private readonly sessionLifetimeMs: number,
    private readonly verifiers: Record<string, StageVerifier>,
  ) {}

  /**
   * Runs `operation` once the request is authorised, and uses the session up only
   * if it succeeds; throws the 401 challenge (or another error) otherwise.
   */
  async authorise<T>(
    auth: unknown,
    request: UiaRequest,
    operation: (grant: UiaGrant) => Promise<T>,
  ): Promise<T> {
    const { sessionId } = await this.finishedSession(auth, request);
    await this.claim(sessionId, request);
    try {
      const result = await operation({
        sessionId,
        remembered: { ...this.remembered.get(sessionId)?.values },
      });
      await this.useUp(sessionId);
      return result;
    } finally {
      this.running.delete(sessionId);
    }
  }

  /** The session, once the request has completed one of its flows. */
  private async finishedSession(auth: unknown, request: UiaRequest): Promise<UiaSessionRecord> {
    if (auth === undefined || auth === null) {
      throw this.challenge(request, await this.newSession(request));
    }
    if (typeof auth !== 'object' || Array.isArray(auth))
      throw errors.badJson('auth must be an object');
    const authDict = auth as Record<string, unknown>;
    const session = await this.sessionFor(authDict, request);

    const stage = authDict.type;
    if (stage !== undefined) {
      if (typeof stage !== 'string') throw errors.badJson('auth.type must be a string');
      // A stage already completed is not redone; the session's state answers.
      if (!session.completed.includes(stage))
        await this.completeStage(session, stage, authDict, request);
    }
    if (!this.isFinished(request.flows, session.completed)) throw this.challenge(request, session);
    return session;
  }

  /** Marks the session's operation as running, refusing a session that is running or used up. */
  private async claim(sessionId: string, request: UiaRequest): Promise<void> {
    if (this.running.has(sessionId)) throw await this.usedSessionChallenge(request);
    this.running.add(sessionId);
    // Another request may have used the session up while this one was checked.
    if (!(await this.storage.uia.get(sessionId, Date.now()))) {
      this.running.delete(sessionId);
      throw await this.usedSessionChallenge(request);
    }
  }

  /**
   * Start over with a fresh session rather than fail the client's whole flow; a
   * used session never authorises a second request.
   */
  private async usedSessionChallenge(request: UiaRequest): Promise<UiaChallenge> {
    const fresh = await this.newSession(request);
    return this.challenge(request, fresh, errors.unknown('Unknown, used or expired session', 401));
  }

  private async useUp(sessionId: string): Promise<void> {
    this.remembered.delete(sessionId);
    await this.storage.uia.delete(sessionId);
  }

  /** Completes a stage outside the request (the fallback web page). */
  async completeOutOfBand(
    sessionId: string,
    stage: string,
    authDict: Record<string, unknown>,
    ip: string,
  ): Promise<void> {
    const session = await this.storage.uia.get(sessionId, Date.now());
    if (!session) throw errors.notFound('Unknown or expired session');
    if (session.completed.includes(stage)) return;
    if (!this.isNextStage(session, stage))
      throw errors.forbidden(`Stage ${stage} is not expected now`);
    await this.verify(stage, authDict, session, ip);
    session.completed.push(stage);
    await this.storage.uia.setCompleted(session.sessionId, session.completed);
  }

  /** Who a live session authenticates and for what (the fallback page shows it); undefined if unknown or expired. */
  async sessionInfo(
    sessionId: string,
  ): Promise<{ userId: string | null; operation: string } | undefined> {
    const session = await this.storage.uia.get(sessionId, Date.now());
    return session && { userId: session.userId, operation: session.operation };
  }

  private async sessionFor(
    authDict: Record<string, unknown>,
    request: UiaRequest,
  ): Promise<UiaSessionRecord> {
    const sessionId = authDict.session;
    if (sessionId === undefined) return this.newSession(request);
    if (typeof sessionId !== 'string') throw errors.badJson('auth.session must be a string');
    const session = await this.storage.uia.get(sessionId, Date.now());
    if (!session) throw await this.usedSessionChallenge(request);
    if (session.operation !== request.operation || session.userId !== request.userId) {
      throw errors.forbidden(
        'Requested operation has changed during the UI authentication session',
      );
    }
    this.remember(session, request);
    return session;
  }

  private remember(session: UiaSessionRecord, request: UiaRequest): void {
    const given = Object.entries(request.remember ?? {}).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    );
    if (given.length === 0) return;
    const earlier = this.remembered.get(session.sessionId)?.values;
    this.remembered.set(session.sessionId, {
      expiresTs: session.expiresTs,
      values: { ...earlier, ...Object.fromEntries(given) },
    });
  }

  private forgetExpired(now: number): void {
    for (const [sessionId, { expiresTs }] of this.remembered) {
      if (expiresTs <= now) this.remembered.delete(sessionId);
    }
  }

  private async completeStage(
    session: UiaSessionRecord,
    stage: string,
    authDict: Record<string, unknown>,
    request: UiaRequest,
  ): Promise<void> {
    if (!this.isNextStage(session, stage)) {
      const failure = errors.unknown(`Stage ${stage} is not expected now`, 401);
      throw this.challenge(request, session, failure);
    }
    try {
      await this.verify(stage, authDict, session, request.ip);
    } catch (err) {
      if (err instanceof MatrixError && err.status === 403) {
        throw this.challenge(request, session, err);
      }
      throw err;
    }
    session.completed.push(stage);
    await this.storage.uia.setCompleted(session.sessionId, session.completed);
  }

  /** Stages run in the order of some flow the session was offered. */
  private isNextStage(session: UiaSessionRecord, stage: string): boolean {
    const next = [...session.completed, stage];
    return session.flows.some((flow) => next.every((s, i) => flow[i] === s));
  }

  private async verify(
    stage: string,
    authDict: Record<string, unknown>,
    session: UiaSessionRecord,
    ip: string,
  ): Promise<void> {
    const verifier = this.verifiers[stage];
    if (!verifier) throw errors.forbidden(`Unsupported authentication type ${stage}`);
    await verifier(authDict, session, ip);
  }

  private isFinished(flows: string[][], completed: string[]): boolean {
    return flows.some(
      (flow) => flow.length === completed.length && flow.every((s, i) => completed[i] === s),
    );
  }

  private async newSession(request: UiaRequest): Promise<UiaSessionRecord> {
    const session: UiaSessionRecord = {
      sessionId: generateSessionId(),
      userId: request.userId,
      operation: request.operation,
      flows: request.flows,
      completed: [],
      expiresTs: Date.now() + this.sessionLifetimeMs,
    };
    await this.storage.uia.purgeExpired(Date.now());
    this.forgetExpired(Date.now());
    await this.storage.uia.create(session);
    this.remember(session, request);
    return session;
  }

  private challenge(
    request: UiaRequest,
    session: UiaSessionRecord,
    failure?: MatrixError,
  ): UiaChallenge {
    return new UiaChallenge(
      {
        flows: request.flows.map((stages) => ({ stages })),
        params: request.params ?? {},
        session: session.sessionId,
        completed: session.completed,
      },
      failure,
    );
  }
}
