/**
 * URL previews' pure rules: which content is previewed, the character set of
 * an HTML page, and the OpenGraph object built from it. Modelled on Synapse's
 * synapse/media/preview_html.py (the spec says only "OpenGraph data"): og:*,
 * article:* and profile:* meta tags, twitter:* ones where og:* says nothing,
 * then the page's title, image and text as fallbacks. Parsed with htmlparser2,
 * a tolerant streaming parser: no DOM is built, so a large page costs little.
 */
import { Parser } from 'htmlparser2';

export type OpenGraph = Record<string, string | number | null>;

/** Synapse's limits: longer keys or values are dropped, pages with more tags give none. */
const MAX_TAG_NAME_LENGTH = 50;
const MAX_TAG_VALUE_LENGTH = 1000;
const MAX_TAGS_PER_PREFIX = 50;
const OPEN_GRAPH_PREFIXES = ['og:', 'article:', 'profile:'];
/** Text never shown as the page's content, or only to old browsers. */
const SKIPPED_TEXT_TAGS = new Set([
  'header',
  'nav',
  'aside',
  'footer',
  'script',
  'noscript',
  'style',
  'svg',
  'iframe',
  'video',
  'canvas',
  'img',
  'picture',
]);
const SKIPPED_ARIA_ROLES = new Set(['directory', 'menu', 'menubar', 'toolbar']);
const TITLE_TAGS = new Set(['title', 'h1', 'h2', 'h3']);
const VOID_TAGS = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'source',
  'track',
  'wbr',
]);

export function isImageType(contentType: string): boolean {
  return contentType.trim().toLowerCase().startsWith('image/');
}

export function isHtmlType(contentType: string): boolean {
  return /^\s*(text\/html|application\/xhtml)/i.test(contentType);
}

/**
 * Synapse's order (after BeautifulSoup's): a <meta charset> in the first
 * kilobyte, an XML declaration's encoding, the Content-Type's charset, then
 * UTF-8, then windows-1252 (which decodes anything).
 */
export function htmlEncodingCandidates(
  body: Uint8Array,
  contentType: string | undefined,
): string[] {
  const start = Buffer.from(body.subarray(0, 1024)).toString('latin1');
  const candidates = [
    /<\s*meta[^>]*charset\s*=\s*["']?([a-z0-9_-]+)/i.exec(start)?.[1],
    /^\s*<\s*\?\s*xml[^>]*encoding=["']([a-z0-9_-]+)["']/i.exec(start)?.[1],
    /;\s*charset\s*=\s*["']?([^"';\s]+)/i.exec(contentType ?? '')?.[1],
    'utf-8',
    'windows-1252',
  ];
  return [...new Set(candidates.filter((c): c is string => !!c).map((c) => c.toLowerCase()))];
}

/** The page as text in the first candidate encoding that decodes it without error. */
export function decodeHtml(body: Uint8Array, contentType: string | undefined): string {
  for (const label of htmlEncodingCandidates(body, contentType)) {
    try {
      return new TextDecoder(label, { fatal: true }).decode(body);
    } catch {
      // An unknown label (RangeError) or bytes invalid in it (TypeError): the next one.
    }
  }
  // Unreachable: windows-1252 maps every byte.
  return new TextDecoder('windows-1252').decode(body);
}

/** What one pass over the page collects. */
interface PageFacts {
  metaTags: Record<string, string>[];
  title: string | undefined;
  images: { src: string; width: number; height: number }[];
  icon: string | undefined;
  paragraphs: string[];
}

/** Walks the page once, keeping what `openGraphFromHtml` may need. */
function collectPageFacts(html: string): PageFacts {
  const facts: PageFacts = {
    metaTags: [],
    title: undefined,
    images: [],
    icon: undefined,
    paragraphs: [],
  };
  const open: { name: string; skipsText: boolean }[] = [];
  let inBody = false;
  let titleText: string | undefined;
  // The parser may hand one text node over in pieces: they are joined up to the next tag.
  let bodyText = '';
  const endTextNode = () => {
    if (bodyText !== '') facts.paragraphs.push(bodyText);
    bodyText = '';
  };
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        endTextNode();
        if (name === 'meta') facts.metaTags.push(attributes);
        if (name === 'img' && attributes.src) facts.images.push(imageOf(attributes));
        if (name === 'link' && attributes.href && /icon/i.test(attributes.rel ?? '')) {
          facts.icon ??= attributes.href;
        }
        if (name === 'body') inBody = true;
        if (facts.title === undefined && TITLE_TAGS.has(name)) titleText = '';
        if (VOID_TAGS.has(name)) return;
        const skipsText =
          SKIPPED_TEXT_TAGS.has(name) || SKIPPED_ARIA_ROLES.has(attributes.role ?? '');
        open.push({ name, skipsText });
      },
      ontext(text) {
        if (titleText !== undefined) titleText += text;
        if (inBody && !open.some((tag) => tag.skipsText)) bodyText += text;
      },
      onclosetag(name) {
        endTextNode();
        if (titleText !== undefined && TITLE_TAGS.has(name)) {
          if (titleText.trim() !== '') facts.title = titleText.trim();
          titleText = undefined;
        }
        const at = open.map((tag) => tag.name).lastIndexOf(name);
        if (at >= 0) open.length = at;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.end(html);
  endTextNode();
  return facts;
}

function imageOf(attributes: Record<string, string>) {
  const width = Number(attributes.width);
  const height = Number(attributes.height);
  return {
    src: attributes.src!,
    width: Number.isFinite(width) ? width : 0,
    height: Number.isFinite(height) ? height : 0,
  };
}

/** The meta tags whose `attribute` starts with `prefix`, as key → content. */
function metaTagsWith(tags: Record<string, string>[], attribute: string, prefix: string) {
  const found: Record<string, string> = {};
  let count = 0;
  for (const tag of tags) {
    const key = tag[attribute];
    if (!key?.startsWith(prefix) || !tag.content) continue;
    // Synapse gives up on pages stuffed with tags rather than pick some of them.
    if (++count > MAX_TAGS_PER_PREFIX) return {};
    found[key] = tag.content;
  }
  return found;
}

/** twitter:* keys as og:* ones (twitter:card and twitter:creator have no counterpart). */
function twitterAsOpenGraph(tags: Record<string, string>[]): Record<string, string> {
  const mapped: Record<string, string> = {};
  for (const [key, value] of Object.entries(metaTagsWith(tags, 'name', 'twitter:'))) {
    if (key === 'twitter:card' || key === 'twitter:creator') continue;
    mapped[key === 'twitter:site' ? 'og:site_name' : `og:${key.slice('twitter:'.length)}`] = value;
  }
  return mapped;
}

/** The OpenGraph object of an HTML page (og:image still the page's own URL for it). */
export function openGraphFromHtml(html: string): OpenGraph {
  const facts = collectPageFacts(html);
  const og: OpenGraph = {};
  for (const prefix of OPEN_GRAPH_PREFIXES)
    Object.assign(og, metaTagsWith(facts.metaTags, 'property', prefix));
  for (const [key, value] of Object.entries(twitterAsOpenGraph(facts.metaTags))) og[key] ??= value;
  if (!('og:title' in og)) og['og:title'] = facts.title ?? null;
  if (!('og:image' in og)) {
    const image = fallbackImage(facts);
    if (image !== undefined) og['og:image'] = image;
  }
  if (!('og:description' in og)) {
    og['og:description'] = metaNamed(facts.metaTags, 'description') ?? summarize(facts.paragraphs);
  } else if (typeof og['og:description'] === 'string') {
    og['og:description'] = summarize([og['og:description']]);
  }
  return og;
}

function metaNamed(tags: Record<string, string>[], name: string, attribute = 'name') {
  return tags.find((tag) => tag[attribute]?.toLowerCase() === name && tag.content)?.content;
}

/** An itemprop image, else the largest <img> over 10×10, else the first, else the favicon. */
function fallbackImage(facts: PageFacts): string | undefined {
  const itemprop = metaNamed(facts.metaTags, 'image', 'itemprop');
  if (itemprop) return itemprop;
  const sized = facts.images.filter((image) => image.width > 10 && image.height > 10);
  sized.sort((a, b) => b.width * b.height - a.width * a.height);
  return sized[0]?.src ?? facts.images[0]?.src ?? facts.icon;
}

/**
 * Synapse's summarize_paragraphs: paragraphs until 200 characters, then cut at a
 * word boundary before 500 with an ellipsis; null for no text.
 */
export function summarize(paragraphs: string[], minSize = 200, maxSize = 500): string | null {
  let description = '';
  for (const paragraph of paragraphs) {
    const text = paragraph.replace(/\s+/g, ' ').trim();
    if (text === '') continue;
    if (description.length >= minSize) break;
    description += `${text}\n\n`;
  }
  description = description.trim();
  if (description.length > maxSize) {
    let cut = '';
    for (const [word] of description.matchAll(/\s*\S+/g)) {
      if (word.length + cut.length < maxSize) cut += word;
      else {
        if (cut.length < minSize) cut += word;
        break;
      }
    }
    description = `${cut.slice(0, maxSize).trim()}…`;
  }
  return description === '' ? null : description;
}

/** Drops keys and values too long to be real metadata (Synapse's pruning). */
export function pruneOverlong(og: OpenGraph): OpenGraph {
  return Object.fromEntries(
    Object.entries(og).filter(
      ([key, value]) =>
        key.length <= MAX_TAG_NAME_LENGTH && String(value).length <= MAX_TAG_VALUE_LENGTH,
    ),
  );
}
