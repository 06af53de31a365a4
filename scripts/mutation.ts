/**
 * Mutation testing one source file at a time (docs/TESTING.md, "Mutation testing").
 *
 *   node --import tsx scripts/mutation.ts run <folder> [file ...]   # e.g. run client client.ts
 *   node --import tsx scripts/mutation.ts run core connection.ts:1-200   # only those lines (a part of a large file)
 *   node --import tsx scripts/mutation.ts summary                   # the table, from the reports
 *   node --import tsx scripts/mutation.ts survivors [folder]         # each survivor: line, mutator, code
 *   node --import tsx scripts/mutation.ts check <file:lines> <test file ...>
 *
 * `check` runs only the mutants of the lines given (e.g. lib/protocol/frames.ts:141-141) against
 * only the test files given: a quick proof that a new test kills the survivors it was written for.
 *
 * `run` calls `stryker run stryker.<folder>.json --mutate <file>` for each source file of the
 * folder's config (or only the files named), each with its own incremental report under
 * reports/incremental/<folder>/. One file per run keeps the results of an interrupted session
 * (Stryker writes its report only at the end of a run) and lets a re-run after a new test test
 * only the mutants whose tests changed. `summary` counts the mutant statuses of those reports.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'

const print = (line: string): void => { process.stdout.write(`${line}\n`) }

const REPORTS = 'reports/incremental'

/** The shape of a mutation-testing-report-schema file that this script reads. */
interface Report {
  files: Record<string, { source: string, mutants: Mutant[] }>
}

interface Mutant {
  status: string
  mutatorName: string
  replacement?: string
  location: { start: { line: number, column: number }, end: { line: number, column: number } }
}

function sourceFiles (folder: string): string[] {
  const config = JSON.parse(readFileSync(`stryker.${folder}.json`, 'utf8')) as { mutate: string[] }
  const excluded = new Set(config.mutate.filter((p) => p.startsWith('!')).map((p) => p.slice(1)))
  const files: string[] = []
  for (const pattern of config.mutate.filter((p) => !p.startsWith('!'))) {
    if (!pattern.includes('*')) { files.push(pattern); continue }
    const dir = pattern.slice(0, pattern.indexOf('/*'))
    for (const name of readdirSync(dir).sort()) {
      const file = join(dir, name)
      if (name.endsWith('.ts') && !excluded.has(file)) files.push(file)
    }
  }
  return files
}

function run (folder: string, only: string[]): void {
  const all = sourceFiles(folder)
  for (const name of only.length === 0 ? all : only) {
    // `connection.ts:1-200` runs only the mutants of those lines, with a report of its own: a large
    // file taken in parts keeps the parts already done when a session has to stop.
    const [fileName, lines] = name.split(':')
    const file = all.find((f) => basename(f) === fileName) ?? fileName
    const part = lines === undefined ? basename(file, '.ts') : `${basename(file, '.ts')}.${lines}`
    const started = Date.now()
    const result = spawnSync('npx', [
      'stryker', 'run', `stryker.${folder}.json`, '--mutate', lines === undefined ? file : `${file}:${lines}`,
      '--incremental', '--incrementalFile', `${REPORTS}/${folder}/${part}.json`,
      // Two runs of one folder at once need separate sandboxes.
      '--tempDirName', `.stryker-tmp-${folder}-${part}`
    ], { stdio: 'inherit' })
    print(`# ${name}: exit ${result.status}, ${Math.round((Date.now() - started) / 1000)} s`)
  }
}

const DETECTED = new Set(['Killed', 'Timeout'])

function summary (): void {
  if (!existsSync(REPORTS)) throw new Error(`no reports under ${REPORTS}: run first`)
  print('| File | Mutants | Killed | Timed out | Survived | No coverage | Score |')
  print('|---|---|---|---|---|---|---|')
  for (const folder of readdirSync(REPORTS).sort()) {
    const total: Record<string, number> = {}
    for (const name of readdirSync(join(REPORTS, folder)).sort()) {
      const report = JSON.parse(readFileSync(join(REPORTS, folder, name), 'utf8')) as Report
      for (const [file, { mutants }] of Object.entries(report.files)) {
        const counts: Record<string, number> = {}
        for (const { status } of mutants) counts[status] = (counts[status] ?? 0) + 1
        for (const [status, n] of Object.entries(counts)) total[status] = (total[status] ?? 0) + n
        print(row(file, counts))
      }
    }
    print(row(`**${folder}**`, total))
  }
}

/** A table row; the score is Stryker's: detected over valid mutants (compile errors excluded). */
function row (name: string, counts: Record<string, number>): string {
  const n = (s: string): number => counts[s] ?? 0
  const valid = n('Killed') + n('Timeout') + n('Survived') + n('NoCoverage')
  const detected = [...DETECTED].reduce((sum, s) => sum + n(s), 0)
  const score = valid === 0 ? '–' : `${(100 * detected / valid).toFixed(1)} %`
  return `| ${name} | ${valid} | ${n('Killed')} | ${n('Timeout')} | ${n('Survived')} | ${n('NoCoverage')} | ${score} |`
}

function check (mutate: string, testFiles: string[]): void {
  const config = JSON.parse(readFileSync('stryker.protocol.json', 'utf8')) as Record<string, unknown>
  const tap = config.tap as Record<string, unknown>
  mkdirSync('reports/check', { recursive: true })
  const checkConfig = {
    ...config,
    mutate: mutate.split(','),
    tap: { ...tap, testFiles },
    incremental: false,
    jsonReporter: { fileName: 'reports/check/check.json' },
    tempDirName: '.stryker-tmp-check'
  }
  delete (checkConfig as Record<string, unknown>).incrementalFile
  writeFileSync('reports/check/stryker.check.json', JSON.stringify(checkConfig, null, 2))
  spawnSync('npx', ['stryker', 'run', 'reports/check/stryker.check.json'], { stdio: 'inherit' })
}

function reports (folder: string | undefined): Report[] {
  const folders = folder === undefined ? readdirSync(REPORTS).sort() : [folder]
  return folders.flatMap((f) => readdirSync(join(REPORTS, f)).sort()
    .map((name) => JSON.parse(readFileSync(join(REPORTS, f, name), 'utf8')) as Report))
}

function survivors (folder: string | undefined): void {
  for (const report of reports(folder)) {
    for (const [file, { source, mutants }] of Object.entries(report.files)) {
      const lines = source.split('\n')
      for (const m of mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')) {
        const { start, end } = m.location
        const original = start.line === end.line
          ? (lines[start.line - 1] ?? '').slice(start.column - 1, end.column - 1)
          : `${(lines[start.line - 1] ?? '').slice(start.column - 1)}…`
        print(`${file}:${start.line}:${start.column} ${m.status} ${m.mutatorName}: ${original.trim().slice(0, 80)} → ${(m.replacement ?? '').slice(0, 80)}`)
      }
    }
  }
}

const [command, folder, ...only] = process.argv.slice(2)
if (command === 'run' && folder !== undefined) run(folder, only)
else if (command === 'summary') summary()
else if (command === 'survivors') survivors(folder)
else if (command === 'check' && folder !== undefined) check(folder, only)
else throw new Error('usage: scripts/mutation.ts run <folder> [file ...] | summary | survivors [folder] | check <file:lines> <test file ...>')
