/**
 * The chat example in a real browser: Debian's Chromium driven by playwright-core, the example
 * server in a child process. Two browser contexts are two users; one goes offline, the server is
 * SIGKILLed and restarted, a page is frozen. Skipped when Chromium is not installed.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import {
  browserUnavailable, chatLog, chatState, freePort, killExampleServer, launchChromium, startExampleServer,
  type, waitForChatState, type ExampleServer
} from './browser.js'

/** A short heartbeat, so that a freeze longer than ping interval + pong timeout is quick to stage. */
const SERVER_ENV = { HEARTBEAT_INTERVAL_MS: '1000', HEARTBEAT_TIMEOUT_MS: '1000', CLOSE_TIMEOUT_MS: '1000' }
/** Longer than the heartbeat's ping interval plus pong timeout (2 s), so a timer-based check would have fired. */
const FREEZE_DURATION = 4000
/** Generous bounds for a loaded machine; they bound waits, the assertions are about content. */
const DELIVERY_TIMEOUT = 20_000
const RESTART_TIMEOUT = 45_000

describe('the chat example in Chromium', { skip: browserUnavailable(), timeout: 240_000 }, () => {
  let browser: Browser
  let server: ExampleServer
  let port: number

  before(async () => {
    port = await freePort()
    ;[server, browser] = await Promise.all([startExampleServer(port, SERVER_ENV), launchChromium()])
  })

  after(async () => {
    await browser?.close()
    if (server !== undefined) await killExampleServer(server)
  })

  /** A new browser context (its own cookies, network state) with the chat page open in `room`. */
  async function openChat (name: string, room: string): Promise<{ context: BrowserContext, page: Page }> {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`http://127.0.0.1:${port}/chat.html?name=${name}&room=${room}`)
    await waitForChatState(page, 'connected')
    return { context, page }
  }

  async function waitForMembers (page: Page, members: string[]): Promise<void> {
    await page.waitForFunction((expected) => Array.from(document.querySelectorAll('#members li'), (item) => item.textContent).join(',') === expected,
      members.join(','), { timeout: DELIVERY_TIMEOUT })
  }

  async function waitForLogLength (page: Page, length: number): Promise<void> {
    await page.waitForFunction((expected) => document.querySelectorAll('#log .message').length >= expected, length, { timeout: DELIVERY_TIMEOUT })
  }

  async function events (page: Page): Promise<string> {
    return await page.textContent('#events') ?? ''
  }

  test('two contexts in one room see each other in the member list and exchange messages', async (t) => {
    const ada = await openChat('ada', 'exchange')
    const bob = await openChat('bob', 'exchange')
    t.after(() => Promise.all([ada.context.close(), bob.context.close()]))
    await waitForMembers(ada.page, ['ada', 'bob'])
    await type(ada.page, 'hello bob')
    await waitForLogLength(bob.page, 1)
    await type(bob.page, 'hello ada')
    await waitForLogLength(ada.page, 2)
    await waitForLogLength(bob.page, 2)
    const expected = ['ada: hello bob', 'bob: hello ada']
    assert.deepEqual(await chatLog(ada.page), expected)
    assert.deepEqual(await chatLog(bob.page), expected)

    await bob.page.close()
    await waitForMembers(ada.page, ['ada'])
  })

  test('the echo page counts a resume after going offline and back, and nothing lost', async (t) => {
    const context = await browser.newContext()
    t.after(() => context.close())
    const page = await context.newPage()
    await page.goto(`http://127.0.0.1:${port}/`)
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'connected', null, { timeout: DELIVERY_TIMEOUT })
    await page.waitForFunction(() => document.querySelector('#log .in') !== null, null, { timeout: DELIVERY_TIMEOUT })
    await context.setOffline(true)
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'reconnecting', null, { timeout: DELIVERY_TIMEOUT })
    await context.setOffline(false)
    await page.waitForFunction(() => document.getElementById('resumes')?.textContent === '1', null, { timeout: DELIVERY_TIMEOUT })
    assert.equal(await page.textContent('#status'), 'resumed')
    assert.equal(await page.textContent('#lost'), '0')
  })

  test('messages typed on both sides while one is offline show once, in order, in both once it is back', async (t) => {
    const ada = await openChat('ada', 'offline')
    const bob = await openChat('bob', 'offline')
    t.after(() => Promise.all([ada.context.close(), bob.context.close()]))
    await waitForMembers(bob.page, ['ada', 'bob'])

    await bob.context.setOffline(true)
    await waitForChatState(bob.page, 'reconnecting')
    for (let index = 1; index <= 3; index++) {
      await type(ada.page, `a${index}`)
      await type(bob.page, `b${index}`)
    }
    assert.equal(await bob.page.$$eval('#outbox .pending', (items) => items.length), 3, 'bob\'s messages wait in the outbox')
    await bob.context.setOffline(false)

    await waitForLogLength(ada.page, 6)
    await waitForLogLength(bob.page, 6)
    const adaLog = await chatLog(ada.page)
    assert.deepEqual(await chatLog(bob.page), adaLog, 'the same messages in the same order in both')
    assert.deepEqual([...adaLog].sort(), ['ada: a1', 'ada: a2', 'ada: a3', 'bob: b1', 'bob: b2', 'bob: b3'], 'each message once')
    assert.deepEqual(adaLog.filter((line) => line.startsWith('bob')), ['bob: b1', 'bob: b2', 'bob: b3'], 'in the order typed')
    assert.equal(await chatState(bob.page), 'resumed')
    assert.equal(await bob.page.$$eval('#outbox > *', (items) => items.length), 0, 'the outbox is empty')
  })

  test('a page frozen in the background for longer than the heartbeat resumes without a false timeout', async (t) => {
    const ada = await openChat('ada', 'frozen')
    const bob = await openChat('bob', 'frozen')
    t.after(() => Promise.all([ada.context.close(), bob.context.close()]))
    await waitForMembers(ada.page, ['ada', 'bob'])
    await ada.page.evaluate(() => {
      const probe = window as unknown as { ticks: number }
      probe.ticks = 0
      setInterval(() => { probe.ticks++ }, 100)
    })
    const ticksBefore = await ada.page.evaluate(() => (window as unknown as { ticks: number }).ticks)

    const cdp = await ada.context.newCDPSession(ada.page)
    await cdp.send('Page.setWebLifecycleState', { state: 'frozen' })
    // Headless Chromium may keep a visible page's timers running after that call; pausing the
    // page's scripts freezes them for sure, which the probe below checks.
    await cdp.send('Debugger.enable')
    await cdp.send('Debugger.pause')
    const frozenAt = Date.now()
    for (let index = 1; index <= 3; index++) await type(bob.page, `while frozen ${index}`)
    await waitForLogLength(bob.page, 3)
    const remaining = FREEZE_DURATION - (Date.now() - frozenAt)
    if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining))
    await cdp.send('Debugger.resume')
    await cdp.send('Debugger.disable')
    await cdp.send('Page.setWebLifecycleState', { state: 'active' })

    const ticksAfter = await ada.page.evaluate(() => (window as unknown as { ticks: number }).ticks)
    assert.ok(ticksAfter - ticksBefore < FREEZE_DURATION / 100 / 2, `the page was frozen (${ticksAfter - ticksBefore} ticks of 100 ms in ${FREEZE_DURATION} ms)`)
    await waitForLogLength(ada.page, 3)
    await type(ada.page, 'back')
    await waitForLogLength(bob.page, 4)
    assert.deepEqual(await chatLog(ada.page), ['bob: while frozen 1', 'bob: while frozen 2', 'bob: while frozen 3', 'ada: back'])
    assert.equal(await chatState(ada.page), 'connected')
    assert.doesNotMatch(await events(ada.page), /reconnecting|continuity lost/, 'no timeout, no reconnect')
  })

  test('after the server is SIGKILLed and restarted, the pages say continuity lost and carry on', async (t) => {
    const ada = await openChat('ada', 'restart')
    const bob = await openChat('bob', 'restart')
    t.after(() => Promise.all([ada.context.close(), bob.context.close()]))
    await waitForMembers(ada.page, ['ada', 'bob'])
    await type(ada.page, 'before')
    await waitForLogLength(bob.page, 1)
    const echo = await ada.context.newPage()
    await echo.goto(`http://127.0.0.1:${port}/`)
    await echo.waitForFunction(() => document.querySelector('#log .in') !== null, null, { timeout: DELIVERY_TIMEOUT })

    await killExampleServer(server)
    await waitForChatState(ada.page, 'reconnecting')
    server = await startExampleServer(port, SERVER_ENV)
    await waitForChatState(ada.page, 'continuity lost', RESTART_TIMEOUT)
    await waitForChatState(bob.page, 'continuity lost', RESTART_TIMEOUT)
    assert.match(await events(ada.page), /continuity lost: 0 message\(s\)/, 'nothing was in flight')

    await waitForMembers(ada.page, ['ada', 'bob'])
    await type(bob.page, 'after')
    await waitForLogLength(ada.page, 2)
    assert.deepEqual(await chatLog(ada.page), ['ada: before', 'bob: after'])

    // The echo page, which sends every 2 s, says so too and carries on echoing in the new session.
    await echo.waitForFunction(() => document.getElementById('status')?.textContent === 'continuity lost', null, { timeout: RESTART_TIMEOUT })
    assert.match(await echo.textContent('#lost') ?? '', /^\d+$/)
    const echoes = await echo.$$eval('#log .in', (lines) => lines.length)
    await echo.waitForFunction((before) => document.querySelectorAll('#log .in').length > before, echoes, { timeout: DELIVERY_TIMEOUT })
  })
})
