/**
 * Third-party networks (client-server "Third-party Networks"): the protocols the
 * registered application services bridge to, and lookups of their users and
 * locations. The homeserver holds no such data itself: it asks the providers —
 * the application services, once they are hosted (src/appservice/ will supply
 * one) — and merges their answers. With none registered: no protocols, nothing
 * found.
 */
import type { JsonObject } from '../events/pdu.js';
import { errors } from '../protocol/errors.js';

/** The lookup fields of a query: the query string, `access_token` left out. */
export type LookupFields = Record<string, string>;

/**
 * What one source of third-party data answers (an application service, say).
 * Each method answers for the protocols the provider claims; the service only
 * calls it for those.
 */
export interface ThirdPartyProvider {
  /** The protocols it serves, by name, as the spec's Protocol objects. */
  protocols(): Promise<Record<string, JsonObject>>;
  /** Portal rooms of a protocol matching the fields (the spec's Location objects). */
  locations(protocol: string, fields: LookupFields): Promise<JsonObject[]>;
  /** Third-party users of a protocol matching the fields (the spec's User objects). */
  users(protocol: string, fields: LookupFields): Promise<JsonObject[]>;
  /** Locations a Matrix room alias stands for. */
  locationsForAlias(alias: string): Promise<JsonObject[]>;
  /** Third-party users a Matrix user ID stands for. */
  usersForUserId(userId: string): Promise<JsonObject[]>;
}

/** No application services: what the server answers until they exist. */
export const NO_PROVIDERS: () => readonly ThirdPartyProvider[] = () => [];

export class ThirdPartyService {
  /** `providers`: asked at each call, so services registered later count at once. */
  constructor(private readonly providers: () => readonly ThirdPartyProvider[] = NO_PROVIDERS) {}

  /** Every provider's protocols; the first provider to claim a name describes it. */
  async protocols(): Promise<Record<string, JsonObject>> {
    const merged: Record<string, JsonObject> = {};
    for (const provider of this.providers()) {
      for (const [name, protocol] of Object.entries(await provider.protocols())) {
        if (!Object.hasOwn(merged, name)) Object.defineProperty(merged, name, entry(protocol));
      }
    }
    return merged;
  }

  /** One protocol's description; 404 M_NOT_FOUND for one nobody serves. */
  async protocol(name: string): Promise<JsonObject> {
    const protocols = await this.protocols();
    // hasOwn: a name like `__proto__` is a protocol nobody serves, not the object's prototype.
    if (!Object.hasOwn(protocols, name)) throw unknownProtocol(name);
    return protocols[name]!;
  }

  async locations(protocol: string, fields: LookupFields): Promise<JsonObject[]> {
    const serving = await this.servingOrThrow(protocol);
    return concat(serving.map((provider) => provider.locations(protocol, fields)));
  }

  async users(protocol: string, fields: LookupFields): Promise<JsonObject[]> {
    const serving = await this.servingOrThrow(protocol);
    return concat(serving.map((provider) => provider.users(protocol, fields)));
  }

  /** As Synapse: an empty list when nothing is found (the spec's 404 is not sent). */
  locationsForAlias(alias: string): Promise<JsonObject[]> {
    return concat(this.providers().map((provider) => provider.locationsForAlias(alias)));
  }

  usersForUserId(userId: string): Promise<JsonObject[]> {
    return concat(this.providers().map((provider) => provider.usersForUserId(userId)));
  }

  /**
   * The providers serving a protocol; 404 when none does. Synapse answers 200 `[]`
   * for an unknown protocol; the spec's 404 says more, and clients handle both.
   */
  private async servingOrThrow(protocol: string): Promise<ThirdPartyProvider[]> {
    const serving: ThirdPartyProvider[] = [];
    for (const provider of this.providers()) {
      if (Object.hasOwn(await provider.protocols(), protocol)) serving.push(provider);
    }
    if (serving.length === 0) throw unknownProtocol(protocol);
    return serving;
  }
}

/** A plain data property, whatever the name (even `__proto__`). */
function entry(value: JsonObject): PropertyDescriptor {
  return { value, enumerable: true, writable: true, configurable: true };
}

function unknownProtocol(name: string) {
  return errors.notFound(`Unknown protocol: ${name}`);
}

async function concat(answers: Promise<JsonObject[]>[]): Promise<JsonObject[]> {
  return (await Promise.all(answers)).flat();
}
