/**
 * Serves the real webview bundle under the real CSP on a loopback HTTP server and drives it in
 * Debian's headless Chromium through playwright-core. The page gets a stand-in for VS Code's
 * `acquireVsCodeApi` that records what the panel posts, and the theme variables VS Code sets.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import type { FromPanel, ToPanel } from '../../../src/core/protocol/panel';
import { panelHtml } from '../../../src/vscode/panel/panelHtml';
import type { PanelDebugState } from '../../../webview/app';
import { repoRoot } from '../../support/trace';
import { bodyClass, themeVars } from './themes';
import type { TestTheme } from './themes';

export const chromiumPath = process.env.JOULES_CHROMIUM ?? '/usr/bin/chromium';
export const workDir = join(repoRoot, 'test', 'browser', '.work');

/** Flags for a sandbox-less container: no GPU, small /dev/shm, no background traffic. */
export const chromiumArgs = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

export function buildBundle(minify = false): void {
  execFileSync(process.execPath, [join(repoRoot, 'scripts', 'buildWebview.mjs'), ...(minify ? ['--minify'] : [])], { stdio: 'pipe' });
}

export async function launch(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} not found: apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium`);
  }
  return chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs, ...extraArgs] });
}

const nonce = 'dGVzdC1ub25jZS0xMjM0NTY3OA';

export class PanelServer {
  private server: Server | undefined;
  base = '';

  async start(): Promise<string> {
    const distRoot = join(repoRoot, 'dist', 'webview');
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname === '/panel.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(this.page(url.searchParams));
        return;
      }
      if (url.pathname === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
      const rel = normalize(url.pathname.replace(/^\/dist\/webview\//, ''));
      const file = join(distRoot, rel);
      if (!url.pathname.startsWith('/dist/webview/') || rel.startsWith('..') || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'application/json';
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(readFileSync(file));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.base = `http://127.0.0.1:${port}`;
    return this.base;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** panelHtml's page plus, before the panel script, the stand-in for what VS Code injects. */
  private page(q: URLSearchParams): string {
    const theme = (q.get('theme') ?? 'dark') as TestTheme;
    const html = panelHtml({ cspSource: this.base, nonce, scriptUri: `${this.base}/dist/webview/panel.js`, styleUri: `${this.base}/dist/webview/panel.css` });
    const shim = `<script nonce="${nonce}">(() => {
  const themes = ${JSON.stringify(themeVars)};
  const classes = ${JSON.stringify(bodyClass)};
  window.__setTheme = (kind) => {
    const root = document.documentElement;
    for (const name of Array.from(root.style)) if (name.startsWith('--vscode-')) root.style.removeProperty(name);
    for (const [k, v] of Object.entries(themes[kind])) root.style.setProperty(k, v);
    document.body.className = classes[kind];
  };
  window.__setTheme(${JSON.stringify(theme)});
  window.__posted = [];
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
  let state = ${q.get('state') ?? 'undefined'};
  window.__savedState = () => state;
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => { const copy = JSON.parse(JSON.stringify(m)); window.__posted.push(copy); if (window.__toHost) window.__toHost(copy); },
    getState: () => state,
    setState: (s) => { state = JSON.parse(JSON.stringify(s)); },
  });
  window.__joulesPanelTestMode = ${q.get('testMode') === '1'};
})();</script>\n`;
    return html.replace(`<script nonce="${nonce}" src=`, `${shim}<script nonce="${nonce}" src=`);
  }
}

export interface OpenOptions {
  theme?: TestTheme;
  testMode?: boolean;
  savedState?: unknown;
  width?: number;
  height?: number;
  /** Receives every message the panel posts (the stand-in host). */
  toHost?: (m: FromPanel) => void;
}

export class PanelPage {
  readonly consoleErrors: string[] = [];
  readonly pageErrors: string[] = [];

  constructor(readonly page: Page) {
    page.on('console', (m) => {
      if (m.type() === 'error') this.consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => this.pageErrors.push(String(e)));
  }

  /**
   * Delivers a message the way VS Code does (a `message` event on the page's window) and waits
   * until the panel has received it.
   */
  async post(msg: ToPanel | unknown): Promise<void> {
    // No named functions inside: tsx's keepNames would reference a helper the page lacks.
    await this.page.evaluate(async (m) => {
      const w = window as unknown as { __joulesPanelState: PanelDebugState };
      const before = w.__joulesPanelState.messages;
      window.postMessage(m, '*');
      while (w.__joulesPanelState.messages === before) await new Promise((r) => setTimeout(r, 1));
    }, msg);
  }

  async state(): Promise<PanelDebugState> {
    return this.page.evaluate(() => (window as unknown as { __joulesPanelState: PanelDebugState }).__joulesPanelState);
  }

  async posted(): Promise<FromPanel[]> {
    return this.page.evaluate(() => (window as unknown as { __posted: FromPanel[] }).__posted);
  }

  async cspViolations(): Promise<string[]> {
    return this.page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
  }

  async savedState(): Promise<unknown> {
    return this.page.evaluate(() => (window as unknown as { __savedState: () => unknown }).__savedState());
  }

  async setTheme(theme: TestTheme): Promise<void> {
    await this.page.evaluate((t) => (window as unknown as { __setTheme: (t: string) => void }).__setTheme(t), theme);
  }

  /** Waits until the panel has drawn everything it received (redraws are throttled). */
  async settle(): Promise<PanelDebugState> {
    await this.page.waitForFunction(() => {
      const s = (window as unknown as { __joulesPanelState: PanelDebugState }).__joulesPanelState;
      return !s.renderPending && s.renderedMessages === s.messages;
    }, undefined, { timeout: 10_000, polling: 20 });
    return this.state();
  }

  async screenshot(name: string): Promise<string> {
    mkdirSync(workDir, { recursive: true });
    const path = join(workDir, name);
    await this.page.screenshot({ path, fullPage: true });
    return path;
  }

  /** Tag, id and text of the focused element, looking through shadow roots. */
  async focused(): Promise<string> {
    return this.page.evaluate(() => {
      let el: Element | null = document.activeElement;
      let host = '';
      while (el?.shadowRoot?.activeElement) {
        host = el.tagName.toLowerCase();
        el = el.shadowRoot.activeElement;
      }
      const outer = host ? document.activeElement : el;
      const label = (outer?.getAttribute('data-tab') ?? outer?.id ?? '') || (outer?.textContent ?? '').trim().slice(0, 30);
      return `${outer?.tagName.toLowerCase() ?? 'none'}#${label}`;
    });
  }
}

export async function openPanel(browser: Browser, base: string, o: OpenOptions = {}): Promise<PanelPage> {
  const page = await browser.newPage({ viewport: { width: o.width ?? 1200, height: o.height ?? 900 }, deviceScaleFactor: 1 });
  const p = new PanelPage(page);
  if (o.toHost) {
    const cb = o.toHost;
    await page.exposeFunction('__toHost', (m: FromPanel) => cb(m));
  }
  const q = new URLSearchParams({ theme: o.theme ?? 'dark', testMode: o.testMode ? '1' : '0' });
  if (o.savedState !== undefined) q.set('state', JSON.stringify(o.savedState));
  await page.goto(`${base}/panel.html?${q.toString()}`);
  await page.waitForFunction(() => (window as unknown as { __posted?: { type: string }[] }).__posted?.some((m) => m.type === 'ready'));
  return p;
}
