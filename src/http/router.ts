/**
 * How handlers are attached: one call registers a Client-Server endpoint under
 * every prefix it lives at (`v3` and its `r0` alias, or `v1` only), with the
 * authentication it needs. After all routes are in, `finish()` answers the
 * other methods of every known path with 405 M_UNRECOGNIZED.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { TokenOwner } from '../domain/records.js';
import type { SessionService } from '../auth/sessions.js';
import { errors } from '../protocol/errors.js';
import { lockAllows, userLocked } from '../auth/account-moderation-rules.js';

/** Resolves application services' as_tokens (appservice/appservice-auth.ts); undefined: not one. */
export interface AppServiceTokens {
  authenticate(token: string, query: unknown): Promise<TokenOwner | undefined>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the access token belongs to, on authenticated routes. */
    owner: TokenOwner | null;
    /** The server whose X-Matrix signature verified, on federation routes. */
    origin: string | null;
  }
}

// --- federation request authentication ---
/** Verifies a federation request's X-Matrix signature (federation/inbound-auth.ts). */
export interface FederationAuthenticator {
  /** The origin server name, or throws 401 M_UNAUTHORIZED. */
  authenticate(request: {
    method: string;
    uri: string;
    body: unknown;
    authorization: readonly string[];
  }): Promise<string>;
}

/** A federation route's handler: `origin` is the server whose signature verified. */
export type FederationHandler = (request: FastifyRequest, origin: string) => Promise<unknown>;

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteOptions {
  /** `required`: 401 without a valid token; `optional`: used when given; `none`: ignored. */
  auth: 'required' | 'optional' | 'none';
  /** Whether guests may call it (the spec's guest access module lists these). */
  guest?: boolean;
  /** Server admins only (Synapse's Admin API): the user's admin flag, read at every call. */
  admin?: boolean;
}

export type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * Checks run on authenticated requests after the body is parsed, before the
 * handler (account moderation): a value returned is the answer instead.
 */
export type RequestGate = (request: {
  owner: TokenOwner;
  method: Method;
  url: string;
  params: unknown;
}) => Promise<unknown>;

const CLIENT = '/_matrix/client';
const ADMIN = '/_synapse/admin';
const ALL_METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'];

export class Router {
  private readonly methodsByPath = new Map<string, Set<string>>();
  private gate: RequestGate | undefined;
  private appServices: AppServiceTokens | undefined;
  private federationAuth: FederationAuthenticator | undefined;

  constructor(
    private readonly app: FastifyInstance,
    private readonly sessions: SessionService,
    /** Whether the user is a server admin now (no caching: a demotion counts at the next call). */
    private readonly isServerAdmin: (userId: string) => Promise<boolean> = async () => false,
  ) {
    if (!app.hasRequestDecorator('origin')) app.decorateRequest('origin', null);
  }

  /** Sets how federation routes verify their signatures (routes registered before included). */
  useFederationAuth(auth: FederationAuthenticator): void {
    this.federationAuth = auth;
  }

  /**
   * A server-server endpoint, `path` in full (`/_matrix/federation/v1/version`):
   * its X-Matrix signature is checked once the body is parsed (the signature
   * covers it), and the handler gets the origin; no access token is read.
   */
  federation(method: Method, path: string, handler: FederationHandler): void {
    this.record(method, path);
    this.app.route({
      method,
      url: path,
      preHandler: this.federationHook(),
      handler: async (request) => handler(request, request.origin!),
    });
  }

  /** Sets the gate every authenticated route passes (routes registered before included). */
  useGate(gate: RequestGate): void {
    this.gate = gate;
  }

  /** Lets application services' as_tokens authenticate (routes registered before included). */
  useAppServices(appServices: AppServiceTokens): void {
    this.appServices = appServices;
  }

  /** An endpoint of the current API and its r0 alias: `/_matrix/client/{v3,r0}{path}`. */
  client(method: Method, path: string, options: RouteOptions, handler: Handler): void {
    this.route(method, `${CLIENT}/v3${path}`, options, handler);
    this.route(method, `${CLIENT}/r0${path}`, options, handler);
  }

  /** An endpoint the spec defines only under `/_matrix/client/v1`. */
  v1(method: Method, path: string, options: RouteOptions, handler: Handler): void {
    this.route(method, `${CLIENT}/v1${path}`, options, handler);
  }

  /** A Synapse Admin API endpoint, `/_synapse/admin{path}` (`path` starts with its version): server admins only. */
  admin(method: Method, path: string, handler: Handler): void {
    this.route(method, `${ADMIN}${path}`, { auth: 'required', admin: true }, handler);
  }

  /** Any other path, given in full. */
  route(method: Method, url: string, options: RouteOptions, handler: Handler): void {
    this.record(method, url);
    this.app.route({
      method,
      url,
      onRequest: options.auth === 'none' ? undefined : this.authHook(options, method, url),
      preHandler: options.auth === 'none' ? undefined : this.gateHook(method, url),
      handler,
    });
  }

  /** Notes the path's method, for the 405 answers of `finish`. */
  private record(method: Method, url: string): void {
    const methods = this.methodsByPath.get(url) ?? new Set<string>();
    methods.add(method);
    if (method === 'GET') methods.add('HEAD');
    this.methodsByPath.set(url, methods);
  }

  /** Registers 405 answers for the methods each known path does not serve. */
  finish(): void {
    for (const [url, methods] of this.methodsByPath) {
      const others = ALL_METHODS.filter((m) => !methods.has(m));
      if (others.length === 0) continue;
      this.app.route({
        method: others,
        url,
        exposeHeadRoute: false,
        handler: async () => {
          throw errors.methodNotAllowed();
        },
      });
    }
  }

  private federationHook() {
    return async (request: FastifyRequest) => {
      if (!this.federationAuth) throw errors.unknown('Federation is not set up', 401);
      const authorization = request.raw.headersDistinct.authorization ?? [];
      request.origin = await this.federationAuth.authenticate({
        method: request.method,
        // The target as the sender wrote it (and signed it): path and query, still encoded.
        uri: request.raw.url ?? request.url,
        body: request.body,
        authorization,
      });
    };
  }

  private gateHook(method: Method, url: string) {
    return async (request: FastifyRequest, reply: FastifyReply) => {
      const { owner } = request;
      if (!owner || !this.gate) return;
      const answer = await this.gate({ owner, method, url, params: request.params });
      if (answer !== undefined) return reply.send(answer);
    };
  }

  private authHook(options: RouteOptions, method: Method, url: string) {
    const { sessions, isServerAdmin } = this;
    return async (request: FastifyRequest) => {
      const token = accessTokenOf(request);
      if (token === undefined) {
        if (options.auth === 'required') throw errors.missingToken();
        return;
      }
      // A service's as_token first (a Map lookup), as Synapse does; then the stored tokens.
      const service = await this.appServices?.authenticate(token, request.query);
      const owner = service ?? (await sessions.authenticate(token));
      if (!owner) throw errors.unknownToken();
      if (owner.locked && !lockAllows(method, url)) throw userLocked();
      // The one place guests are kept to the endpoints the spec allows them.
      if (owner.isGuest && !options.guest) throw errors.guestAccessForbidden();
      if (options.admin && !(await isServerAdmin(owner.userId))) {
        throw errors.forbidden('You are not a server admin');
      }
      request.owner = owner;
      // As Synapse by default: a service's requests are not tracked as its users' devices' use.
      if (!service) sessions.touch(owner, request.ip, request.headers['user-agent']);
    };
  }
}

/** `Authorization: Bearer …` or the `access_token` query parameter (still required up to v1.19). */
export function accessTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw errors.missingToken();
    return match[1];
  }
  const query = (request.query as Record<string, unknown> | undefined)?.access_token;
  if (query === undefined) return undefined;
  if (typeof query !== 'string' || query === '') throw errors.missingToken();
  return query;
}

/** The authenticated owner on a route registered with `auth: 'required'`. */
export function ownerOf(request: FastifyRequest): TokenOwner {
  if (!request.owner) throw errors.missingToken();
  return request.owner;
}
