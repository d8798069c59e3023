/**
 * The `support` section: who runs the server and where its users find help,
 * served at GET /.well-known/matrix/support (v1.10, MSC1929). Checked at start-up
 * so a typo stops the server with a message instead of serving a wrong answer.
 */

export interface SupportContact {
  /** A Matrix user ID, possibly on another server (reachable when this one is down). */
  matrix_id?: string;
  email_address?: string;
  /** `m.role.admin`, `m.role.security`, or a namespaced role of one's own (`org.example.role`). */
  role: string;
}

export interface SupportConfig {
  /** Ways to reach the administrators; with none and no support_page the endpoint answers 404. */
  contacts: SupportContact[];
  /** A page of help for this server's users (a URL). */
  support_page: string | null;
}

export const DEFAULT_SUPPORT: SupportConfig = { contacts: [], support_page: null };

const CONTACT_KEYS = new Set(['matrix_id', 'email_address', 'role']);
const SPEC_ROLES = new Set(['m.role.admin', 'm.role.security']);
/** The spec's namespaced identifiers: a Java-package-like name outside the `m.` namespace. */
const NAMESPACED = /^(?!m\.)[a-z0-9-]+(\.[a-z0-9_-]+)+$/i;
/** `@localpart:server`, the historical grammar: a loose check, enough to catch a typo. */
const MATRIX_ID = /^@[\x21-\x39\x3B-\x7E]+:[A-Za-z0-9.\-[\]:]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Problems with the section, each naming the field; empty when it is good. */
export function supportConfigProblems(support: SupportConfig): string[] {
  const problems: string[] = [];
  if (!Array.isArray(support.contacts)) return ['support.contacts must be a list'];
  support.contacts.forEach((contact, index) => {
    problems.push(...contactProblems(contact, `support.contacts[${index}]`));
  });
  const page = support.support_page;
  if (page !== null && !isHttpUrl(page)) {
    problems.push('support.support_page must be an http(s) URL or null');
  }
  return problems;
}

function contactProblems(contact: unknown, where: string): string[] {
  if (typeof contact !== 'object' || contact === null || Array.isArray(contact)) {
    return [`${where} must be a mapping with role and matrix_id and/or email_address`];
  }
  const fields = contact as Record<string, unknown>;
  const problems = Object.keys(fields)
    .filter((key) => !CONTACT_KEYS.has(key))
    .map((key) => `${where}: unknown option '${key}'`);
  const { role, matrix_id: matrixId, email_address: email } = fields;
  if (typeof role !== 'string' || !(SPEC_ROLES.has(role) || NAMESPACED.test(role))) {
    problems.push(`${where}.role must be m.role.admin, m.role.security or a namespaced role`);
  }
  if (matrixId === undefined && email === undefined) {
    problems.push(`${where} needs a matrix_id or an email_address`);
  }
  if (matrixId !== undefined && (typeof matrixId !== 'string' || !MATRIX_ID.test(matrixId))) {
    problems.push(`${where}.matrix_id must be a Matrix user ID (@user:server)`);
  }
  if (email !== undefined && (typeof email !== 'string' || !EMAIL.test(email))) {
    problems.push(`${where}.email_address must be an email address`);
  }
  return problems;
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/** The endpoint's answer, or undefined when nothing is configured (404). */
export function supportAnswer(support: SupportConfig): Record<string, unknown> | undefined {
  const answer: Record<string, unknown> = {};
  if (support.contacts.length > 0) answer.contacts = support.contacts;
  if (support.support_page !== null) answer.support_page = support.support_page;
  return Object.keys(answer).length > 0 ? answer : undefined;
}
