// Test helper for driving the console renderer with Playwright: the app frame, one operation at a
// time (click, wait for the progress banner to go, read the message), and full-height screenshots.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Frame, FrameLocator, Locator, Page } from "playwright-core";

export interface Outcome {
  kind: "ok" | "error" | "info" | "none";
  text: string;
}

export class ConsoleUi {
  constructor(readonly page: Page) {}

  get app(): FrameLocator {
    return this.page.frameLocator("#app");
  }

  frame(): Frame {
    const f = this.page.frames().find((x) => x.url().includes("/app.html"));
    if (!f) throw new Error("the app frame is not loaded");
    return f;
  }

  region(name: string | RegExp): Locator {
    return this.app.getByRole("region", { name });
  }

  /** Clicks and waits until the operation it started has finished; returns the message shown. */
  async act(target: Locator): Promise<Outcome> {
    await target.click();
    await this.app.locator("#busy.on").waitFor({ state: "detached", timeout: 180_000 });
    const fl = this.app.locator("#flash");
    if ((await fl.count()) === 0) return { kind: "none", text: "" };
    const cls = (await fl.getAttribute("class")) ?? "";
    const kind = cls.includes("f-error") ? "error" : cls.includes("f-ok") ? "ok" : "info";
    return { kind, text: await fl.innerText() };
  }

  /** Like act(), but fails the test unless the console reported no error. */
  async ok(target: Locator): Promise<Outcome> {
    const r = await this.act(target);
    if (r.kind === "error") throw new Error(`the console reported an error: ${r.text}`);
    return r;
  }

  async nav(label: string): Promise<void> {
    await this.ok(this.app.getByRole("navigation", { name: "Screens" }).getByRole("button", { name: label }));
  }

  /**
   * Screenshot of the whole app document (the viewport grows to its height for the shot), or with
   * `clip` of the part from the top of `clip.from` to the bottom of `clip.to` (full app width).
   * Focus is taken off the control last used and the app scrolled to the top before the resize, and
   * both documents must have painted at the new size before the capture: otherwise Chromium may
   * capture the app frame still at the old height, scrolled to the control (an image that is mostly blank).
   */
  async shot(
    dir: string | undefined,
    name: string,
    clip?: { from: Locator; to: Locator },
  ): Promise<string | undefined> {
    if (!dir) return undefined;
    mkdirSync(dir, { recursive: true });
    const frame = this.frame();
    const focused = await frame.evaluate(() => {
      const a = document.activeElement as HTMLElement | null;
      const id = a && a !== document.body ? a.id : "";
      a?.blur();
      window.scrollTo(0, 0);
      return id;
    });
    const height = await frame.evaluate(() => document.documentElement.scrollHeight);
    const vp = this.page.viewportSize() ?? { width: 1440, height: 1000 };
    const h = Math.min(Math.max(height, 700), 6000);
    await this.page.setViewportSize({ width: vp.width, height: h });
    await frame.waitForFunction((want) => window.innerHeight >= want - 2, h);
    const painted = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    await frame.evaluate(() => window.scrollTo(0, 0));
    await frame.evaluate(painted);
    await this.page.evaluate(painted);
    await frame.waitForFunction(() => window.scrollY === 0);
    const path = join(dir, name);
    if (clip) {
      const a = await clip.from.boundingBox();
      const b = await clip.to.boundingBox();
      if (!a || !b) throw new Error(`${name}: the part to capture is not on screen`);
      const pad = 12;
      const x = Math.max(0, Math.min(a.x, b.x) - pad);
      const y = Math.max(0, a.y - pad);
      const right = Math.max(a.x + a.width, b.x + b.width) + pad;
      await this.page.screenshot({ path, clip: { x, y, width: right - x, height: b.y + b.height + pad - y } });
    } else await this.page.screenshot({ path });
    await this.page.setViewportSize(vp);
    if (focused) await frame.evaluate((id) => document.getElementById(id)?.focus({ preventScroll: true }), focused);
    return path;
  }
}
