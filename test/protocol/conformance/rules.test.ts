// Keeps docs/PROTOCOL.md and the conformance suite in sync: every rule id has a test named after it,
// every test id is a rule, and the table "Rules and their tests" lists exactly the suite's tests.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const spec = readFileSync(join(here, '../../../docs/PROTOCOL.md'), 'utf8')
const TABLE_HEADING = '\n## Rules and their tests\n'

interface RuleTest { rule: string, file: string, name: string }

/** Rule ids in the order the spec defines them (a definition is the id in bold: **[R-XX-n]**). */
function definedRules (): string[] {
  const body = spec.slice(0, spec.indexOf(TABLE_HEADING))
  return [...new Set([...body.matchAll(/\*\*\[(R-[A-Z]{2}-\d+)\]/g)].map((m) => m[1]))]
}

/** Every test of the suite whose name starts with a rule id. */
function suiteTests (): RuleTest[] {
  const found: RuleTest[] = []
  for (const file of readdirSync(here).filter((f) => f.endsWith('.test.ts')).sort()) {
    const source = readFileSync(join(here, file), 'utf8')
    for (const match of source.matchAll(/\b(?:test|it)\(\s*'((?:\\.|[^'\\])*)'/g)) {
      const name = match[1].replace(/\\'/g, "'")
      const rule = /^\[(R-[A-Z]{2}-\d+)\]/.exec(name)?.[1]
      if (rule !== undefined) found.push({ rule, file, name })
    }
  }
  return found
}

/** The rows of the table at the end of the spec. */
function tableRows (): RuleTest[] {
  const start = spec.indexOf(TABLE_HEADING)
  assert.ok(start !== -1, 'PROTOCOL.md has the section "Rules and their tests"')
  const rows: RuleTest[] = []
  for (const line of spec.slice(start).split('\n')) {
    const match = /^\| (R-[A-Z]{2}-\d+) \| `([^`]+)` \| (.*) \|$/.exec(line)
    if (match !== null) rows.push({ rule: match[1], file: match[2], name: `[${match[1]}] ${match[3]}` })
  }
  return rows
}

describe('Rules of docs/PROTOCOL.md and their tests', () => {
  test('the spec defines rule ids, each once in bold', () => {
    const rules = definedRules()
    assert.ok(rules.length >= 40, `found ${rules.length} rules`)
    for (const rule of rules) {
      const definitions = spec.split(`**[${rule}]`).length - 1
      assert.equal(definitions, 1, `${rule} is defined ${definitions} times`)
    }
  })

  test('every rule of the spec has a conformance test named after it', () => {
    const tested = new Set(suiteTests().map((t) => t.rule))
    const untested = definedRules().filter((rule) => !tested.has(rule))
    assert.deepEqual(untested, [], 'rules without a test')
  })

  test('every rule id a test names is a rule of the spec', () => {
    const rules = new Set(definedRules())
    const unknown = suiteTests().filter((t) => !rules.has(t.rule)).map((t) => `${t.file}: ${t.name}`)
    assert.deepEqual(unknown, [], 'tests naming a rule the spec does not define')
  })

  test('every rule id the spec cites is defined', () => {
    const rules = new Set(definedRules())
    const cited = [...spec.matchAll(/\[(R-[A-Z]{2}-\d+)\]/g)].map((m) => m[1])
    assert.deepEqual([...new Set(cited.filter((rule) => !rules.has(rule)))], [], 'cited but never defined')
  })

  test('the table "Rules and their tests" lists exactly the suite\'s rule tests, in the spec\'s order', () => {
    const order = definedRules()
    const expected = suiteTests().sort((a, b) => order.indexOf(a.rule) - order.indexOf(b.rule))
    assert.deepEqual(tableRows(), expected)
  })
})
