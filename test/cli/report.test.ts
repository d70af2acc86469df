import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { escapeHtml, lossChartSvg, niceTicks, renderTrainReport, writeTrainReport, type TrainReport } from '../../src/cli/report.ts';

const report: TrainReport = {
  title: 'bone train: ./run <1>',
  subtitle: 'a subtitle & more',
  trainLoss: Array.from({ length: 30 }, (_, i) => ({ step: i + 1, loss: 3 - i * 0.05 + (i % 3) * 0.02 })),
  evalLoss: [{ step: 10, loss: 2.6 }, { step: 20, loss: 2.2 }, { step: 30, loss: 1.9 }],
  sections: [
    { title: 'Settings', rows: [['--data', 'a "quoted" <path>.jsonl'], ['--method', 'miss']] },
    { title: 'Data', rows: [['train examples', '1,000']] },
  ],
};

/** Every element opened is closed (or self-closing / void), in order: a cheap well-formedness check. */
function assertBalanced(html: string): void {
  const voidElements = new Set(['meta', 'br', 'img', 'input', 'link', 'hr']);
  const stack: string[] = [];
  for (const m of html.matchAll(/<(\/?)([a-zA-Z][\w-]*)([^>]*?)(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    const tag = name!.toLowerCase();
    if (selfClosing || voidElements.has(tag)) continue;
    if (closing) assert.equal(stack.pop(), tag, `</${tag}> closes <${stack[stack.length]}>`);
    else stack.push(tag);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

test('the report is a complete HTML page with the loss curves as inline SVG polylines', () => {
  const html = renderTrainReport(report);
  assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.match(html, /<meta charset="utf-8">/);
  assert.match(html, /<\/html>\n$/);
  assertBalanced(html);
  const svg = /<svg[^>]*>[\s\S]*<\/svg>/.exec(html)?.[0];
  assert.ok(svg, 'an <svg> element');
  const polylines = [...svg.matchAll(/<polyline class="([^"]+)" points="([^"]+)"/g)];
  const train = polylines.filter((m) => m[1]!.startsWith('train'));
  // 30 noisy steps: the raw curve plus a smoothed one
  assert.equal(train.length, 2);
  assert.equal(train[0]![2]!.split(' ').length, 30);
  const evalLine = polylines.find((m) => m[1] === 'eval');
  assert.ok(evalLine);
  assert.equal(evalLine[2]!.split(' ').length, 3);
  // every coordinate is a finite number inside the view box
  for (const m of polylines) {
    for (const pair of m[2]!.split(' ')) {
      const [x, y] = pair.split(',').map(Number);
      assert.ok(x! >= 0 && x! <= 760 && y! >= 0 && y! <= 340, pair);
    }
  }
  // SVG's y grows downwards: the falling eval loss is drawn with growing y
  const ys = evalLine[2]!.split(' ').map((p) => Number(p.split(',')[1]));
  assert.ok(ys[0]! < ys[1]! && ys[1]! < ys[2]!, ys.join(' '));
});

test('the report loads nothing from the network and escapes what it shows', () => {
  const html = renderTrainReport(report);
  assert.doesNotMatch(html, /https?:\/\//i);
  assert.doesNotMatch(html, /<script|<link|<img|@import|url\(/i);
  assert.match(html, /<title>bone train: \.\/run &lt;1&gt;<\/title>/);
  assert.match(html, /a &quot;quoted&quot; &lt;path&gt;\.jsonl/);
  assert.match(html, /a subtitle &amp; more/);
  assert.match(html, /<h2>Settings<\/h2>/);
});

test('charts of 1 point, no eval, and no points at all', () => {
  const one = lossChartSvg([{ step: 1, loss: 2 }], []);
  assert.match(one, /<polyline class="train" points="[\d.]+,[\d.]+"/);
  assert.match(one, /<circle class="train"/);
  assert.doesNotMatch(one, /class="eval"/);
  assert.doesNotMatch(one, /NaN|Infinity/);
  const none = lossChartSvg([], []);
  assert.match(none, /no steps recorded/);
  // non-finite losses are left out rather than breaking the drawing
  assert.doesNotMatch(lossChartSvg([{ step: 1, loss: 2 }, { step: 2, loss: NaN }, { step: 3, loss: 1 }], []), /NaN/);
});

test('long runs are averaged down to a bounded number of points', () => {
  const long = Array.from({ length: 10000 }, (_, i) => ({ step: i + 1, loss: 5 / (1 + i / 100) }));
  const raw = /<polyline class="train raw" points="([^"]+)"/.exec(lossChartSvg(long, []))![1]!;
  assert.equal(raw.split(' ').length, 1500);
});

test('niceTicks and escapeHtml', () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(1.93, 2.41, 5), [2, 2.1, 2.2, 2.3, 2.4]);
  assert.deepEqual(niceTicks(3, 3), [3]);
  assert.equal(escapeHtml(`<a href='x'>&"</a>`), '&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;');
});

test('writeTrainReport writes the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bone-report-'));
  try {
    await writeTrainReport(join(dir, 'report.html'), report);
    assert.equal(await readFile(join(dir, 'report.html'), 'utf8'), renderTrainReport(report));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
