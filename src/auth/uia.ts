/**
 * User-Interactive Authentication: one engine for every protected endpoint.
 *
 * A protected request never succeeds without `auth`: the first answer is a 401
 * listing the flows and a new session. Each retry may complete one stage; a
 * session is bound to the request (operation and user) it started with, is kept
 * in storage (it survives restarts), expires, and is used up once the request it
 * authorised has run, so a stolen session ID cannot authorise a second request.
 */
import type { Storage, UiaSessionRecord } from '../storage/storage.js';
import { MatrixError, errors } from '../http/errors.js';
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

export class UiaEngine {
  constructor(
    private readonly storage: Storage,
    private readonly sessionLifetimeMs: number,
    private readonly verifiers: Record<string, StageVerifier>,
  ) {}

  /** Resolves when the request is authorised; throws the 401 challenge (or another error) otherwise. */
  async require(auth: unknown, request: UiaRequest): Promise<void> {
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
    await this.storage.uia.delete(session.sessionId);
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
    if (!session) {
      // Used up or expired: start over with a fresh session rather than fail the
      // client's whole flow; a used session never authorises a second request.
      const fresh = await this.newSession(request);
      throw this.challenge(request, fresh, errors.unknown('Unknown, used or expired session', 401));
    }
    if (session.operation !== request.operation || session.userId !== request.userId) {
      throw errors.forbidden(
        'Requested operation has changed during the UI authentication session',
      );
    }
    return session;
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
    await this.storage.uia.create(session);
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
