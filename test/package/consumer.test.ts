/**
 * The package as a user gets it: `npm pack`, the tarball installed into a new project beside the
 * oldest and the newest Fastify 5, the README's and docs' code samples type-checked with
 * `skipLibCheck: false` and run, from ESM and from CommonJS. Needs the npm registry (it installs
 * Fastify); `--prefer-offline` reuses the npm cache.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { readmeSamples, type CodeSample } from './readme-samples.js'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
/** Packing builds the package; installing downloads Fastify when the npm cache lacks it. */
const SETUP_TIMEOUT = 240_000
/** A sample that listens is stopped once it listens; one that runs tests finishes in seconds. */
const SAMPLE_TIMEOUT = 30_000
const OLDEST_FASTIFY = '5.0.0'

/** Replaces every port with 0 and exits once a server listens: a sample "runs" when it gets that far without throwing. */
const LISTEN_HARNESS = `import net from 'node:net'
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number') args[0] = 0
  else if (typeof args[0] === 'object' && args[0] !== null) args[0] = { ...args[0], port: 0 }
  this.once('listening', () => setTimeout(() => process.exit(0), 100))
  return listen.apply(this, args)
}
`

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022', 'DOM'],
    types: ['node'],
    strict: true,
    skipLibCheck: false,
    esModuleInterop: true,
    rootDir: 'src',
    outDir: 'out'
  },
  include: ['src']
}

/** The environment of the tools this test runs: without c8's coverage variable (tsc's coverage alone would be hundreds of MB). */
const TOOL_ENV: NodeJS.ProcessEnv = { ...process.env }
delete TOOL_ENV.NODE_V8_COVERAGE
delete TOOL_ENV.NODE_TEST_CONTEXT

function npm (args: string[], cwd: string): Promise<{ stdout: string, stderr: string }> {
  return run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env: TOOL_ENV, timeout: SETUP_TIMEOUT, maxBuffer: 16 << 20 })
}

async function newestFastify5 (): Promise<string> {
  const { stdout } = await npm(['view', 'fastify@5', 'version', '--json', '--prefer-offline'], ROOT)
  const versions = JSON.parse(stdout) as string | string[]
  return Array.isArray(versions) ? versions[versions.length - 1] : versions
}

/** A new project with the tarball, one Fastify version and the samples under src/. */
async function createProject (dir: string, tarball: string, fastify: string, samples: CodeSample[]): Promise<void> {
  await mkdir(join(dir, 'src'), { recursive: true })
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2))
  await writeFile(join(dir, 'listen-harness.mjs'), LISTEN_HARNESS)
  for (const sample of samples) await writeFile(join(dir, 'src', sample.fileName), `// ${sample.origin}\n${sample.code}`)
  await npm(['install', '--prefer-offline', tarball, `fastify@${fastify}`, '@types/node@20'], dir)
}

function failureText (error: unknown): string {
  const { stdout = '', stderr = '', message } = error as { stdout?: string, stderr?: string, message: string }
  return `${message}\n${stdout}\n${stderr}`
}

const samples = readmeSamples(ROOT)

describe('the packed package in a new project', { timeout: SETUP_TIMEOUT * 2 }, () => {
  let work: string
  let tarball: string
  let files: string[]
  /** Project folder by Fastify version; `newest` names the newest 5.x. */
  const projects = new Map<string, string>()

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'frws-consumer-'))
    const { stdout } = await npm(['pack', '--json', '--pack-destination', work], ROOT)
    const [packed] = JSON.parse(stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
    tarball = join(work, packed.filename)
    files = packed.files.map((file) => file.path)
    const versions = { [OLDEST_FASTIFY]: OLDEST_FASTIFY, newest: await newestFastify5() }
    await Promise.all(Object.entries(versions).map(async ([key, version]) => {
      const dir = join(work, `fastify-${version}`)
      projects.set(key, dir)
      await createProject(dir, tarball, version, samples)
    }))
  }, { timeout: SETUP_TIMEOUT })

  after(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  test('the README and docs hold samples of every kind: ESM, CommonJS and type-check only', () => {
    const kinds = new Set(samples.map((sample) => sample.kind))
    assert.deepEqual([...kinds].sort(), ['check', 'cjs', 'esm'])
  })

  test('the tarball ships the license, the changelog, the types, the browser bundles and no sources', () => {
    for (const file of ['LICENSE', 'CHANGELOG.md', 'README.md', 'package.json', 'dist/index.d.ts', 'dist/client/index.d.ts',
      'dist/browser/client.min.js', 'dist/browser/client.iife.min.js']) {
      assert.ok(files.includes(file), `${file} is in the tarball`)
    }
    assert.deepEqual(files.filter((file) => file.startsWith('lib/') || file.startsWith('test/')), [])
  })

  test('Fastify is installed once: the peer dependency, never a second copy', async () => {
    assert.equal(projects.size, 2)
    for (const dir of projects.values()) {
      const installed = JSON.parse(readFileSync(join(dir, 'node_modules', 'fastify', 'package.json'), 'utf8')) as { version: string }
      assert.ok(dir.endsWith(`fastify-${installed.version}`), `${dir} has the Fastify it asked for (${installed.version})`)
      assert.equal(existsSync(join(dir, 'node_modules', 'fastify-reliable-ws', 'node_modules', 'fastify')), false)
      const manifest = JSON.parse(readFileSync(join(dir, 'node_modules', 'fastify-reliable-ws', 'package.json'), 'utf8')) as Record<string, Record<string, string>>
      assert.equal(manifest.peerDependencies.fastify, '^5.0.0')
      assert.equal(manifest.dependencies.fastify, undefined)
    }
  })

  test('the published declarations hold no internal member', async () => {
    const dir = projects.get(OLDEST_FASTIFY) as string
    const dist = join(dir, 'node_modules', 'fastify-reliable-ws', 'dist')
    const declarations = [join(dist, 'connection.d.ts'), join(dist, 'registry.d.ts'), join(dist, 'reliable', 'reliable-connection.d.ts'), join(dist, 'heartbeat', 'heartbeat-manager.d.ts')]
      .map((file) => readFileSync(file, 'utf8')).join('\n')
    for (const internal of ['receive(', 'socketError(', 'handlerSettled(', 'resumeOn(', 'endSession(', 'socketClosed(', 'setMembership(', 'pongReceived(']) {
      assert.equal(declarations.includes(internal), false, `${internal} is not published`)
    }
    assert.match(declarations, /send\(data: T\['send'\]\)/)
  })

  test('every source map carries its sources inline (no path to a file that is not shipped)', async () => {
    const dir = projects.get(OLDEST_FASTIFY) as string
    const dist = join(dir, 'node_modules', 'fastify-reliable-ws', 'dist')
    const maps = (await readdir(dist, { recursive: true })).filter((file) => file.endsWith('.map'))
    assert.ok(maps.length > 10, `${maps.length} source maps`)
    for (const file of maps) {
      const map = JSON.parse(readFileSync(join(dist, file), 'utf8')) as { sources: string[], sourcesContent?: Array<string | null> }
      assert.equal(map.sourcesContent?.length, map.sources.length, `${file} has sourcesContent`)
      assert.ok(map.sourcesContent.every((content) => typeof content === 'string' && content.length > 0), `${file} inlines every source`)
    }
  })

  for (const version of [OLDEST_FASTIFY, 'newest']) {
    describe(`with Fastify ${version === 'newest' ? 'the newest 5.x' : version}`, () => {
      const dirOf = (): string => projects.get(version) as string

      test('the samples type-check with skipLibCheck false', async () => {
        try {
          await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dirOf(), env: TOOL_ENV, timeout: SETUP_TIMEOUT })
        } catch (error) {
          assert.fail(`tsc failed:\n${failureText(error)}`)
        }
      })

      for (const sample of samples.filter((candidate) => candidate.kind !== 'check')) {
        test(`the sample at ${sample.origin} runs (${sample.kind === 'cjs' ? 'CommonJS' : 'ES module'})`, async () => {
          const compiled = sample.fileName.replace(/\.cts$/, '.cjs').replace(/\.ts$/, '.js')
          try {
            await run(process.execPath, ['--import', './listen-harness.mjs', join('out', compiled)], { cwd: dirOf(), env: TOOL_ENV, timeout: SAMPLE_TIMEOUT })
          } catch (error) {
            assert.fail(`${sample.origin} failed:\n${failureText(error)}`)
          }
        })
      }
    })
  }
})
