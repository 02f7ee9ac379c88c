// Headless Chromium, driven by puppeteer-core, for tests of what a person sees of a trace. The browser is
// Debian's chromium package (hack/test.sh installs it); puppeteer-core downloads none.
import { existsSync } from 'node:fs';
import puppeteer from 'puppeteer-core';
import type { Browser, Page } from 'puppeteer-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** As root (CI) Chromium's sandbox cannot start; no GPU here; /dev/shm may be small, so /tmp instead. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'];
/** Readable at the size of the README's screenshot. */
export const VIEWPORT = { width: 1400, height: 900 };
/** Zipkin Lens renders only the timeline rows in view, 30 px each, below about 300 px of header. */
const ZIPKIN_ROW_PX = 30;
const ZIPKIN_HEADER_PX = 300;
const POLL_MS = 200;

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(
      `no Chromium at ${CHROMIUM_PATH}: hack/test.sh installs Debian's chromium package ` +
        `(as root: apt-get install chromium), or set CHROMIUM_PATH`,
    );
  // headless: true is --headless=new, Chromium's own headless mode.
  return puppeteer.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** One row of the trace timeline: the span's name and whether it carries the error icon. */
export interface TimelineRow {
  name: string;
  error: boolean;
}

/** What the details panel shows of the selected span. */
export interface SpanDetails {
  name: string;
  tags: Record<string, string>;
}

// Functions run in the page (puppeteer sends their source): no closures, and no named inner functions, which tsx
// (esbuild's keepNames) wraps in a __name() the page lacks. The project compiles without lib "dom" (its fetch
// types clash with Node's), so the little of the DOM they use is typed here.
interface PageElement {
  readonly textContent: string | null;
  readonly innerText: string;
  readonly childElementCount: number;
  readonly parentElement: PageElement | null;
  readonly nextElementSibling: PageElement | null;
  closest(selectors: string): PageElement | null;
  querySelector(selectors: string): PageElement | null;
  querySelectorAll(selectors: string): Iterable<PageElement>;
  scrollIntoView(options: { block: 'center' }): void;
  click(): void;
  getBoundingClientRect(): { x: number; y: number; width: number; height: number };
}
declare const document: { readonly body: PageElement };

/** The timeline's row labels, "<service>: <span name>"; the page's title (an h6) reads the same and is left out. */
function timelineLabels(service: string): PageElement[] {
  return [...document.body.querySelectorAll('*')].filter(
    (e) =>
      e.childElementCount === 0 &&
      (e.textContent ?? '').startsWith(`${service}: `) &&
      e.closest('h1, h2, h3, h4, h5, h6') === null,
  );
}

/** The details panel: "Span name" over its value, and the rows of its "Tags" table. */
function detailsPanel(): { name: string; tags: Record<string, string> } {
  const leaves = [...document.body.querySelectorAll('*')].filter((e) => e.childElementCount === 0);
  const caption = leaves.find((e) => e.textContent === 'Span name');
  const heading = leaves.find((e) => e.textContent === 'Tags');
  let table: PageElement | null = null;
  for (let box = heading?.parentElement; box && !table; box = box.parentElement)
    table = box.querySelector('table');
  const tags: Record<string, string> = {};
  for (const row of table?.querySelectorAll('tr') ?? []) {
    const [key, value] = [...row.querySelectorAll('td')].map((td) => td.textContent ?? '');
    if (key !== undefined) tags[key] = value ?? '';
  }
  return { name: caption?.nextElementSibling?.textContent ?? '', tags };
}

/**
 * The height of a details panel section's content ("Annotation", "Tags"): 0 once folded (the fold is animated).
 * With `fold`, first presses the button beside the section's heading.
 */
function sectionHeight(section: string, fold: boolean): number | undefined {
  const heading = [...document.body.querySelectorAll('*')].find(
    (e) => e.childElementCount === 0 && e.textContent === section,
  );
  const content = heading?.parentElement?.nextElementSibling;
  if (!heading || !content) return undefined;
  if (fold) heading.parentElement?.querySelector('button')?.click();
  return content.getBoundingClientRect().height;
}

/** Each of `names` the rows do not list, as often as they lack it. */
function unlisted(names: string[], rows: TimelineRow[]): string[] {
  const listed = rows.map((r) => r.name);
  return names.filter((name) => {
    const i = listed.indexOf(name);
    if (i >= 0) listed.splice(i, 1);
    return i < 0;
  });
}

/** Zipkin's own UI (Lens, at /zipkin/) showing one trace, read by its text as a person reads it. */
export class ZipkinTracePage {
  private constructor(
    readonly page: Page,
    readonly url: string,
    private readonly service: string,
  ) {}

  /**
   * Opens the trace's page and waits until its timeline lists a span of `service` for each of `names` (a name
   * twice for two spans of it); fails naming those it does not list.
   */
  static async open(
    browser: Browser,
    url: string,
    service: string,
    names: string[],
    timeoutMs = 30_000,
  ): Promise<ZipkinTracePage> {
    const page = await browser.newPage();
    // Tall enough that every row is rendered, and so readable.
    await page.setViewport({
      ...VIEWPORT,
      height: Math.max(VIEWPORT.height, ZIPKIN_HEADER_PX + names.length * ZIPKIN_ROW_PX),
    });
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
    const trace = new ZipkinTracePage(page, url, service);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await trace.rows();
      const missing = unlisted(names, rows);
      if (missing.length === 0) return trace;
      if (Date.now() > deadline) {
        const text = (await page.evaluate(() => document.body.innerText)).replace(/\s+/g, ' ');
        throw new Error(
          `Zipkin's page ${url} does not list ${missing.join(', ')} (spans of ${service}) after ${timeoutMs} ms; ` +
            `it lists ${rows.map((r) => r.name).join(', ') || 'none'}; the page reads: ${text.slice(0, 300)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** The timeline's rows, top to bottom. */
  async rows(): Promise<TimelineRow[]> {
    const labels = await this.page.evaluateHandle(timelineLabels, this.service);
    try {
      return await labels.evaluate(
        (elements, prefix) =>
          elements.map((e) => ({
            name: (e.textContent ?? '').slice(prefix),
            // Lens puts a red (MUI "colorError") icon beside the label of a span with an `error` tag.
            error: e.parentElement?.querySelector('svg.MuiSvgIcon-colorError') != null,
          })),
        this.service.length + 2,
      );
    } finally {
      await labels.dispose();
    }
  }

  /** Clicks the row at `index` and waits for the details panel to show that span. */
  async select(index: number, timeoutMs = 10_000): Promise<SpanDetails> {
    const row = (await this.rows())[index];
    if (!row) throw new Error(`Zipkin's page ${this.url} has no timeline row ${index}`);
    const labels = await this.page.evaluateHandle(timelineLabels, this.service);
    const { x, y } = await labels.evaluate((elements, i) => {
      elements[i]!.scrollIntoView({ block: 'center' });
      const box = elements[i]!.getBoundingClientRect();
      return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    }, index);
    await labels.dispose();
    await this.page.mouse.click(x, y);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const details = await this.page.evaluate(detailsPanel);
      if (details.name === row.name && Object.keys(details.tags).length > 0) return details;
      if (Date.now() > deadline)
        throw new Error(
          `Zipkin's details panel did not show span ${row.name} (row ${index}) after ${timeoutMs} ms: ` +
            JSON.stringify(details),
        );
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Folds a section of the details panel, e.g. the selected span's "Annotation" so that its tags show. */
  async fold(section: string, timeoutMs = 5_000): Promise<void> {
    if ((await this.page.evaluate(sectionHeight, section, true)) === undefined)
      throw new Error(`Zipkin's details panel has no section "${section}"`);
    const deadline = Date.now() + timeoutMs;
    while ((await this.page.evaluate(sectionHeight, section, false)) !== 0) {
      if (Date.now() > deadline)
        throw new Error(`Zipkin's details panel did not fold "${section}" in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async screenshot(file: string): Promise<void> {
    await this.page.screenshot({ path: file });
  }
}
