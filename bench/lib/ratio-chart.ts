/**
 * A horizontal grouped bar chart of ratios as a standalone SVG document, written by hand (no
 * dependency): one group of bars per target, one bar per series, a dashed line at each reference
 * ratio (1.0x: as fast as the baseline).
 */

/** One group of bars: a target and its ratio per series (null when not measured). */
export interface ChartGroup {
  label: string
  values: ReadonlyArray<number | null>
}

/** One panel of the chart. */
export interface ChartPanel {
  title: string
  /** Names of the series, in the order of each group's `values`. */
  series: readonly string[]
  groups: readonly ChartGroup[]
  /** Ratios marked with a dashed vertical line, e.g. [1] or [1, 1.3]. */
  references: readonly number[]
}

/** Colours of the series, in order (colour-blind safe, after Okabe and Ito). */
const COLOURS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00']

const WIDTH = 760
const LABEL_WIDTH = 260
const RIGHT_MARGIN = 60
const BAR_HEIGHT = 14
const BAR_GAP = 2
const GROUP_GAP = 10
const TITLE_HEIGHT = 28
const LEGEND_HEIGHT = 22
const AXIS_HEIGHT = 22
const PANEL_GAP = 18

/** `text` with the five XML special characters escaped. */
export function escapeXml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}

/** A scale maximum that leaves room for every value and reference, rounded up to a half. */
export function scaleMaximum (panel: ChartPanel): number {
  let largest = 0
  for (const group of panel.groups) for (const value of group.values) if (value !== null && value > largest) largest = value
  for (const reference of panel.references) if (reference > largest) largest = reference
  return Math.max(0.5, Math.ceil(largest * 1.05 * 2) / 2)
}

function panelHeight (panel: ChartPanel): number {
  const groupHeight = panel.series.length * (BAR_HEIGHT + BAR_GAP) - BAR_GAP
  return TITLE_HEIGHT + LEGEND_HEIGHT + panel.groups.length * (groupHeight + GROUP_GAP) + AXIS_HEIGHT
}

function fixed (value: number): string {
  return Number(value.toFixed(1)).toString()
}

function renderPanel (panel: ChartPanel, top: number): string {
  const plotWidth = WIDTH - LABEL_WIDTH - RIGHT_MARGIN
  const maximum = scaleMaximum(panel)
  const x = (ratio: number): number => LABEL_WIDTH + (ratio / maximum) * plotWidth
  const parts: string[] = [`<text x="8" y="${top + 18}" class="title">${escapeXml(panel.title)}</text>`]

  let legendX = LABEL_WIDTH
  panel.series.forEach((name, index) => {
    const y = top + TITLE_HEIGHT + 4
    parts.push(`<rect x="${legendX}" y="${y}" width="10" height="10" fill="${COLOURS[index % COLOURS.length]}"/>`,
      `<text x="${legendX + 14}" y="${y + 9}">${escapeXml(name)}</text>`)
    legendX += 24 + name.length * 7
  })

  const plotTop = top + TITLE_HEIGHT + LEGEND_HEIGHT
  const groupHeight = panel.series.length * (BAR_HEIGHT + BAR_GAP) - BAR_GAP
  const plotBottom = plotTop + panel.groups.length * (groupHeight + GROUP_GAP) - GROUP_GAP
  // Drawn first, so that bars and their labels lie over them.
  for (const reference of panel.references) {
    const rx = fixed(x(reference))
    parts.push(`<line x1="${rx}" y1="${plotTop - 4}" x2="${rx}" y2="${plotBottom + 4}" class="reference"/>`)
  }
  panel.groups.forEach((group, groupIndex) => {
    const groupTop = plotTop + groupIndex * (groupHeight + GROUP_GAP)
    parts.push(`<text x="${LABEL_WIDTH - 8}" y="${fixed(groupTop + groupHeight / 2 + 4)}" text-anchor="end">${escapeXml(group.label)}</text>`)
    group.values.forEach((value, seriesIndex) => {
      const y = groupTop + seriesIndex * (BAR_HEIGHT + BAR_GAP)
      if (value === null) {
        parts.push(`<text x="${LABEL_WIDTH + 4}" y="${y + 11}" class="missing">not measured</text>`)
        return
      }
      const width = Math.max(1, x(value) - LABEL_WIDTH)
      parts.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${fixed(width)}" height="${BAR_HEIGHT}" fill="${COLOURS[seriesIndex % COLOURS.length]}"/>`,
        `<text x="${fixed(LABEL_WIDTH + width + 4)}" y="${y + 11}">${value.toFixed(2)}x</text>`)
    })
  })

  // Axis ticks every half (or whole, on a wide scale) ratio.
  const step = maximum > 4 ? 1 : 0.5
  parts.push(`<line x1="${LABEL_WIDTH}" y1="${plotBottom + 6}" x2="${fixed(x(maximum))}" y2="${plotBottom + 6}" class="axis"/>`)
  for (let tick = 0; tick <= maximum + 1e-9; tick += step) {
    parts.push(`<text x="${fixed(x(tick))}" y="${plotBottom + 19}" text-anchor="middle" class="tick">${tick}x</text>`)
  }
  return parts.join('\n')
}

const CAPTION_LINE_HEIGHT = 15

/** The SVG document of `panels`, stacked, with the `caption` lines as a footnote. */
export function renderRatioChart (panels: readonly ChartPanel[], caption: readonly string[]): string {
  const parts: string[] = []
  let top = 0
  for (const panel of panels) {
    parts.push(renderPanel(panel, top))
    top += panelHeight(panel) + PANEL_GAP
  }
  const height = top + caption.length * CAPTION_LINE_HEIGHT + 10
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    '<style>.title{font-size:14px;font-weight:bold}.tick{fill:#555;font-size:11px}.missing{fill:#999;font-style:italic}' +
      '.reference{stroke:#333;stroke-dasharray:4 3}.axis{stroke:#999}.caption{fill:#555;font-size:11px}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...parts,
    ...caption.map((line, index) => `<text x="8" y="${top + 4 + index * CAPTION_LINE_HEIGHT}" class="caption">${escapeXml(line)}</text>`),
    '</svg>',
    ''
  ].join('\n')
}
