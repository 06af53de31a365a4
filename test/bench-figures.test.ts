import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { escapeXml, renderRatioChart, scaleMaximum, type ChartPanel } from '../bench/lib/ratio-chart.js'
import { formatCheck, medianRatio, type MeasurementRecord } from '../bench/lib/figures.js'

// The pure parts of bench/figures.ts (the bench itself never runs in npm test).
describe('bench figures', () => {
  const panel: ChartPanel = {
    title: 'Throughput <x>',
    series: ['64 B', '4 KiB'],
    groups: [{ label: 'a & b', values: [2, null] }, { label: 'c', values: [0.5, 1] }],
    references: [1]
  }

  it('escapes the XML special characters', () => {
    assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
  })

  it('scales to the largest value or reference, rounded up to a half with 5 % room', () => {
    assert.equal(scaleMaximum(panel), 2.5)
    assert.equal(scaleMaximum({ ...panel, groups: [{ label: 'x', values: [0.2] }], references: [1.3] }), 1.5)
  })

  it('draws bars proportional to the ratios, marks missing values and escapes labels', () => {
    const svg = renderRatioChart([panel], ['caption & more'])
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    // Plot width 440 px over a 2.5x scale: 2x is 352 px, 0.5x is 88 px, 1x is 176 px.
    const widths = [...svg.matchAll(/<rect x="260" y="\d+" width="([\d.]+)" height="14"/g)].map((match) => Number(match[1]))
    assert.deepEqual(widths, [352, 88, 176])
    assert.equal(svg.match(/not measured/g)?.length, 1)
    assert.ok(svg.includes('Throughput &lt;x&gt;') && svg.includes('a &amp; b') && svg.includes('caption &amp; more'))
    assert.ok(svg.includes('<line x1="436" '), 'the reference at 1x')
  })

  it('takes ratios between measurements of the same run and payload, then their median', () => {
    const record = (target: string, run: number, rate: number, payloadBytes = 64): MeasurementRecord =>
      ({ target, run, payloadBytes, rate, latency: null })
    const records = [
      record('t', 1, 100), record('b', 1, 50), record('t', 2, 90), record('b', 2, 90), record('t', 3, 30), record('b', 3, 10),
      record('b', 1, 1, 4096)
    ]
    assert.equal(medianRatio(records, 't', 'b', 64, (m) => m.rate), 2)
    assert.equal(medianRatio(records, 't', 'b', 4096, (m) => m.rate), null)
  })

  it('states a check as met or NOT met against its bound', () => {
    assert.equal(formatCheck({ label: 'x', ratio: 1.25, atMost: 1.3 }), '- x: 1.25x (goal at most 1.3x): met')
    assert.equal(formatCheck({ label: 'x', ratio: 0.99, atLeast: 1 }), '- x: 0.99x (goal at least 1x): NOT met')
    assert.equal(formatCheck({ label: 'x', ratio: null, atLeast: 2 }), '- x: not measured (goal at least 2x)')
  })
})
