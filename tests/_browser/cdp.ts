// A headless Chromium for the viewer's end-to-end tests, driven over the
// DevTools protocol with Deno's own WebSocket: no npm package, nothing to
// download beyond Debian's `chromium`.

/** Flags for a quiet, sandbox-free, network-free headless browser. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  "--remote-debugging-port=0",
];
/** How long the browser may take to start or to answer one command. */
const TIMEOUT_MS = 20_000;
const NAMES = ["chromium", "chromium-browser", "google-chrome", "chrome"];

/**
 * The browser to use: $PYSOCKLOG_CHROMIUM, else the first of chromium,
 * chromium-browser, google-chrome found on the PATH; null when none is.
 */
export function findChromium(): string | null {
  const given = Deno.env.get("PYSOCKLOG_CHROMIUM");
  if (given) return given;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of NAMES) {
      const path = `${dir}/${name}`;
      try {
        if (Deno.statSync(path).isFile) return path;
      } catch {
        // not here
      }
    }
  }
  return null;
}

type Params = Record<string, unknown>;
type Listener = (params: Params, sessionId?: string) => void;

/** A running headless browser and its DevTools connection. */
export class Browser {
  readonly #child: Deno.ChildProcess;
  readonly #ws: WebSocket;
  readonly #dir: string;
  #nextId = 1;
  readonly #calls = new Map<
    number,
    { resolve: (v: Params) => void; reject: (e: Error) => void }
  >();
  readonly #listeners = new Map<string, Set<Listener>>();
  #closed = false;

  private constructor(child: Deno.ChildProcess, ws: WebSocket, dir: string) {
    this.#child = child;
    this.#ws = ws;
    this.#dir = dir;
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data as string);
      if (msg.id !== undefined) {
        const call = this.#calls.get(msg.id);
        if (call === undefined) return;
        this.#calls.delete(msg.id);
        if (msg.error) {
          call.reject(new Error(`CDP: ${msg.error.message}`));
        } else call.resolve(msg.result ?? {});
      } else {
        for (const fn of this.#listeners.get(msg.method) ?? []) {
          fn(msg.params ?? {}, msg.sessionId);
        }
      }
    };
    ws.onclose = () => {
      for (const call of this.#calls.values()) {
        call.reject(new Error("CDP: the browser went away"));
      }
      this.#calls.clear();
    };
  }

  /** Starts `path` headless with a new profile and connects to it. */
  static async launch(path: string): Promise<Browser> {
    const dir = await Deno.makeTempDir({ prefix: "pysocklog-chromium-" });
    const child = new Deno.Command(path, {
      args: [...FLAGS, `--user-data-dir=${dir}`, "about:blank"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let stderr = "";
    const endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`chromium did not start:\n${stderr}`)),
        TIMEOUT_MS,
      );
      (async () => {
        // Keep draining stderr for the browser's whole life.
        for await (
          const chunk of child.stderr.pipeThrough(new TextDecoderStream())
        ) {
          if (stderr.length < 64 * 1024) stderr += chunk;
          const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        }
        clearTimeout(timer);
        reject(new Error(`chromium exited:\n${stderr}`));
      })().catch(() => {});
    });
    const ws = new WebSocket(endpoint);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot connect to ${endpoint}`));
    });
    return new Browser(child, ws, dir);
  }

  /** Sends one command (to a page when `sessionId` is given). */
  send(method: string, params: Params = {}, sessionId?: string) {
    const id = this.#nextId++;
    return new Promise<Params>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id);
        reject(new Error(`CDP: ${method} timed out`));
      }, TIMEOUT_MS);
      this.#calls.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#ws.send(JSON.stringify({ id, method, params, sessionId }));
    });
  }

  /** Calls `fn` for each `method` event; returns a function that stops it. */
  on(method: string, fn: Listener): () => void {
    let set = this.#listeners.get(method);
    if (set === undefined) this.#listeners.set(method, set = new Set());
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Opens a new tab at about:blank, `width` x `height` CSS px. */
  async newPage(width = 1280, height = 760): Promise<Page> {
    const { targetId } = await this.send("Target.createTarget", {
      url: "about:blank",
    });
    const { sessionId } = await this.send("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const page = new Page(this, targetId as string, sessionId as string);
    await page.send("Page.enable");
    await page.send("Runtime.enable");
    await page.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
    return page;
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await Promise.race([
        this.send("Browser.close"),
        new Promise((r) => setTimeout(r, 3_000)),
      ]);
    } catch {
      // it is going away anyway
    }
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 5_000)),
    ]);
    if (!exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await this.#child.status;
    }
    try {
      this.#ws.close();
    } catch {
      // closed
    }
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/** One tab. */
export class Page {
  readonly browser: Browser;
  readonly targetId: string;
  readonly sessionId: string;

  constructor(browser: Browser, targetId: string, sessionId: string) {
    this.browser = browser;
    this.targetId = targetId;
    this.sessionId = sessionId;
  }

  send(method: string, params: Params = {}): Promise<Params> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** Loads `url` and waits for its load event. */
  async goto(url: string): Promise<void> {
    let loaded!: () => void;
    const done = new Promise<void>((r) => loaded = r);
    const off = this.browser.on("Page.loadEventFired", (_p, sessionId) => {
      if (sessionId === this.sessionId) loaded();
    });
    try {
      const result = await this.send("Page.navigate", { url });
      if (result.errorText) {
        throw new Error(`navigate ${url}: ${result.errorText}`);
      }
      await done;
    } finally {
      off();
    }
  }

  /** Evaluates `expression` in the page (awaiting a promise) and returns its value. */
  async eval<T = unknown>(expression: string): Promise<T> {
    const result = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (result.exceptionDetails) {
      const d = result.exceptionDetails as {
        text: string;
        exception?: { description?: string };
      };
      throw new Error(
        `in page: ${d.exception?.description ?? d.text}\n${expression}`,
      );
    }
    return (result.result as { value: T }).value;
  }

  /** Polls `expression` until it is truthy; returns its value. */
  async waitFor<T = unknown>(
    expression: string,
    timeoutMs = 10_000,
  ): Promise<T> {
    const end = Date.now() + timeoutMs;
    while (true) {
      const value = await this.eval<T>(expression);
      if (value) return value;
      if (Date.now() > end) {
        throw new Error(`timed out waiting for ${expression}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A real mouse click at the centre of the first element matching `selector`. */
  async click(selector: string): Promise<void> {
    const box = await this.eval<{ x: number; y: number } | null>(`(() => {
      const el = document.querySelector(${JSON.stringify(selector)});
      if (!el) return null;
      el.scrollIntoView({ block: "nearest" });
      const r = el.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    })()`);
    if (box === null) throw new Error(`no element ${selector}`);
    await this.clickAt(box.x, box.y);
  }

  /** A real mouse click at (x, y) CSS px of the viewport. */
  async clickAt(x: number, y: number): Promise<void> {
    for (const type of ["mousePressed", "mouseReleased"]) {
      await this.send("Input.dispatchMouseEvent", {
        type,
        x,
        y,
        button: "left",
        clickCount: 1,
      });
    }
  }

  /** Types `text` into the focused element, as keyboard input. */
  async type(text: string): Promise<void> {
    await this.send("Input.insertText", { text });
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", {
      format: "png",
    });
    return Uint8Array.from(atob(data as string), (c) => c.charCodeAt(0));
  }

  /** Closes the tab. */
  async close(): Promise<void> {
    await this.browser.send("Target.closeTarget", { targetId: this.targetId })
      .catch(() => {});
  }
}
