// pysocklog view: the page. No dependencies. Record data is untrusted: it
// reaches the DOM only through textContent and input values, never as HTML.
// Records arrive from /feed (server-sent events) in batches (one per 100 ms
// at most); the table draws only the rows in view. Over 600 lines as one
// job, the page's script: served as one file with no build step or module
// loader, so the CSP can stay script-src 'self'.
"use strict";

(() => {
  /** Records kept when the page's <meta name="pysocklog-buffer"> is absent. */
  const DEFAULT_BUFFER_RECORDS = 20000;
  /** Characters of record JSON kept when <meta name="pysocklog-buffer-chars"> is absent. */
  const DEFAULT_BUFFER_CHARS = 32 * 1024 * 1024;
  /** Row height in px: --row in style.css. */
  const ROW_HEIGHT = 20;
  /** Rows drawn above and below the visible ones, for smooth scrolling. */
  const OVERSCAN = 8;
  /** Most nodes in the logger tree; further loggers count under their nearest shown ancestor. */
  const MAX_TREE_NODES = 2000;
  /**
   * Deepest level of the logger tree; deeper loggers count under their
   * ancestor at this level. A name of 2,000 dotted parts nested the tree
   * 2,000 deep and froze the page for minutes; 1,000 levels took 0.1 s.
   */
  const MAX_TREE_DEPTH = 32;
  /**
   * Characters of each value drawn in a row or a tree label (the detail pane
   * has all of it). With logger, path, function and host of 30,000
   * characters each, uncut, a redraw took 250-500 ms instead of 12.
   */
  const MAX_ROW_CHARS = 500;
  /** Status line and tree counts are refreshed at most this often (ms). */
  const STATUS_INTERVAL_MS = 250;

  /**
   * The keys CPython's LogRecord has (and `message`); any other key is an
   * extra. The server sends them in its hello (record/_keys.ts is the one
   * list).
   */
  let STANDARD_KEYS = new Set();
  /** Extra keys a sender may use to say which host it runs on. */
  const HOST_KEYS = ["hostname", "host"];

  const $ = (id) => document.getElementById(id);
  const setting = (name, fallback) => {
    const meta = document.querySelector('meta[name="' + name + '"]');
    return Math.max(1, Math.floor(Number(meta && meta.content)) || fallback);
  };
  /** The page keeps at most BUFFER records and BUFFER_CHARS characters of their JSON. */
  const BUFFER = setting("pysocklog-buffer", DEFAULT_BUFFER_RECORDS);
  const BUFFER_CHARS = setting("pysocklog-buffer-chars", DEFAULT_BUFFER_CHARS);
  const token = new URLSearchParams(location.search).get("token");

  const viewport = $("viewport");
  const emptyEl = $("empty");
  const spacer = $("spacer");
  const statusEl = $("status");
  const treeEl = $("tree");

  /** Every record kept, oldest first: { id, r, levelno, node, size } */
  let records = [];
  let keptChars = 0;
  /** The records shown (filtered), oldest first; frozen while paused. */
  let shown = [];
  let nextId = 0;
  let paused = false;
  let newWhilePaused = 0;
  let minLevel = 0;
  let search = "";
  /** The record in the detail pane; it stays there when filters or the buffer drop it. */
  let selected = null;
  let follow = true;
  let received = 0;
  let lost = 0;
  let receiverReceived = 0;
  let receiverDropped = 0;
  /** UDP datagrams the kernel dropped (the server knows with --allow-ffi). */
  let kernelDrops = 0;
  let expectedSeq = -1;
  let instance = null;
  let connected = false;
  const rateWindow = []; // [time ms, received] samples

  // ---- formatting -------------------------------------------------------

  function text(value) {
    if (typeof value === "string") return value;
    if (value === null || value === undefined) return "";
    return JSON.stringify(value);
  }

  function two(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function timeText(created) {
    if (typeof created !== "number" || !isFinite(created)) return "??:??:??";
    const d = new Date(created * 1000);
    return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" +
      two(d.getSeconds()) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }

  function levelClass(levelno) {
    if (levelno >= 50) return "c-level lv-critical";
    if (levelno >= 40) return "c-level lv-error";
    if (levelno >= 30) return "c-level lv-warning";
    if (levelno >= 20) return "c-level lv-info";
    return "c-level lv-debug";
  }

  /** `s` cut to MAX_ROW_CHARS, at its end (or at its start: the end shows). */
  function cut(s, atStart) {
    if (s.length <= MAX_ROW_CHARS) return s;
    return atStart
      ? "…" + s.slice(s.length - MAX_ROW_CHARS)
      : s.slice(0, MAX_ROW_CHARS) + "…";
  }

  /** `pathname:lineno funcName`; in a row (`short`), each part cut. */
  function sourceText(r, short) {
    let s = text(r.pathname);
    if (short) s = cut(s, true);
    if (r.lineno !== undefined && r.lineno !== null) s += ":" + text(r.lineno);
    if (r.funcName) {
      s += " " + (short ? cut(text(r.funcName)) : text(r.funcName));
    }
    return s;
  }

  function senderText(r) {
    let host = "";
    for (const k of HOST_KEYS) {
      if (typeof r[k] === "string" && r[k] !== "") {
        host = r[k];
        break;
      }
    }
    const pid = typeof r.process === "number" ? "pid " + r.process : "";
    return host && pid ? host + " " + pid : host || pid;
  }

  // ---- logger tree ------------------------------------------------------

  let treeNodes = 0;
  /** Logger names past MAX_TREE_NODES (bounded, for the note under the tree). */
  const overflowNames = new Set();
  const byName = new Map(); // logger name -> node

  function makeNode(part, full, parent) {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = cut(part);
    const count = document.createElement("span");
    count.className = "count";
    label.append(box, name, count);
    const ul = document.createElement("ul");
    li.append(label, ul);
    const node = {
      part,
      full,
      parent,
      children: new Map(),
      enabled: true,
      effective: parent ? parent.effective : true,
      count: 0,
      shownCount: -1,
      li,
      ul,
      countEl: count,
    };
    li.dataset.logger = full;
    box.addEventListener("change", () => {
      node.enabled = box.checked;
      updateEffective(node);
      refilter();
    });
    return node;
  }

  const rootNode = {
    part: "",
    full: "",
    parent: null,
    children: new Map(),
    enabled: true,
    effective: true,
    count: 0,
    ul: treeEl,
  };

  function insertChild(parent, node) {
    // Siblings in name order.
    let before = null;
    for (const [part, child] of parent.children) {
      if (part > node.part && (!before || part < before.part)) before = child;
    }
    parent.children.set(node.part, node);
    parent.ul.insertBefore(node.li, before ? before.li : null);
  }

  function nodeFor(name) {
    let node = byName.get(name);
    if (node) return node;
    node = rootNode;
    const parts = name === "" ? ["root"] : name.split(".");
    let full = "";
    for (let i = 0; i < parts.length; i++) {
      full = i === 0 ? parts[0] : full + "." + parts[i];
      let child = node.children.get(parts[i]);
      if (!child) {
        if (treeNodes >= MAX_TREE_NODES || i >= MAX_TREE_DEPTH) {
          if (overflowNames.size < MAX_TREE_NODES) overflowNames.add(name);
          break;
        }
        child = makeNode(parts[i], full, node);
        treeNodes++;
        insertChild(node, child);
      }
      node = child;
    }
    if (byName.size < MAX_TREE_NODES * 4) byName.set(name, node);
    return node;
  }

  function updateEffective(node) {
    node.effective = node.enabled &&
      (node.parent ? node.parent.effective : true);
    if (node.li) node.li.classList.toggle("off", !node.effective);
    for (const child of node.children.values()) updateEffective(child);
  }

  function countUp(node, delta) {
    for (let n = node; n; n = n.parent) n.count += delta;
  }

  function refreshCounts(node) {
    for (const child of node.children.values()) {
      if (child.count !== child.shownCount) {
        child.shownCount = child.count;
        child.countEl.textContent = child.count.toLocaleString("en-US");
      }
      refreshCounts(child);
    }
  }

  // ---- filtering ----------------------------------------------------------

  function matches(e) {
    if (e.levelno < minLevel || !e.node.effective) return false;
    if (search === "") return true;
    const r = e.r;
    return (text(r.msg) + "\n" + text(r.name) + "\n" + text(r.exc_text))
      .toLowerCase().includes(search);
  }

  function refilter() {
    if (paused) return;
    shown = records.filter(matches);
    render(true);
    // The status line refreshes by itself only while records arrive: a
    // filter changed after they stop must refresh its count too.
    scheduleStatus();
  }

  // ---- receiving ----------------------------------------------------------

  function addBatch(batch) {
    const list = batch.records;
    // Sequence numbers say what this page missed (records that left the
    // server's history before this page read them; an empty batch when the
    // viewer stops says what it never sent) and what it already has (a
    // reconnect resends nothing twice).
    let start = 0;
    if (expectedSeq >= 0) {
      if (batch.first > expectedSeq) lost += batch.first - expectedSeq;
      else start = Math.min(list.length, expectedSeq - batch.first);
    }
    expectedSeq = Math.max(expectedSeq, batch.first + list.length);
    receiverReceived = batch.received;
    receiverDropped = batch.dropped;
    if (typeof batch.kernelDrops === "number") kernelDrops = batch.kernelDrops;
    const sizes = Array.isArray(batch.sizes) ? batch.sizes : [];
    for (let i = start; i < list.length; i++) {
      const r = list[i];
      if (r === null || typeof r !== "object") continue;
      const levelno = typeof r.levelno === "number" ? r.levelno : 0;
      const node = nodeFor(typeof r.name === "string" ? r.name : text(r.name));
      const size = typeof sizes[i] === "number" ? sizes[i] : 1000;
      const e = { id: nextId++, r, levelno, node, size };
      countUp(node, 1);
      keptChars += size;
      records.push(e);
      received++;
      if (paused) newWhilePaused++;
      else if (matches(e)) shown.push(e);
    }
    let gone = Math.max(0, records.length - BUFFER);
    for (let i = 0; i < gone; i++) keptChars -= records[i].size;
    while (keptChars > BUFFER_CHARS && gone < records.length - 1) {
      keptChars -= records[gone++].size;
    }
    if (gone > 0) {
      for (let i = 0; i < gone; i++) countUp(records[i].node, -1);
      const lastGone = records[gone - 1].id;
      records = records.slice(gone);
      if (!paused) {
        const k = firstAfter(shown, lastGone);
        if (k > 0) {
          shown = shown.slice(k);
          if (!follow) scrollTop = Math.max(0, scrollTop - k * ROW_HEIGHT);
        }
      }
    }
    if (!paused) render(false);
  }

  /** Index of the first entry with an id above `id` (entries are in id order). */
  function firstAfter(list, id) {
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].id <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function connect() {
    const url = "/feed" + (token ? "?token=" + encodeURIComponent(token) : "");
    const source = new EventSource(url);
    source.addEventListener("hello", (ev) => {
      const hello = JSON.parse(ev.data);
      STANDARD_KEYS = new Set(hello.standardKeys);
      // A new viewer process (or the first hello): count from the seq this
      // feed starts at, so a gap before the first batch is counted too. A
      // reconnect to the same process keeps counting where it was.
      if (hello.instance !== instance) {
        expectedSeq = Number.isSafeInteger(hello.next) && hello.next >= 0
          ? hello.next
          : -1;
      }
      instance = hello.instance;
      connected = true;
      scheduleStatus();
    });
    source.addEventListener("message", (ev) => {
      addBatch(JSON.parse(ev.data));
      scheduleStatus();
    });
    source.addEventListener("error", () => {
      connected = false;
      scheduleStatus();
    });
  }

  // ---- the table ------------------------------------------------------------

  const pool = [];
  let renderQueued = false;
  let forceRedraw = false;

  function render(force) {
    forceRedraw = forceRedraw || force;
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(draw);
  }

  function makeRow() {
    const row = document.createElement("div");
    row.className = "row";
    const cells = ["c-time", "c-level", "c-name", "c-msg", "c-src", "c-from"]
      .map((c) => {
        const span = document.createElement("span");
        span.className = c;
        row.append(span);
        if (c !== "c-src") return span;
        // A long path is cut at its start: the file and line stay in view.
        const inner = document.createElement("span");
        span.append(inner);
        return inner;
      });
    spacer.append(row);
    return { row, cells, entry: null, top: -1, selected: false };
  }

  function fill(slot, e) {
    const r = e.r;
    const c = slot.cells;
    const msg = text(r.msg);
    c[0].textContent = timeText(r.created);
    c[1].textContent = typeof r.levelname === "string"
      ? cut(r.levelname)
      : "Level " + e.levelno;
    c[1].className = levelClass(e.levelno);
    c[2].textContent = cut(text(r.name));
    c[3].textContent = cut(msg);
    c[4].textContent = sourceText(r, true);
    c[5].textContent = cut(senderText(r));
    slot.entry = e;
  }

  // Geometry known without asking the browser, so that a draw makes all its
  // changes first and forces at most one layout (setting scrollTop last).
  let viewportHeight = viewport.clientHeight;
  let spacerHeight = 0;
  /** Where the table is scrolled to (what draw() shows). */
  let scrollTop = 0;
  /** The scrollTop the browser last had from us or reported. */
  let appliedTop = 0;

  function draw() {
    renderQueued = false;
    let force = forceRedraw;
    forceRedraw = false;
    const total = shown.length;
    const full = total * ROW_HEIGHT;
    const maxTop = Math.max(0, full - viewportHeight);
    scrollTop = follow ? maxTop : Math.min(scrollTop, maxTop);
    const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(
      total,
      Math.ceil((scrollTop + viewportHeight) / ROW_HEIGHT) + OVERSCAN,
    );
    if (pool.length < last - first) {
      while (pool.length < last - first) pool.push(makeRow());
      force = true; // the ring's size changed: every row moves
    }
    // Row j of the table is drawn by pool[j % pool.length]: scrolling by a
    // row redraws one row, not all of them.
    const n = pool.length;
    for (let i = 0; i < n; i++) {
      const slot = pool[i];
      let j = first + ((i - first) % n + n) % n;
      if (j >= last) j = -1;
      if (j < 0) {
        if (slot.entry !== null) {
          slot.row.hidden = true;
          slot.entry = null;
        }
        continue;
      }
      const e = shown[j];
      if (force || slot.entry !== e) {
        fill(slot, e);
        slot.row.hidden = false;
      }
      const y = j * ROW_HEIGHT;
      if (slot.top !== y) {
        slot.top = y;
        slot.row.style.transform = "translateY(" + y + "px)";
      }
      const isSelected = e === selected;
      if (slot.selected !== isSelected) {
        slot.selected = isSelected;
        slot.row.classList.toggle("selected", isSelected);
      }
    }
    if (full !== spacerHeight) {
      spacerHeight = full;
      spacer.style.height = full + "px";
    }
    const empty = records.length > 0;
    if (emptyEl.hidden !== empty) emptyEl.hidden = empty;
    if (scrollTop !== appliedTop) {
      appliedTop = scrollTop;
      viewport.scrollTop = scrollTop;
    }
  }

  viewport.addEventListener("scroll", () => {
    const top = viewport.scrollTop;
    if (top === appliedTop) return; // our own
    appliedTop = scrollTop = top;
    follow = top >= spacerHeight - viewportHeight - ROW_HEIGHT;
    render(false);
  }, { passive: true });
  new ResizeObserver(() => {
    viewportHeight = viewport.clientHeight;
    render(false);
  }).observe(viewport);

  spacer.addEventListener("click", (ev) => {
    const row = ev.target.closest(".row");
    const slot = row && pool.find((s) => s.row === row);
    if (slot && slot.entry) select(slot.entry);
  });

  viewport.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    ev.preventDefault();
    let i = selected ? shown.indexOf(selected) : shown.length;
    i += ev.key === "ArrowDown" ? 1 : -1;
    if (i >= 0 && i < shown.length) {
      select(shown[i]);
      const y = i * ROW_HEIGHT;
      if (y < viewport.scrollTop) viewport.scrollTop = y;
      else if (y + ROW_HEIGHT > viewport.scrollTop + viewport.clientHeight) {
        viewport.scrollTop = y + ROW_HEIGHT - viewport.clientHeight;
      }
    }
  });

  // ---- the selected record ------------------------------------------------------

  function select(e) {
    selected = e;
    const pane = $("detail");
    if (e === null) {
      pane.hidden = true;
      render(false);
      return;
    }
    const r = e.r;
    pane.hidden = false;
    const when = typeof r.created === "number" && isFinite(r.created)
      ? new Date(r.created * 1000).toISOString()
      : "";
    // Each value in its own bidi-isolated span: a right-to-left override
    // in a logger name drew the time, source and pid after it mirrored.
    const head = [];
    const part = (value, sep) => {
      if (value === "") return;
      if (head.length > 0) head.push(sep);
      const span = document.createElement("span");
      span.textContent = value;
      head.push(span);
    };
    part(
      typeof r.levelname === "string" ? r.levelname : "Level " + e.levelno,
    );
    for (const value of [text(r.name), when, sourceText(r)]) part(value, "   ");
    let sep = "   ";
    for (
      const value of [text(r.processName), senderText(r), text(r.threadName)]
    ) {
      if (value === "") continue;
      part(value, sep);
      sep = " · ";
    }
    $("detail-head").replaceChildren(...head);
    $("detail-msg").textContent = text(r.msg);
    showOptional("detail-exc", r.exc_text);
    showOptional("detail-stack", r.stack_info);
    const dl = $("detail-extra");
    dl.replaceChildren();
    for (const key of Object.keys(r)) {
      if (STANDARD_KEYS.has(key)) continue;
      const dt = document.createElement("dt");
      dt.textContent = key;
      const dd = document.createElement("dd");
      const pre = document.createElement("pre");
      const value = r[key];
      pre.textContent = JSON.stringify(value, null, 2);
      if (value && typeof value === "object" && "$bytes" in value) {
        pre.className = "bytes";
        pre.title = "bytes, base64";
      }
      dd.append(pre);
      dl.append(dt, dd);
    }
    if (!dl.firstChild) {
      const dd = document.createElement("dd");
      dd.textContent = "(none)";
      dl.append(dd);
    }
    render(false);
  }

  function showOptional(id, value) {
    const has = value !== null && value !== undefined && value !== "";
    $(id).hidden = !has;
    $(id + "-title").hidden = !has;
    $(id).textContent = has ? text(value) : "";
  }

  // ---- controls -------------------------------------------------------------

  $("level").addEventListener("change", (ev) => {
    minLevel = Number(ev.target.value) || 0;
    refilter();
  });

  let searchTimer = 0;
  $("search").addEventListener("input", (ev) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      search = ev.target.value.toLowerCase();
      refilter();
    }, 120);
  });

  $("pause").addEventListener("click", (ev) => {
    paused = !paused;
    ev.target.textContent = paused ? "Resume" : "Pause";
    ev.target.classList.toggle("on", paused);
    if (!paused) {
      newWhilePaused = 0;
      refilter();
    }
    scheduleStatus();
  });

  $("clear").addEventListener("click", () => {
    for (const e of records) countUp(e.node, -1);
    records = [];
    keptChars = 0;
    shown = [];
    newWhilePaused = 0;
    select(null);
    follow = true;
    render(true);
    scheduleStatus();
  });

  $("export").addEventListener("click", () => {
    const lines = shown.map((e) => JSON.stringify(e.r) + "\n");
    const blob = new Blob(lines, { type: "application/x-ndjson" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    const stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
    a.download = "pysocklog-" + stamp + ".jsonl";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  });

  // ---- status line --------------------------------------------------------------

  let statusQueued = false;

  function scheduleStatus() {
    if (statusQueued) return;
    statusQueued = true;
    setTimeout(updateStatus, STATUS_INTERVAL_MS);
  }

  function updateStatus() {
    statusQueued = false;
    const now = performance.now();
    rateWindow.push([now, received]);
    while (rateWindow.length > 2 && now - rateWindow[0][0] > 2000) {
      rateWindow.shift();
    }
    const [t0, n0] = rateWindow[0];
    const rate = now - t0 > 0
      ? Math.round((received - n0) * 1000 / (now - t0))
      : 0;
    const fmt = (n) => n.toLocaleString("en-US");
    const dot = document.createElement("span");
    dot.className = connected ? "live" : "down";
    dot.textContent = connected ? "● live" : "● disconnected";
    const parts = [
      fmt(shown.length) + " shown",
      fmt(records.length) + " kept (max " + fmt(BUFFER) + ")",
      fmt(received) + " received",
      fmt(rate) + "/s",
    ];
    if (lost > 0) parts.push(fmt(lost) + " not delivered to this page");
    if (receiverDropped > 0) {
      parts.push(fmt(receiverDropped) + " bad frames dropped");
    }
    if (kernelDrops > 0) {
      parts.push(fmt(kernelDrops) + " UDP datagrams dropped by the kernel");
    }
    if (paused) parts.push("paused, " + fmt(newWhilePaused) + " new");
    statusEl.replaceChildren(dot, " " + parts.join(" · "));
    const d = statusEl.dataset;
    d.shown = shown.length;
    d.kept = records.length;
    d.received = received;
    d.rate = rate;
    d.lost = lost;
    d.receiverReceived = receiverReceived;
    d.receiverDropped = receiverDropped;
    d.kernelDrops = kernelDrops;
    d.connected = connected;
    d.paused = paused;
    refreshCounts(rootNode);
    $("tree-note").textContent = overflowNames.size > 0
      ? (overflowNames.size >= MAX_TREE_NODES ? "over " : "") +
        fmt(overflowNames.size) + " loggers past the tree's " +
        fmt(MAX_TREE_NODES) + " nodes or " + MAX_TREE_DEPTH +
        " levels count under their nearest shown ancestor"
      : "";
    if (rateWindow.length > 1 && rate > 0) scheduleStatus();
  }

  connect();
  render(true);
  scheduleStatus();
})();
