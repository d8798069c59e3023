/**
 * The application services as one provider of third-party networks
 * (thirdparty/thirdparty-service.ts): each question goes to the services whose
 * registration lists the protocol, concurrently, and the answers are merged as
 * Synapse merges them (synapse/handlers/appservice.py get_3pe_protocols,
 * query_3pe): a protocol's description from the first service answering, the
 * `instances` of all of them, each given an `instance_id` of
 * `{appservice id}|{network_id}`; lookups concatenated. Answers that are not
 * what the spec describes are left out, as Synapse's _is_valid_3pe_* checks do.
 *
 * The reverse lookups (`/thirdparty/location?alias=`, `/thirdparty/user?userid=`)
 * ask every service with a URL: Synapse matches them to no service, and
 * answers an empty list; the application service API defines them, so Weft asks.
 */
import type { Logger } from 'pino';
import type { AppServiceRegistration } from '../domain/appservice.js';
import type { JsonObject } from '../events/pdu.js';
import type { LookupFields, ThirdPartyProvider } from '../thirdparty/thirdparty-service.js';
import { APP_PREFIX, type AppServiceHttp } from './appservice-http.js';

/** Protocol descriptions change rarely: kept this long, as Synapse's protocol_meta_cache. */
const PROTOCOL_CACHE_MS = 5 * 60_000;
const LOOKUP_TIMEOUT_MS = 10_000;

type Kind = 'location' | 'user';
/** The field each result must carry (Synapse's required_field). */
const REQUIRED_FIELD: Record<Kind, string> = { location: 'alias', user: 'userid' };

export class AppServiceThirdParty implements ThirdPartyProvider {
  private readonly cache = new Map<string, { at: number; info: JsonObject | undefined }>();

  constructor(
    private readonly registrations: readonly AppServiceRegistration[],
    private readonly http: AppServiceHttp,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async protocols(): Promise<Record<string, JsonObject>> {
    const names = new Set(this.registrations.flatMap((registration) => registration.protocols));
    const merged: Record<string, JsonObject> = {};
    for (const name of names) {
      const infos = await Promise.all(
        this.serving(name).map((registration) => this.protocolOf(registration, name)),
      );
      const answered = infos.filter((info): info is JsonObject => info !== undefined);
      if (answered.length > 0) {
        Object.defineProperty(merged, name, {
          value: mergeInstances(answered),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
    return merged;
  }

  locations(protocol: string, fields: LookupFields): Promise<JsonObject[]> {
    return this.lookup(this.serving(protocol), 'location', protocol, fields);
  }

  users(protocol: string, fields: LookupFields): Promise<JsonObject[]> {
    return this.lookup(this.serving(protocol), 'user', protocol, fields);
  }

  locationsForAlias(alias: string): Promise<JsonObject[]> {
    return this.lookup(this.withUrl(), 'location', undefined, { alias });
  }

  usersForUserId(userId: string): Promise<JsonObject[]> {
    return this.lookup(this.withUrl(), 'user', undefined, { userid: userId });
  }

  private serving(protocol: string): AppServiceRegistration[] {
    return this.withUrl().filter((registration) => registration.protocols.includes(protocol));
  }

  private withUrl(): AppServiceRegistration[] {
    return this.registrations.filter((registration) => registration.url !== null);
  }

  private async protocolOf(
    registration: AppServiceRegistration,
    protocol: string,
  ): Promise<JsonObject | undefined> {
    const key = `${registration.id}\n${protocol}`;
    const cached = this.cache.get(key);
    if (cached && this.now() - cached.at < PROTOCOL_CACHE_MS) return cached.info;
    const answer = await this.get(
      registration,
      `${APP_PREFIX}/thirdparty/protocol/${encodeURIComponent(protocol)}`,
    );
    const info = isProtocol(answer) ? withInstanceIds(answer, registration.id) : undefined;
    this.cache.set(key, { at: this.now(), info });
    return info;
  }

  private async lookup(
    registrations: AppServiceRegistration[],
    kind: Kind,
    protocol: string | undefined,
    fields: LookupFields,
  ): Promise<JsonObject[]> {
    const path =
      `${APP_PREFIX}/thirdparty/${kind}` +
      (protocol === undefined ? '' : `/${encodeURIComponent(protocol)}`);
    const answers = await Promise.all(
      registrations.map((registration) => this.get(registration, path, fields)),
    );
    return answers.flatMap((answer) =>
      Array.isArray(answer)
        ? answer.filter((item): item is JsonObject => isResult(item, REQUIRED_FIELD[kind]))
        : [],
    );
  }

  /** The service's JSON answer on 2xx; undefined on anything else (logged). */
  private async get(
    registration: AppServiceRegistration,
    path: string,
    query?: LookupFields,
  ): Promise<unknown> {
    try {
      const response = await this.http.request(registration, {
        method: 'GET',
        path,
        timeoutMs: LOOKUP_TIMEOUT_MS,
        ...(query ? { query } : {}),
      });
      if (response.status >= 200 && response.status < 300) return response.json;
      this.logger.warn(
        { appservice: registration.id, status: response.status, path },
        'appservice: third-party lookup refused',
      );
    } catch (err) {
      this.logger.warn(
        { err, appservice: registration.id, path },
        'appservice: third-party lookup failed',
      );
    }
    return undefined;
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Synapse's _is_valid_3pe_metadata: an object whose `instances` is a list of objects. */
function isProtocol(value: unknown): value is JsonObject {
  return isObject(value) && Array.isArray(value.instances) && value.instances.every(isObject);
}

/** Synapse's _is_valid_3pe_result: the required field and `protocol` strings, `fields` an object. */
function isResult(value: unknown, field: string): boolean {
  return (
    isObject(value) &&
    typeof value[field] === 'string' &&
    typeof value.protocol === 'string' &&
    isObject(value.fields)
  );
}

function withInstanceIds(info: JsonObject, serviceId: string): JsonObject {
  const instances = (info.instances as JsonObject[]).map((instance) =>
    typeof instance.network_id === 'string'
      ? { ...instance, instance_id: `${serviceId}|${instance.network_id}` }
      : instance,
  );
  return { ...info, instances };
}

/** The first description, with every description's instances. */
function mergeInstances(infos: JsonObject[]): JsonObject {
  const instances = infos.flatMap((info) => info.instances as JsonObject[]);
  return { ...infos[0]!, instances };
}
