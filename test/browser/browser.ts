/**
 * Helpers of the real-browser tests: Debian's Chromium driven by playwright-core with the flags of
 * /work/shared/chromium-flags.txt (or CHROMIUM_FLAGS_FILE), and the example server as a child
 * process that can be SIGKILLed and started again on the same port.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** Where Debian's `chromium` package puts the browser (`.ci/run` installs it). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const FLAGS_FILE = process.env.CHROMIUM_FLAGS_FILE ?? '/work/shared/chromium-flags.txt'
/** Starting tsx and the example on a loaded machine can take a while. */
const STARTUP_TIMEOUT = 30_000

/** Why the browser tests cannot run here, or `false` when they can. */
export function browserUnavailable (): string | false {
  return existsSync(CHROMIUM_PATH) ? false : `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`
}

/**
 * Launch Chromium headless. Playwright gives every launch a fresh temporary profile
 * (`--user-data-dir`, deleted on close); it refuses that flag from the caller, so it is not passed.
 */
export function launchChromium (): Promise<Browser> {
  const flags = existsSync(FLAGS_FILE)
    ? readFileSync(FLAGS_FILE, 'utf8').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('--user-data-dir'))
    : ['--headless', '--no-sandbox']
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: flags, headless: true, timeout: STARTUP_TIMEOUT })
}

/** A port nobody listens on right now. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** The example server in a child process. */
export interface ExampleServer {
  port: number
  child: ChildProcess
  /** Everything it printed so far. */
  output: () => string
  /** Resolves once it has exited. */
  exited: Promise<void>
}

/** Start example/server.ts on `port` and wait until it listens. */
export async function startExampleServer (port: number, env: Record<string, string> = {}): Promise<ExampleServer> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' }
  delete childEnv.NODE_TEST_CONTEXT
  const child = spawn(process.execPath, ['--import', 'tsx', 'example/server.ts'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example did not listen within ${STARTUP_TIMEOUT} ms:\n${output}`)), STARTUP_TIMEOUT)
    const read = (chunk: string): void => {
      output += chunk
      if (output.includes('Server listening at')) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout.setEncoding('utf8').on('data', read)
    child.stderr.setEncoding('utf8').on('data', read)
    void exited.then(() => { clearTimeout(timer); reject(new Error(`the example exited:\n${output}`)) })
  })
  return { port, child, output: () => output, exited }
}

/** SIGKILL the server (no close frames: the pages see the TCP connection drop) and wait for its exit. */
export async function killExampleServer (server: ExampleServer): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL')
  await server.exited
}

/** The chat page's status, from the `data-state` of `#status`. */
export function chatState (page: Page): Promise<string | undefined> {
  return page.$eval('#status', (element) => (element as HTMLElement).dataset.state)
}

/** Wait until the chat page's status is `state`. */
export async function waitForChatState (page: Page, state: string, timeout = 20_000): Promise<void> {
  await page.waitForFunction((expected) => document.getElementById('status')?.dataset.state === expected, state, { timeout })
}

/** The chat log of a page, one `from: text` string per message, in order. */
export function chatLog (page: Page): Promise<string[]> {
  return page.$$eval('#log .message', (lines) => lines.map((line) => line.textContent ?? ''))
}

/** Type a message in the chat page and press Enter. */
export async function type (page: Page, text: string): Promise<void> {
  await page.fill('#text', text)
  await page.press('#text', 'Enter')
}
