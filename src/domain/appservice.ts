/**
 * An application service's registration (the YAML file a bridge generates), as
 * Weft holds it once read and checked: see appservice/registration-rules.ts.
 */

/** One namespace entry: a regular expression over user IDs, aliases or room IDs. */
export interface AppServiceNamespace {
  /** The registration's pattern, as written (for messages and the admin API). */
  source: string;
  /** Matches from the start of the string (Synapse uses Python's re.match). */
  regex: RegExp;
  /** Others may not claim what an exclusive namespace matches. */
  exclusive: boolean;
}

export interface AppServiceNamespaces {
  users: AppServiceNamespace[];
  aliases: AppServiceNamespace[];
  rooms: AppServiceNamespace[];
}

export interface AppServiceRegistration {
  /** Unique among the registrations; the ping endpoint names it. */
  id: string;
  /** Where transactions and queries go; null: the service receives nothing. */
  url: string | null;
  /** The service's own token towards Weft. */
  asToken: string;
  /** Weft's token towards the service. */
  hsToken: string;
  /** The localpart of the service's own user. */
  senderLocalpart: string;
  namespaces: AppServiceNamespaces;
  /** Whether the users it masquerades as are rate limited (absent: true, as Synapse). */
  rateLimited: boolean;
  /** Third-party protocols the service bridges (for /thirdparty). */
  protocols: string[];
  /** Ephemeral events (typing, receipts, presence) in transactions, and which field carries them. */
  ephemeral: 'none' | 'stable' | 'msc2409';
  /** MSC3202: device lists and one-time key counts for end-to-bridge encryption. */
  msc3202: boolean;
  /** MSC4190: the service manages its users' devices without UIA. */
  msc4190: boolean;
  /** The file it was read from, for messages. */
  file: string;
}
