/**
 * Thumbnails with sharp (libvips): made on demand or right after an upload,
 * cached as files under thumbnails/<id>/, one per size, method and animation.
 *
 * Decompression bombs: the image header is read first and an image whose
 * pixels (all frames together) exceed the limit is refused before decoding;
 * sharp's own `limitInputPixels` backs that up while decoding.
 *
 * sharp (libvips and its libraries) is loaded at the first thumbnail, not at
 * start: loading it took ~9 MiB of RSS and ~0.07 s of every start, and a
 * server may never be asked for a thumbnail.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Metadata, Sharp } from 'sharp';
import { MatrixError } from '../protocol/errors.js';
import {
  FORMAT_CONTENT_TYPES,
  normalizeRequest,
  planResize,
  thumbnailFormat,
  type Size,
  type ThumbnailFormat,
  type ThumbnailSpec,
} from './thumbnail-plan.js';

type SharpFactory = (typeof import('sharp'))['default'];

let loading: Promise<SharpFactory> | undefined;

/** sharp, loaded once, on first use. */
function loadSharp(): Promise<SharpFactory> {
  loading ??= import('sharp').then(({ default: sharp }) => {
    // libvips' operation cache keeps decoded images around: not wanted for one-off files.
    sharp.cache(false);
    return sharp;
  });
  return loading;
}

export interface ThumbnailRequest extends ThumbnailSpec {
  animated: boolean;
}

export interface ThumbnailSource {
  /** The media ID, naming its thumbnail folder. */
  mediaId: string;
  file: string;
  contentType: string;
  thumbnailDir: string;
}

/** A file to send: the cached thumbnail, or the source itself when it is small enough. */
export interface ThumbnailFile {
  file: string;
  contentType: string;
}

interface SourceInfo extends Size {
  animated: boolean;
}

export const cannotThumbnail = () =>
  new MatrixError(400, 'M_UNKNOWN', 'Cannot generate thumbnails for the requested content');
export const tooLargeToThumbnail = () =>
  new MatrixError(413, 'M_TOO_LARGE', 'Content is too large to thumbnail');

export class Thumbnailer {
  /** Thumbnails being made, by cache file stem: two requests for one share the work. */
  private readonly inFlight = new Map<string, Promise<ThumbnailFile>>();

  constructor(
    private readonly maxSourcePixels: number,
    private readonly tempPath: () => string,
  ) {}

  async thumbnail(source: ThumbnailSource, request: ThumbnailRequest): Promise<ThumbnailFile> {
    const spec = normalizeRequest(request);
    const stem = `${spec.width}x${spec.height}-${spec.method}-${request.animated ? 'a' : 's'}`;
    const cached = await findCached(source.thumbnailDir, stem);
    if (cached) return cached;
    const key = `${source.mediaId}/${stem}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.make(source, { ...spec, animated: request.animated }, stem).finally(() =>
        this.inFlight.delete(key),
      );
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async make(
    source: ThumbnailSource,
    request: ThumbnailRequest,
    stem: string,
  ): Promise<ThumbnailFile> {
    const info = await this.inspect(source.file);
    const plan = planResize(info, request);
    const animate = info.animated && request.animated;
    // Served as it is only when that cannot hand out animation nobody asked for.
    if (plan.kind === 'original' && (!info.animated || request.animated)) {
      return { file: source.file, contentType: source.contentType };
    }
    const format = thumbnailFormat(source.contentType, info.animated, request.animated);
    const sharp = await loadSharp();
    let image = sharp(source.file, {
      animated: animate,
      limitInputPixels: this.maxSourcePixels,
    }).rotate();
    if (plan.kind === 'resize') {
      image = image.resize(plan.size.width, plan.size.height, { fit: plan.fit });
    }
    const target = path.join(source.thumbnailDir, `${stem}.${format}`);
    await this.write(encode(image, format), target);
    return { file: target, contentType: FORMAT_CONTENT_TYPES[format] };
  }

  /** Size (after EXIF rotation) and animation, from the header alone. */
  private async inspect(file: string): Promise<SourceInfo> {
    const sharp = await loadSharp();
    let meta: Metadata;
    try {
      meta = await sharp(file, { animated: true, limitInputPixels: false }).metadata();
    } catch {
      throw cannotThumbnail();
    }
    const { width, height } = meta;
    if (!width || !height) throw cannotThumbnail();
    // With animated: true, height is that of every frame stacked.
    if (width * height > this.maxSourcePixels) throw tooLargeToThumbnail();
    const pages = meta.pages ?? 1;
    const frameHeight = meta.pageHeight ?? height;
    const rotated = (meta.orientation ?? 1) >= 5;
    return {
      width: rotated ? frameHeight : width,
      height: rotated ? width : frameHeight,
      animated: pages > 1,
    };
  }

  /** Encodes to a temporary file, then renames it into the cache. */
  private async write(image: Sharp, target: string): Promise<void> {
    await mkdir(path.dirname(target), { recursive: true });
    const temp = this.tempPath();
    try {
      await image.toFile(temp);
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw toThumbnailError(err);
    }
  }
}

function encode(image: Sharp, format: ThumbnailFormat): Sharp {
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality: 80 });
    case 'png':
      return image.png();
    case 'webp':
      return image.webp({ quality: 80 });
  }
}

/** libvips' refusals are the image's fault (400), a tripped pixel limit is 413. */
function toThumbnailError(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) return tooLargeToThumbnail();
  if (/ENOENT|ENOSPC|EACCES|EIO/.test(message)) return err as Error;
  return cannotThumbnail();
}

const EXTENSION_TYPES: Readonly<Record<string, string>> = {
  '.jpeg': FORMAT_CONTENT_TYPES.jpeg,
  '.png': FORMAT_CONTENT_TYPES.png,
  '.webp': FORMAT_CONTENT_TYPES.webp,
};

async function findCached(dir: string, stem: string): Promise<ThumbnailFile | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const ext = path.extname(name);
    const contentType = EXTENSION_TYPES[ext];
    if (contentType && name.slice(0, -ext.length) === stem) {
      return { file: path.join(dir, name), contentType };
    }
  }
  return undefined;
}
