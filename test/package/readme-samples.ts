/**
 * The code samples of README.md and docs/*.md, for the consumer test. A fenced block tagged
 * ```ts is a whole ES module program and ```ts cjs a whole CommonJS one: both must type-check
 * against the published package and run. ```ts check is a whole program that is only
 * type-checked (it runs in a browser, or needs a server). ```ts fragment is an excerpt: skipped.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** One extracted sample. */
export interface CodeSample {
  /** A file name derived from the source and line, e.g. `README-58.ts` or `docs-CLIENT-35.cts`. */
  fileName: string
  /** Where it comes from, e.g. `README.md:58`. */
  origin: string
  /** `esm` for ```ts, `cjs` for ```ts cjs, `check` for ```ts check. */
  kind: 'esm' | 'cjs' | 'check'
  code: string
}

const FENCE = /^```(\S*)(?:[ \t]+(\S+))?[ \t]*$/

/** The samples of one Markdown text. */
export function samplesOf (markdown: string, source: string): CodeSample[] {
  const samples: CodeSample[] = []
  const lines = markdown.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const open = FENCE.exec(lines[index])
    if (open === null || open[1] === '') continue
    const start = index
    const body: string[] = []
    while (++index < lines.length && lines[index] !== '```') body.push(lines[index])
    const [, language, tag] = open
    if (language !== 'ts' || tag === 'fragment') continue
    if (tag !== undefined && tag !== 'cjs' && tag !== 'check') {
      throw new Error(`${source}:${start + 1}: unknown tag "${tag}" on a ts block (use cjs, check or fragment)`)
    }
    const kind: CodeSample['kind'] = tag === 'cjs' || tag === 'check' ? tag : 'esm'
    const stem = source.replace(/\.md$/, '').replace(/[/\\]/g, '-')
    samples.push({ fileName: `${stem}-${start + 1}.${kind === 'cjs' ? 'cts' : 'ts'}`, origin: `${source}:${start + 1}`, kind, code: body.join('\n') + '\n' })
  }
  return samples
}

/** Every sample of README.md and docs/*.md under `root`. */
export function readmeSamples (root: string): CodeSample[] {
  const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)]
  return files.flatMap((file) => samplesOf(readFileSync(join(root, file), 'utf8'), file))
}
