/**
 * What a thumbnail request turns into, pure: which size to make (a preset when
 * one fits, so the cache stays small), how to resize, and in which format.
 *
 * The spec's rules: `scale` keeps the source's aspect ratio, `crop` gives the
 * requested one; the result is never smaller than requested unless the source
 * is, and never upscaled: when the source is no larger than needed it is
 * served itself.
 */

export type ThumbnailMethod = 'scale' | 'crop';

export interface Size {
  width: number;
  height: number;
}

export interface ThumbnailSpec extends Size {
  method: ThumbnailMethod;
}

/** The sizes clients usually ask for (the spec's list): made right after an upload. */
export const PRESET_THUMBNAILS: readonly ThumbnailSpec[] = [
  { width: 32, height: 32, method: 'crop' },
  { width: 96, height: 96, method: 'crop' },
  { width: 320, height: 240, method: 'scale' },
  { width: 640, height: 480, method: 'scale' },
  { width: 800, height: 600, method: 'scale' },
];

/** Source types Weft thumbnails; anything else is a 400. */
export const THUMBNAIL_SOURCE_TYPES: ReadonlySet<string> = new Set([
  'image/jpeg',
  'image/png',
  'image/apng',
  'image/gif',
  'image/webp',
]);

/**
 * The smallest preset that answers the request without falling short of it:
 * for `scale` any preset box covering the requested one; for `crop` only one of
 * the same aspect ratio. Otherwise the request itself.
 */
export function normalizeRequest(request: ThumbnailSpec): ThumbnailSpec {
  const fitting = PRESET_THUMBNAILS.filter(
    (preset) =>
      preset.method === request.method &&
      preset.width >= request.width &&
      preset.height >= request.height &&
      (request.method === 'scale' ||
        preset.width * request.height === preset.height * request.width),
  );
  return fitting[0] ?? request;
}

export type ResizePlan =
  /** The source is no larger than the request: serve it (or its first frame) as it is. */
  | { kind: 'original' }
  /** Resize to `size`: for `crop`, by covering it and cutting the overflow from the centre. */
  | { kind: 'resize'; size: Size; fit: 'fill' | 'cover' };

/** Rounds up, forgiving float noise, so the result is never a pixel short. */
const ceil = (value: number) => Math.max(1, Math.ceil(value - 1e-9));

export function planResize(source: Size, wanted: ThumbnailSpec): ResizePlan {
  // The scale factor at which the source just covers the requested box.
  const factor = Math.max(wanted.width / source.width, wanted.height / source.height);
  if (factor >= 1) return { kind: 'original' };
  if (wanted.method === 'crop') {
    return { kind: 'resize', size: { width: wanted.width, height: wanted.height }, fit: 'cover' };
  }
  const size = { width: ceil(source.width * factor), height: ceil(source.height * factor) };
  return { kind: 'resize', size, fit: 'fill' };
}

export type ThumbnailFormat = 'jpeg' | 'png' | 'webp';

export const FORMAT_CONTENT_TYPES: Readonly<Record<ThumbnailFormat, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};

/**
 * Animated output (WebP, as the spec prefers) only when asked for and the
 * source has frames; photos stay JPEG; the rest becomes PNG (lossless, alpha).
 */
export function thumbnailFormat(
  sourceType: string,
  animatedSource: boolean,
  animatedWanted: boolean,
): ThumbnailFormat {
  if (animatedSource && animatedWanted) return 'webp';
  return sourceType === 'image/jpeg' ? 'jpeg' : 'png';
}
