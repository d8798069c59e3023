import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  contentDisposition,
  downloadDisposition,
  isInlineSafe,
  parseRange,
  uploadContentType,
} from '../../src/media/headers.js';
import { normalizeRequest, planResize, thumbnailFormat } from '../../src/media/thumbnail-plan.js';

describe('media headers', () => {
  it('inlines only the spec safe types, whatever their parameters and case', () => {
    assert.ok(isInlineSafe('image/PNG'));
    assert.ok(isInlineSafe('text/plain; charset=utf-8'));
    for (const type of [
      'text/html',
      'image/svg+xml',
      'application/javascript',
      'application/pdf',
    ]) {
      assert.equal(isInlineSafe(type), false, type);
      assert.equal(downloadDisposition(type, null), 'attachment');
    }
  });

  it('writes file names as RFC 6266 asks', () => {
    assert.equal(contentDisposition('inline', null), 'inline');
    assert.equal(contentDisposition('inline', ''), 'inline');
    assert.equal(contentDisposition('inline', 'a b.png'), 'inline; filename="a b.png"');
    assert.equal(contentDisposition('attachment', 'x"\\y'), 'attachment; filename="x\\"\\\\y"');
    assert.equal(
      contentDisposition('attachment', "naïve's\n"),
      "attachment; filename*=utf-8''na%C3%AFve%27s%0A",
    );
  });

  it('keeps well-formed upload types and defaults the rest', () => {
    assert.equal(uploadContentType('image/png'), 'image/png');
    assert.equal(uploadContentType(' text/plain; charset=utf-8 '), 'text/plain; charset=utf-8');
    for (const bad of [undefined, '', 'nonsense', 'text/plain\u00e9', 'a/b/c']) {
      assert.equal(uploadContentType(bad), 'application/octet-stream', String(bad));
    }
  });

  it('reads single byte ranges and ignores what it cannot serve', () => {
    assert.deepEqual(parseRange('bytes=0-0', 10), { start: 0, end: 0 });
    assert.deepEqual(parseRange('bytes=5-', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRange('bytes=-4', 10), { start: 6, end: 9 });
    assert.deepEqual(parseRange('bytes=-40', 10), { start: 0, end: 9 });
    assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable');
    for (const ignored of [undefined, 'items=0-1', 'bytes=0-1,3-4', 'bytes=5-2', 'bytes=-']) {
      assert.equal(parseRange(ignored, 10), undefined, String(ignored));
    }
  });
});

describe('thumbnail plans', () => {
  it('answers from the smallest preset that does not fall short', () => {
    assert.deepEqual(normalizeRequest({ width: 20, height: 20, method: 'crop' }), {
      width: 32,
      height: 32,
      method: 'crop',
    });
    assert.deepEqual(normalizeRequest({ width: 300, height: 300, method: 'scale' }), {
      width: 640,
      height: 480,
      method: 'scale',
    });
    // A crop of another aspect ratio, or beyond the presets, is made as asked.
    const wide = { width: 60, height: 30, method: 'crop' } as const;
    assert.deepEqual(normalizeRequest(wide), wide);
    const huge = { width: 1600, height: 1200, method: 'scale' } as const;
    assert.deepEqual(normalizeRequest(huge), huge);
  });

  it('scales to cover the request, crops to it, and never upscales', () => {
    const source = { width: 1000, height: 800 };
    assert.deepEqual(planResize(source, { width: 320, height: 240, method: 'scale' }), {
      kind: 'resize',
      size: { width: 320, height: 256 },
      fit: 'fill',
    });
    assert.deepEqual(planResize(source, { width: 96, height: 96, method: 'crop' }), {
      kind: 'resize',
      size: { width: 96, height: 96 },
      fit: 'cover',
    });
    assert.deepEqual(planResize(source, { width: 1000, height: 10, method: 'scale' }), {
      kind: 'original',
    });
    assert.deepEqual(planResize(source, { width: 2000, height: 2000, method: 'crop' }), {
      kind: 'original',
    });
    // Float noise never makes a side one pixel short.
    const odd = planResize(
      { width: 999, height: 333 },
      { width: 333, height: 111, method: 'scale' },
    );
    assert.deepEqual(odd, { kind: 'resize', size: { width: 333, height: 111 }, fit: 'fill' });
  });

  it('animates only when asked and the source moves', () => {
    assert.equal(thumbnailFormat('image/gif', true, true), 'webp');
    assert.equal(thumbnailFormat('image/gif', true, false), 'png');
    assert.equal(thumbnailFormat('image/jpeg', false, true), 'jpeg');
    assert.equal(thumbnailFormat('image/webp', false, false), 'png');
  });
});
