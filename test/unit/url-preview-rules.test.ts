/** URL previews' pure rules: OpenGraph from HTML, its fallbacks, character sets, pruning. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeHtml,
  htmlEncodingCandidates,
  isHtmlType,
  isImageType,
  openGraphFromHtml,
  pruneOverlong,
  summarize,
} from '../../src/media/url-preview-rules.js';

describe('OpenGraph from HTML', () => {
  it('takes og:, article: and profile: meta tags, entities decoded', () => {
    const og = openGraphFromHtml(`<!doctype html><html><head>
      <meta property="og:title" content="Tom &amp; Jerry">
      <meta property="og:description" content="A cat and a mouse">
      <meta property="og:image" content="/cover.png">
      <meta property="og:empty" content="">
      <meta property="article:author" content="Hanna">
      <meta name="og:ignored" content="names are not properties">
      <title>Not this</title></head><body><p>Nor this</p></body></html>`);
    assert.deepEqual(og, {
      'og:title': 'Tom & Jerry',
      'og:description': 'A cat and a mouse',
      'og:image': '/cover.png',
      'article:author': 'Hanna',
    });
  });

  it('maps twitter: tags where og: says nothing', () => {
    const og = openGraphFromHtml(`<meta name="twitter:title" content="From Twitter">
      <meta property="og:title" content="From OpenGraph">
      <meta name="twitter:description" content="Tweet-sized">
      <meta name="twitter:site" content="@weft">
      <meta name="twitter:card" content="summary">`);
    assert.equal(og['og:title'], 'From OpenGraph');
    assert.equal(og['og:description'], 'Tweet-sized');
    assert.equal(og['og:site_name'], '@weft');
    assert.equal(og['og:card'], undefined);
  });

  it('falls back to the title, meta description and the largest image', () => {
    const og = openGraphFromHtml(`<html><head><TITLE> The  page </TITLE>
      <meta name="Description" content="Described"></head><body>
      <img src="tiny.png" width="5" height="5">
      <img src="small.png" width="20" height="20">
      <img src="large.png" width="200" height="100">
      </body></html>`);
    assert.deepEqual(og, {
      'og:title': 'The  page',
      'og:description': 'Described',
      'og:image': 'large.png',
    });
  });

  it('uses the first heading, the first image and the body text when nothing else says', () => {
    const og = openGraphFromHtml(`<html><body>
      <nav>Home | About</nav><script>var x = "code";</script>
      <h1>Heading</h1><p>First   paragraph.</p><div role="menu">Menu</div><p>Second.</p>
      <img src="a.png"><img src="b.png"><footer>Footer</footer></body></html>`);
    assert.equal(og['og:title'], 'Heading');
    assert.equal(og['og:image'], 'a.png');
    assert.equal(og['og:description'], 'Heading\n\nFirst paragraph.\n\nSecond.');
  });

  it('answers null title and description for an empty page, and a favicon as the image', () => {
    const og = openGraphFromHtml(
      '<html><head><link rel="shortcut icon" href="/favicon.ico"></head></html>',
    );
    assert.deepEqual(og, { 'og:title': null, 'og:image': '/favicon.ico', 'og:description': null });
  });

  it('gives up on a page stuffed with more than 50 og: tags', () => {
    const tags = Array.from({ length: 51 }, (_, i) => `<meta property="og:k${i}" content="v">`);
    const og = openGraphFromHtml(`${tags.join('')}<title>T</title>`);
    assert.equal(og['og:k0'], undefined);
    assert.equal(og['og:title'], 'T');
  });

  it('copes with broken markup', () => {
    const og = openGraphFromHtml('<meta property="og:title" content="Unclosed <p><div><b>bold');
    assert.equal(typeof og, 'object');
    assert.ok('og:title' in og);
  });
});

describe('summaries and pruning', () => {
  it('cuts long text at a word boundary with an ellipsis', () => {
    const word = 'lorem ';
    const summary = summarize([word.repeat(200)])!;
    assert.ok(summary.length <= 501, String(summary.length));
    assert.ok(summary.endsWith('lorem…'));
    assert.equal(summarize(['  ', '']), null);
  });

  it('drops overlong keys and values', () => {
    const og = pruneOverlong({
      'og:title': 'x'.repeat(1001),
      ['og:' + 'k'.repeat(60)]: 'v',
      'og:ok': 3,
    });
    assert.deepEqual(og, { 'og:ok': 3 });
  });
});

describe('character sets', () => {
  it('prefers the meta charset, then the XML declaration, then the header, then UTF-8 and windows-1252', () => {
    const body = Buffer.from('<?xml version="1.0" encoding="ISO-8859-2"?><meta charset="koi8-r">');
    assert.deepEqual(htmlEncodingCandidates(body, 'text/html; charset="Shift_JIS"'), [
      'koi8-r',
      'iso-8859-2',
      'shift_jis',
      'utf-8',
      'windows-1252',
    ]);
    assert.deepEqual(htmlEncodingCandidates(Buffer.from('<p>'), undefined), [
      'utf-8',
      'windows-1252',
    ]);
  });

  it('decodes with the declared charset, and falls back when the bytes do not fit', () => {
    const latin1 = Buffer.from('<title>caf\xe9</title>', 'latin1');
    assert.equal(decodeHtml(latin1, 'text/html; charset=iso-8859-1'), '<title>café</title>');
    // No charset anywhere and not UTF-8: windows-1252.
    assert.equal(decodeHtml(latin1, 'text/html'), '<title>café</title>');
    const utf8 = Buffer.from('<meta charset="utf-8"><title>日本</title>');
    assert.equal(openGraphFromHtml(decodeHtml(utf8, 'text/html'))['og:title'], '日本');
    // An unknown label is skipped.
    assert.equal(decodeHtml(Buffer.from('ok'), 'text/html; charset=nonsense'), 'ok');
  });

  it('knows previewable types', () => {
    assert.ok(isHtmlType('text/html; charset=utf-8'));
    assert.ok(isHtmlType('application/xhtml+xml'));
    assert.ok(!isHtmlType('text/plain'));
    assert.ok(isImageType('IMAGE/PNG'));
    assert.ok(!isImageType('application/json'));
  });
});
