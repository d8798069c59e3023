/**
 * The media workloads (issue 9): upload and download throughput of a 10 MB
 * file, and thumbnails of fresh 2-megapixel JPEGs. Bodies go over node's fetch
 * on keep-alive connections; setup (one account) is not measured.
 */
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { percentile, registerUser, type Measurement } from './workloads.js';

export interface MediaOptions {
  /** Size of the file uploaded and downloaded, in bytes. */
  fileBytes: number;
  /** How many times it is uploaded, then downloaded. */
  transfers: number;
  /** How many distinct JPEGs are uploaded and thumbnailed. */
  images: number;
  prefix?: string;
}

export interface MediaResult {
  /** Rates are MB/s (10^6 bytes). */
  upload: Measurement;
  download: Measurement;
  /**
   * Rate = thumbnails/s, each the first request for a fresh image's 320×240 thumbnail,
   * upload time excluded; latencies include the upload (one step each).
   */
  thumbnails: Measurement;
}

export async function mediaThroughput(
  baseUrl: string,
  options: MediaOptions,
): Promise<MediaResult> {
  const token = await registerUser(baseUrl, `${options.prefix ?? ''}media`, 'bench-password-media');
  const auth = { authorization: `Bearer ${token}` };
  const file = randomBytes(options.fileBytes);
  const uris: string[] = [];
  const upload = await timed(options.transfers, async () => {
    uris.push(await uploadBody(baseUrl, auth, file, 'application/octet-stream'));
  });
  let index = 0;
  const download = await timed(options.transfers, async () => {
    const response = await fetch(downloadUrl(baseUrl, uris[index++]!), { headers: auth });
    const bytes = (await response.arrayBuffer()).byteLength;
    if (!response.ok || bytes !== file.length) throw new Error(`download: ${response.status}`);
  });
  const megabytes = (options.fileBytes * options.transfers) / 1e6;
  const jpeg = await twoMegapixelJpeg();
  // Each image is uploaded (not timed) just before its thumbnail is asked for, so the
  // request waits for the generation the upload started: the time is generation time.
  let thumbnailSeconds = 0;
  const thumbnails = await timed(options.images, async () => {
    const uploadStart = performance.now();
    const mxc = await uploadBody(baseUrl, auth, jpeg, 'image/jpeg');
    thumbnailSeconds -= (performance.now() - uploadStart) / 1000;
    const response = await fetch(thumbnailUrl(baseUrl, mxc), { headers: auth });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`thumbnail: ${response.status}`);
  });
  thumbnailSeconds += thumbnails.seconds;
  return {
    upload: { ...upload, rate: megabytes / upload.seconds },
    download: { ...download, rate: megabytes / download.seconds },
    thumbnails: { ...thumbnails, rate: thumbnails.ok / thumbnailSeconds },
  };
}

async function uploadBody(
  baseUrl: string,
  auth: Record<string, string>,
  body: Buffer,
  contentType: string,
): Promise<string> {
  const response = await fetch(`${baseUrl}/_matrix/media/v3/upload`, {
    method: 'POST',
    headers: { ...auth, 'content-type': contentType },
    body: new Uint8Array(body),
  });
  const json = (await response.json()) as { content_uri?: string };
  if (!response.ok || !json.content_uri) throw new Error(`upload: ${response.status}`);
  return json.content_uri;
}

function mediaPath(mxc: string): string {
  return mxc.slice('mxc://'.length);
}

function downloadUrl(baseUrl: string, mxc: string): string {
  return `${baseUrl}/_matrix/client/v1/media/download/${mediaPath(mxc)}`;
}

function thumbnailUrl(baseUrl: string, mxc: string): string {
  return `${baseUrl}/_matrix/client/v1/media/thumbnail/${mediaPath(mxc)}?width=320&height=240&method=scale`;
}

/** A 1632×1224 (2.0 MP) JPEG with detail, so encoding and decoding do real work. */
async function twoMegapixelJpeg(): Promise<Buffer> {
  const width = 1632;
  const height = 1224;
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/** Runs `step` `count` times one after another; latencies per step. */
async function timed(count: number, step: () => Promise<void>): Promise<Measurement> {
  const latencies: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const sent = performance.now();
    await step();
    latencies.push(performance.now() - sent);
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    rate: count / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ok: count,
    failed: 0,
    seconds,
  };
}
