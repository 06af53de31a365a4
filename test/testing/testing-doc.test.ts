import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'

const EXAMPLE = 'test/testing/fault-injection-example.test.ts'
const ROOT = new URL('../../', import.meta.url)

/** The ```ts block right after the `<!-- path -->` marker in `markdown`. */
function blockAfterMarker (markdown: string, path: string): string | undefined {
  const marker = `<!-- ${path} -->\n\`\`\`ts\n`
  const start = markdown.indexOf(marker)
  if (start === -1) return undefined
  const body = start + marker.length
  const end = markdown.indexOf('\n```\n', body)
  return end === -1 ? undefined : markdown.slice(body, end + 1)
}

test('the example in docs/TESTING.md is the test file that runs, with the package import', async () => {
  const [markdown, file] = await Promise.all([readFile(new URL('docs/TESTING.md', ROOT), 'utf8'), readFile(new URL(EXAMPLE, ROOT), 'utf8')])
  const block = blockAfterMarker(markdown, EXAMPLE)
  assert.ok(block !== undefined, `docs/TESTING.md has no \`\`\`ts block after <!-- ${EXAMPLE} -->`)
  // The one difference: users import the package, the suite imports the source.
  const asPublished = file.replaceAll("'../../lib/testing/index.js'", "'fastify-reliable-ws/testing'")
  assert.ok(asPublished !== file, `${EXAMPLE} no longer imports ../../lib/testing/index.js`)
  assert.equal(block, asPublished)
})
