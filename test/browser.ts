/**
 * A headless Chromium for tests that look at a page as a person would: the
 * Debian package's /usr/bin/chromium (installed with apt-get when missing and
 * allowed), driven by playwright-core, which never downloads a browser. Each
 * launch gets a fresh profile (Playwright makes one per launch and removes
 * it), and the flags keep Chromium from reaching out on its own (component
 * updates, sync, background networking, QUIC). An opened page records its
 * console errors, uncaught exceptions and every request it makes beyond its
 * own document (none of them leave the machine: they are recorded and
 * aborted), and takes screenshots into test-artifacts/.
 */
import {execFile} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {promisify} from 'node:util';
import {chromium} from 'playwright-core';
import type {Browser, Locator, Page} from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Where screenshots go (git-ignored). */
export const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let installing: Promise<string | undefined> | undefined;

/**
 * Chromium at CHROMIUM, installed from the Debian packages when missing and
 * this process runs as root; resolves why it cannot be had, or undefined.
 */
export function ensureChromium(): Promise<string | undefined> {
  installing ??= (async () => {
    if (fs.existsSync(CHROMIUM)) return undefined;
    if (process.getuid?.() !== 0)
      return `${CHROMIUM} is missing and only root may install it (apt-get install -y chromium)`;
    const apt = (...args: string[]) =>
      promisify(execFile)('apt-get', args, {
        timeout: 600_000,
        env: {...process.env, DEBIAN_FRONTEND: 'noninteractive'},
        maxBuffer: 64 * 1024 * 1024,
      });
    let last = '';
    for (const step of [[], ['update', '-q']]) {
      try {
        if (step.length) await apt(...step);
        await apt('install', '-y', '-q', 'chromium');
        if (fs.existsSync(CHROMIUM)) return undefined;
      } catch (err) {
        const e = err as {stderr?: string; message?: string};
        last = (e.stderr || e.message || String(err)).trim().split('\n').pop() ?? '';
      }
    }
    return `${CHROMIUM} is missing and apt-get could not install chromium: ${last}`;
  })();
  return installing;
}

/** Skips the calling suite, saying why, unless Chromium is (or can be made) available. */
export async function requireChromium(ctx: Mocha.Context): Promise<void> {
  const why = await ensureChromium();
  if (why) {
    process.stdout.write(`    (skipped: ${why})\n`);
    ctx.skip();
  }
}

export interface OpenedPage {
  page: Page;
  /** console.error messages and uncaught exceptions, in order. */
  errors: string[];
  /** Every request beyond the page's own document (each one aborted). */
  requests: string[];
  /** Saves a full-page screenshot as test-artifacts/NAME.png; resolves its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export class HeadlessBrowser {
  private constructor(private readonly browser: Browser) {}

  static async launch(): Promise<HeadlessBrowser> {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      timeout: 60_000,
    });
    return new HeadlessBrowser(browser);
  }

  /** Opens a file, or an HTML string (written to a temporary file, so it loads as a file does). */
  async open(
    source: {file: string} | {html: string},
    opts: {javaScript?: boolean; width?: number; height?: number} = {},
  ): Promise<OpenedPage> {
    let file: string;
    let temporary: string | undefined;
    if ('file' in source) {
      file = path.resolve(source.file);
    } else {
      temporary = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-page-'));
      file = path.join(temporary, 'page.html');
      fs.writeFileSync(file, source.html);
    }
    const url = `file://${file}`;
    const context = await this.browser.newContext({
      javaScriptEnabled: opts.javaScript ?? true,
      viewport: {width: opts.width ?? 1280, height: opts.height ?? 900},
      serviceWorkers: 'block',
    });
    const page = await context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', m => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', e => errors.push(`uncaught: ${e.message}`));
    page.on('request', r => {
      if (r.url() !== url) requests.push(r.url());
    });
    await context.route('**/*', route =>
      route.request().url() === url ? route.continue() : route.abort('blockedbyclient'),
    );
    await page.goto(url, {waitUntil: 'load'});
    return {
      page,
      errors,
      requests,
      async screenshot(name) {
        fs.mkdirSync(ARTIFACTS, {recursive: true});
        const out = path.join(ARTIFACTS, `${name}.png`);
        await page.screenshot({path: out, fullPage: true});
        return out;
      },
      async close() {
        await context.close();
        if (temporary) fs.rmSync(temporary, {recursive: true, force: true});
      },
    };
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}

/** What the browser computes for CSS `property` of each element `locator` finds. */
export function computedStyles(locator: Locator, property: string): Promise<string[]> {
  return locator.evaluateAll((elements, p) => {
    const view = globalThis as unknown as {
      getComputedStyle(e: unknown): {getPropertyValue(p: string): string};
    };
    return elements.map(e => view.getComputedStyle(e).getPropertyValue(p));
  }, property);
}

/** A CSS colour as Chromium computes it (`rgb(r, g, b)`) from `#rrggbb`. */
export function rgb(hex: string): string {
  const n = Number.parseInt(hex.replace('#', ''), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
}
