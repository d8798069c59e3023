/**
 * URL previews: the page a client names, fetched by the server through the
 * safe fetcher (net/safe-fetch.ts) and summarised as OpenGraph; its image (or
 * the URL itself, when it is an image) stored as local media and named by its
 * mxc:// URI. Results are kept an hour in memory, and requests for a URL being
 * fetched wait for that fetch rather than start another. See docs/url-previews.md.
 */
import { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { LookupAddress } from 'node:dns';
import type { Logger } from 'pino';
import type { UrlPreviewConfig } from '../config/config.js';
import { MatrixError, errors } from '../protocol/errors.js';
import { LruCache } from '../util/lru-cache.js';
import { AddressPolicy } from '../net/address-rules.js';
import { OutboundError, parseHttpUrl, safeFetch, type FetchedResponse } from '../net/safe-fetch.js';
import { uploadContentType } from './headers.js';
import type { MediaService } from './media-service.js';
import {
  decodeHtml,
  isHtmlType,
  isImageType,
  openGraphFromHtml,
  pruneOverlong,
  type OpenGraph,
} from './url-preview-rules.js';

/** Synapse keeps previews an hour in memory too. */
const CACHE_TTL_MS = 60 * 60 * 1000;
const CACHE_ENTRIES = 1000;
/** Some sites give OpenGraph only to crawlers; no version, to say little about the server. */
const USER_AGENT = 'Weft (bot; URL previews)';

interface CachedPreview {
  expiresTs: number;
  preview: Promise<OpenGraph>;
}

export interface UrlPreviewDeps {
  config: UrlPreviewConfig;
  media: MediaService;
  logger: Logger;
  /** Name resolution for the fetcher (tests); dns.lookup by default. */
  resolve?: (host: string) => Promise<LookupAddress[]>;
  now?: () => number;
}

export class UrlPreviewService {
  private readonly policy: AddressPolicy;
  private readonly cache = new LruCache<string, CachedPreview>(CACHE_ENTRIES);
  private readonly now: () => number;

  constructor(private readonly deps: UrlPreviewDeps) {
    this.policy = new AddressPolicy({
      extraDenied: deps.config.ip_range_blacklist,
      allowed: deps.config.ip_range_whitelist,
    });
    this.now = deps.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.deps.config.enabled;
  }

  /**
   * The preview of `url` for `userId` (who owns any media stored for it). `ts`
   * asks for an older preview; with only the last hour's kept, the current one
   * is answered, which the spec allows ("may return a newer version").
   */
  preview(userId: string, url: string, _ts: number): Promise<OpenGraph> {
    const target = previewTarget(url);
    const cached = this.cache.get(target.href);
    if (cached && cached.expiresTs > this.now()) return cached.preview;
    const preview = this.build(userId, target);
    const entry = { expiresTs: this.now() + CACHE_TTL_MS, preview };
    this.cache.set(target.href, entry);
    // Failures are not kept: the next request tries again.
    preview.catch(() => {
      if (this.cache.get(target.href) === entry) this.cache.delete(target.href);
    });
    return preview;
  }

  private async build(userId: string, url: URL): Promise<OpenGraph> {
    const page = await this.fetch(url, isPreviewable);
    const contentType = contentTypeOf(page.headers);
    if (isImageType(contentType)) {
      // Synapse's description of an image: the download's file name, not taken from remotes here.
      return pruneOverlong({ 'og:description': null, ...(await this.storeImage(userId, page)) });
    }
    // No Content-Type at all passes the check, as in Synapse, and previews as nothing.
    if (!isHtmlType(contentType)) return {};
    const og = openGraphFromHtml(decodeHtml(page.body, contentType));
    await this.attachImage(userId, og, page.url);
    return pruneOverlong(og);
  }

  /** og:image, a URL on the page, replaced by the mxc:// URI of its copy (or dropped). */
  private async attachImage(userId: string, og: OpenGraph, pageUrl: string): Promise<void> {
    const imageUrl = og['og:image'];
    delete og['og:image'];
    if (typeof imageUrl !== 'string' || imageUrl === '') return;
    try {
      const image = await this.fetch(parseHttpUrl(imageUrl, new URL(pageUrl)), isImageType);
      // An image without a Content-Type passes the check but is not known to be an image.
      if (!isImageType(contentTypeOf(image.headers))) return;
      Object.assign(og, await this.storeImage(userId, image));
    } catch (err) {
      // As Synapse: a preview without its image rather than no preview.
      this.deps.logger.debug({ reason: reasonOf(err) }, 'URL preview image not fetched');
    }
  }

  /** Stores an image as local media: its OpenGraph fields. */
  private async storeImage(userId: string, image: FetchedResponse): Promise<OpenGraph> {
    const contentType = uploadContentType(contentTypeOf(image.headers));
    const uri = await this.deps.media.storeFetched(userId, {
      body: Readable.from([image.body]),
      declaredLength: image.body.length,
      contentType,
      fileName: null,
    });
    const og: OpenGraph = {
      'og:image': uri,
      'og:image:type': contentType,
      'matrix:image:size': image.body.length,
    };
    const size = await imageDimensions(image.body);
    if (size) Object.assign(og, { 'og:image:width': size.width, 'og:image:height': size.height });
    return og;
  }

  private async fetch(url: URL, acceptType: (type: string) => boolean): Promise<FetchedResponse> {
    try {
      return await safeFetch(url.href, {
        policy: this.policy,
        maxBytes: this.deps.config.max_spider_size,
        timeoutMs: this.deps.config.timeout_ms,
        headers: { 'user-agent': USER_AGENT, 'accept-language': 'en' },
        checkResponse: (status, headers) => checkResponse(status, headers, acceptType),
        resolve: this.deps.resolve,
      });
    } catch (err) {
      throw previewError(err);
    }
  }
}

/** The `url` parameter as an http(s) URL, or 400 M_INVALID_PARAM. */
function previewTarget(url: string): URL {
  try {
    return parseHttpUrl(url);
  } catch (err) {
    throw errors.invalidParam(`url: ${(err as Error).message}`);
  }
}

/** Synapse previews HTML and images (and oEmbed JSON, which Weft does not do). */
function isPreviewable(contentType: string): boolean {
  return isHtmlType(contentType) || isImageType(contentType);
}

function contentTypeOf(headers: IncomingHttpHeaders): string {
  return headers['content-type'] ?? 'application/octet-stream';
}

/** Synapse's answers to a remote's status and content type: 502 M_UNKNOWN. */
function checkResponse(
  status: number,
  headers: IncomingHttpHeaders,
  acceptType: (type: string) => boolean,
): void {
  if (status < 200 || status > 299) throw errors.unknown(`Got error ${status}`, 502);
  if (headers['content-type'] !== undefined && !acceptType(headers['content-type'])) {
    throw errors.unknown(
      `Requested file's content type not allowed for this operation: ${contentTypeOf(headers)}`,
      502,
    );
  }
}

/**
 * Synapse's statuses and codes (synapse/media/url_previewer.py, http/client.py):
 * an IP address in the URL that is blocked 403; a name resolving to a blocked
 * address is indistinguishable from one that does not resolve, 502; too large
 * 502 M_TOO_LARGE; every other failure of the remote 502 M_UNKNOWN (Synapse
 * answers 500 for some, and M_TOO_LARGE for a timeout: Weft says what happened).
 */
function previewError(err: unknown): MatrixError {
  if (err instanceof MatrixError) return err;
  if (!(err instanceof OutboundError)) return errors.unknown('Failed to download content', 502);
  switch (err.reason) {
    case 'bad-url':
      return errors.unknown(err.message, 502);
    case 'blocked-ip-literal':
      return new MatrixError(403, 'M_UNKNOWN', 'IP address blocked');
    case 'blocked-address':
    case 'dns':
      return errors.unknown('DNS resolution failure during URL preview generation', 502);
    case 'too-large':
      return new MatrixError(502, 'M_TOO_LARGE', err.message);
    default:
      return errors.unknown(err.message, 502);
  }
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Width and height from the image's header (sharp, loaded at the first use), if it has one. */
async function imageDimensions(body: Buffer): Promise<{ width: number; height: number } | null> {
  try {
    const { default: sharp } = await import('sharp');
    const { width, height } = await sharp(body).metadata();
    return width && height ? { width, height } : null;
  } catch {
    return null;
  }
}

/** The service from the config (dns.lookup for names). */
export function buildUrlPreviewService(
  config: UrlPreviewConfig,
  media: MediaService,
  logger: Logger,
): UrlPreviewService {
  return new UrlPreviewService({ config, media, logger });
}
