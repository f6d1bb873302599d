// indexer's pages: each fills itself from the JSON API. Plain DOM, no
// framework, nothing fetched from elsewhere.
"use strict";

const $ = (sel) => document.querySelector(sel);

// el builds an element: el("td", {class: "num"}, "text", child...).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function size(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function num(n) { return Number(n).toLocaleString("en"); }

function when(t) { return t ? t.replace("T", " ").slice(0, 16) : ""; }

// api fetches a JSON endpoint; an error answer becomes an exception with
// the server's sentence. The browser asks the server each time (cache
// "no-cache" revalidates its copy by ETag): the server's cache knows of
// writes the browser cannot, and answers 304 when the copy is current.
async function api(path, opts) {
  const r = await fetch(path, Object.assign({headers: {"Accept": "application/json"}, cache: "no-cache"}, opts));
  const body = await r.json().catch(() => ({error: "the server's answer is not JSON (" + r.status + ")"}));
  if (!r.ok && !(path.startsWith("/api/health") && body.status)) throw new Error(body.error || r.statusText);
  return body;
}

function showError(where, err) {
  where.replaceChildren(el("p", {class: "error", role: "alert"}, err.message));
}

// table builds a table; each cell carries its column's name (data-label),
// which a phone-width screen shows before the cell as the rows stack.
function table(head, rows) {
  for (const r of rows) [...r.cells].forEach((c, i) => { if (head[i]) c.dataset.label = head[i]; });
  return el("table", {}, el("thead", {}, el("tr", {}, head.map((h) => el("th", {scope: "col"}, h)))),
    el("tbody", {}, rows));
}

// place shows a file's location: machine, path (inner archive path too).
function place(f) {
  return (f.machine ? f.machine + ":" : "") + f.path + (f.archive_path ? "::" + f.archive_path : "");
}

// shellPath returns a file's path as it can be pasted: the path itself, or,
// when it is not valid UTF-8 (the answer then carries path_b64 with its
// bytes), a $'...' word of bash and zsh that names exactly those bytes. A
// file on a volume mounted now has the path it has there (abs_path); one on
// a volume that is not mounted has none (null).
function shellPath(f) {
  if (f.volume) {
    if (!f.volume.mounted) return null;
    return bashWord(f.volume.abs_path, f.volume.abs_path_b64);
  }
  return bashWord(f.path, f.path_b64);
}

// bashWord is path itself, or, when b64 holds its bytes (it is not valid
// UTF-8), a $'...' word naming them.
function bashWord(path, b64) {
  if (!b64) return path;
  let out = "$'";
  for (const c of atob(b64)) {
    const b = c.charCodeAt(0);
    if (c === "'" || c === "\\") out += "\\" + c;
    else if (b >= 0x20 && b < 0x7f) out += c;
    else out += "\\x" + b.toString(16).padStart(2, "0");
  }
  return out + "'";
}

// volumeTag names the volume of a file on one, as the CLI does: "[LABEL] ",
// and "(offline) " while it is not mounted; null for other files.
function volumeTag(f) {
  if (!f.volume) return null;
  return "[" + (f.volume.label || f.volume.uuid) + "] " + (f.volume.mounted ? "" : "(offline) ");
}

// copyButton copies a file's path (see shellPath) to the clipboard.
function copyButton(f) {
  const text = shellPath(f);
  if (text === null) {
    const name = f.volume.label || f.volume.uuid;
    return el("button", {type: "button", class: "copy", disabled: true, title: "volume " + name + " is not mounted",
      "aria-label": "volume " + name + " is not mounted"}, "offline");
  }
  return el("button", {type: "button", class: "copy", title: "Copy the path", "aria-label": "Copy the path", "data-copy": text,
    onclick: (ev) => {
      const b = ev.currentTarget;
      if (navigator.clipboard) {
        navigator.clipboard.writeText(text).then(() => { b.textContent = "copied"; }, () => { b.textContent = "select it"; });
      } else {
        b.textContent = "select it";
      }
    }}, "copy");
}

function fileLink(sha256, label) {
  return el("a", {href: "/file?hash=" + encodeURIComponent(sha256)}, label);
}

// formParams returns a form's non-empty fields as URLSearchParams.
function formParams(form) {
  const p = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (String(v).trim() !== "") p.set(k, String(v).trim());
  return p;
}

// fillForm sets a form's fields from the page URL, so a page is bookmarkable.
function fillForm(form, params) {
  for (const [k, v] of params) {
    const f = form.elements[k];
    if (!f) continue;
    if (f.type === "checkbox") f.checked = v === "true";
    else f.value = v;
  }
}

async function machineOptions(select, keepAll) {
  const ms = await api("/api/machines");
  const cur = select.value;
  if (!keepAll) select.replaceChildren();
  for (const m of ms) select.append(el("option", {value: m}, m));
  if (cur) select.value = cur;
  return ms;
}

// --- pages ---

async function overview() {
  try {
    const st = await api("/api/stats?scans=5");
    $("#totals").replaceChildren(el("dl", {class: "totals"},
      el("dt", {}, "Files"), el("dd", {}, num(st.files) + " (" + size(st.bytes) + ")"),
      el("dt", {}, "Deleted"), el("dd", {}, num(st.deleted)),
      el("dt", {}, "Archive entries"), el("dd", {}, num(st.archive_entries)),
      el("dt", {}, "Duplicate groups"), el("dd", {}, num(st.duplicate_groups) + " (" + num(st.duplicate_files) + " files)"),
      el("dt", {}, "Reclaimable"), el("dd", {id: "reclaimable"}, size(st.reclaimable_bytes))));
    $("#machines").replaceChildren(table(["Machine", "Files", "Bytes", "Deleted"],
      st.machines.map((m) => el("tr", {}, el("td", {}, m.machine), el("td", {class: "num"}, num(m.files)),
        el("td", {class: "num"}, size(m.bytes)), el("td", {class: "num"}, num(m.deleted))))));
    $("#lastscans").replaceChildren(scanTable(st.last_scans || []));
    const d = await api("/api/dupes?limit=5");
    $("#topdupes").replaceChildren(d.groups.length === 0 ? el("p", {}, "No duplicates.") :
      table(["Reclaimable", "Copies", "Size", "Content"], d.groups.map((g) => el("tr", {},
        el("td", {class: "num"}, size(g.reclaimable)), el("td", {class: "num"}, g.count),
        el("td", {class: "num"}, size(g.size)), el("td", {}, fileLink(g.sha256, g.sha256.slice(0, 16) + "…"))))));
    const h = await api("/api/health");
    $("#health").replaceChildren(el("p", {class: "status-" + h.status}, "Catalog " + h.status),
      table(["Check", "Status", "Detail"], h.checks.map((c) => el("tr", {}, el("td", {}, c.name),
        el("td", {class: "status-" + c.status}, c.status), el("td", {}, c.detail || "")))));
  } catch (err) {
    showError($("#totals"), err);
  }
}

function scanTable(scans) {
  if (scans.length === 0) return el("p", {}, "No scans yet.");
  return table(["#", "Machine", "Started", "Status", "Files seen", "Roots"], scans.map((s) => el("tr", {},
    el("td", {}, s.id), el("td", {}, s.machine), el("td", {}, when(s.started)), el("td", {}, s.status),
    el("td", {class: "num"}, num(s.files_seen)), el("td", {}, (s.roots || []).join(" ")))));
}

// pager runs a paged listing whose state is in the URL: load(params, current)
// renders one page unless current() has turned false (a newer request), and
// tells whether there is another page. Each page and each search is
// an entry of the browser's history, so a page can be bookmarked, reloaded,
// and left and come back to with Back and Forward.
function pager(form, limit, load) {
  let offset = 0;
  // latest numbers the newest request: an older one's answer, arriving
  // after it (two quick Backs), is dropped, not shown under its page number.
  let latest = 0;
  function fromURL() {
    const params = new URLSearchParams(location.search);
    form.reset();
    fillForm(form, params);
    offset = Math.max(0, Math.floor(Number(params.get("offset")) || 0));
  }
  fromURL();
  async function show(push) {
    const p = formParams(form);
    if (offset > 0) p.set("offset", offset);
    const url = location.pathname + (p.toString() ? "?" + p : "");
    if (push) history.pushState(null, "", url);
    else history.replaceState(null, "", url);
    p.set("limit", limit);
    p.set("offset", offset);
    $("#prev").disabled = $("#next").disabled = true; // until this page is shown
    const seq = ++latest;
    const current = () => seq === latest;
    let more = false;
    try {
      more = await load(p, current);
    } catch (err) {
      if (current()) showError($("#summary"), err);
    }
    if (!current()) return;
    $("#prev").disabled = offset === 0;
    $("#next").disabled = !more;
    $("#pageno").textContent = "page " + (Math.floor(offset / limit) + 1);
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); offset = 0; show(true); });
  $("#prev").addEventListener("click", () => { offset = Math.max(0, offset - limit); show(true); });
  $("#next").addEventListener("click", () => { offset += limit; show(true); });
  window.addEventListener("popstate", () => { fromURL(); show(false); });
  return show;
}

function dupes() {
  const form = $("#filters");
  const limit = 20;
  const show = pager(form, limit, async (p, current) => {
    p.set("times", "true"); // each file's modified, read for this page only
    const d = await api("/api/dupes?" + p);
    if (!current()) return false;
    $("#summary").textContent = num(d.groups_total) + " groups, " + num(d.files_total) + " files, " +
      size(d.reclaimable_total) + " reclaimable" +
      (d.groups.length > 0 ? "; groups " + num(d.offset + 1) + "–" + num(d.offset + d.groups.length) + " shown" : "");
    $("#groups").replaceChildren(...d.groups.map((g) => el("section", {class: "group"},
      el("h2", {}, g.count + " copies of " + size(g.size) + ", " + size(g.reclaimable) + " reclaimable ",
        fileLink(g.sha256, "sha256 " + g.sha256.slice(0, 12) + "…")),
      table(["Path", "Machine", "Size", "Modified (UTC)", ""], g.files.map((f) => el("tr", {},
        el("td", {class: "path"}, volumeTag(f), f.path + (f.archive_path ? "::" + f.archive_path : ""),
          f.linked ? el("span", {class: "tag"}, " [linked]") : null),
        el("td", {}, f.machine), el("td", {class: "num"}, size(g.size)), el("td", {class: "when"}, when(f.modified)),
        el("td", {}, copyButton(f))))))));
    return d.offset + d.groups.length < d.groups_total;
  });
  machineOptions(form.elements.machine, true).then(() => {
    fillForm(form, new URLSearchParams(location.search));
    return show();
  }).catch((err) => showError($("#summary"), err));
  dedupePanel(form, show);
}

// dedupePanel builds a plan on the server (POST /api/dedupe/plan) with the
// filters of the listing and the rules chosen, shows it with a "keep" box
// per copy, lets a group be inverted, and sends the plan as shown to POST
// /api/dedupe/apply. The server refuses a group left with no copy.
function dedupePanel(filters, refresh) {
  const form = $("#planform");
  let plan = null, planText = "";
  // copiesOf lists a group's copies, kept first, each with whether it is a
  // reference copy (never acted on).
  const copiesOf = (g) => [{c: g.keep, ref: false, kept: true}]
    .concat((g.reference || []).map((c) => ({c, ref: true, kept: true})))
    .concat((g.act || []).map((c) => ({c, ref: false, kept: false})));
  function render() {
    let files = 0, bytes = 0;
    for (const g of plan.groups) { files += g.act.reduce((n, c) => n + c.names.length, 0); bytes += g.act.length * g.size; }
    $("#plansummary").textContent = "Plan: " + plan.action + " " + num(files) + " files in " + num(plan.groups.length) +
      " groups on " + plan.machine + ", " + size(bytes) + " reclaimable.";
    $("#plan").replaceChildren(...plan.groups.map((g, gi) => {
      const rows = copiesOf(g).map((x, ci) => el("tr", {},
        el("td", {}, el("input", {type: "checkbox", class: "keep", "data-group": gi, "data-copy": ci,
          "aria-label": "keep " + x.c.names[0].path, checked: x.kept, disabled: x.ref})),
        el("td", {class: "path"}, x.c.names.map((n) => n.path).join("\n")),
        el("td", {}, x.ref ? "reference" : x.c.rule)));
      return el("section", {class: "group plangroup"},
        el("h3", {}, size(g.size) + ", sha256 " + g.sha256.slice(0, 12) + "… ",
          el("button", {type: "button", class: "invert", onclick: () => {
            for (const b of $("#plan").querySelectorAll('input.keep[data-group="' + gi + '"]')) if (!b.disabled) b.checked = !b.checked;
          }}, "Invert")),
        table(["Keep", "Path", "Why"], rows));
    }));
    $("#applybar").hidden = plan.groups.length === 0;
    $("#confirmdelete").parentElement.hidden = plan.action !== "delete";
  }
  // kept lists, for each group, the copies ticked, by their index in
  // copiesOf order: the server keeps the first, leaves the others alone
  // and acts on the rest.
  function kept() {
    return plan.groups.map((g, gi) => [...$("#plan").querySelectorAll('input.keep[data-group="' + gi + '"]')]
      .filter((b) => b.checked).map((b) => Number(b.dataset.copy)));
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#applied").replaceChildren();
    const f = new FormData(filters);
    const keep = [form.elements.keep.value];
    const under = form.elements.keep_under.value.trim();
    if (under !== "") keep.unshift("under:" + under);
    const body = {action: form.elements.action.value, keep, under: String(f.get("under") || "").trim(),
      min_size: String(f.get("min_size") || "").trim()};
    try {
      // The plan goes back as the server wrote it: its inodes and times in
      // nanoseconds are beyond what a JavaScript number holds exactly.
      const r = await fetch("/api/dedupe/plan", {method: "POST", headers: {"Content-Type": "application/json", "Accept": "application/json"}, body: JSON.stringify(body)});
      planText = await r.text();
      plan = JSON.parse(planText);
      if (!r.ok) throw new Error(plan.error || r.statusText);
      render();
    } catch (err) {
      plan = null;
      $("#plan").replaceChildren();
      $("#applybar").hidden = true;
      showError($("#plansummary"), err);
    }
  });
  $("#applyplan").addEventListener("click", async () => {
    const body = '{"plan": ' + planText + ', "kept": ' + JSON.stringify(kept()) + ', "yes": ' + $("#confirmdelete").checked + "}";
    try {
      const r = await api("/api/dedupe/apply", {method: "POST", headers: {"Content-Type": "application/json"}, body});
      const lines = r.events.map((e) => el("li", {}, e.action === "skip" ? "skip " + e.path + ": " + e.reason :
        e.action + " " + e.path + (e.trash ? " -> " + e.trash : " = " + e.kept) + (e.note ? " (note: " + e.note + ")" : "")));
      $("#applied").replaceChildren(el("p", {class: "summary"}, "Applied " + num(r.applied) + ", skipped " + num(r.skipped.length) +
        ", " + size(r.bytes_reclaimed) + " reclaimed."),
        r.manifest ? el("p", {}, "Undo with: indexer dedupe undo " + r.manifest) : null, el("ul", {}, lines));
      plan = null;
      $("#plan").replaceChildren();
      $("#applybar").hidden = true;
      $("#plansummary").textContent = "";
      refresh();
    } catch (err) {
      showError($("#applied"), err);
    }
  });
}

function search() {
  const form = $("#filters");
  const show = pager(form, 50, async (p, current) => {
    const d = await api("/api/find?" + p);
    if (!current()) return false;
    $("#summary").textContent = d.files.length === 0 ? "Nothing found." :
      "Results " + (d.offset + 1) + "–" + (d.offset + d.files.length) + (d.more ? ", more follow" : "");
    $("#results").replaceChildren(table(["Path", "Machine", "Size", "Modified (UTC)", ""], d.files.map((f) => el("tr", {},
      el("td", {class: "path"}, f.sha256 ? fileLink(f.sha256, f.path + (f.archive_path ? "::" + f.archive_path : "")) : f.path,
        f.operation === "DEL" ? " (deleted)" : ""),
      el("td", {}, f.machine), el("td", {class: "num"}, size(f.size)), el("td", {}, when(f.modified)),
      el("td", {}, copyButton(f))))));
    return d.more;
  });
  show();
}

function tree() {
  const form = $("#filters");
  fillForm(form, new URLSearchParams(location.search));
  // level lists one directory under parent; a click on a directory, or Enter
  // or Space on it, opens it (a disclosure button: Tab moves between them).
  async function level(parent, machine, path) {
    const d = await api("/api/tree?" + new URLSearchParams({machine, path}));
    const ul = el("ul", {});
    for (const e of d.entries) {
      const label = e.name + (e.dir ? "/" : "") + " — " + num(e.files) + " files, " + size(e.bytes) +
        (e.dup_bytes ? ", " + size(e.dup_bytes) + " duplicated" : "");
      const li = el("li", {});
      if (e.dir) {
        const b = el("button", {type: "button", class: "dir", "aria-expanded": "false"}, label);
        b.addEventListener("click", async () => {
          if (b.getAttribute("aria-expanded") === "true") {
            b.setAttribute("aria-expanded", "false");
            li.querySelector("ul")?.remove();
            return;
          }
          b.setAttribute("aria-expanded", "true");
          try { await level(li, machine, e.path); } catch (err) { showError(li, err); }
        });
        li.append(b);
      } else {
        li.append(label);
      }
      ul.append(li);
    }
    parent.append(ul);
  }
  async function show() {
    const p = formParams(form);
    history.replaceState(null, "", "/tree?" + p);
    $("#tree").replaceChildren();
    try { await level($("#tree"), p.get("machine") || "", p.get("path") || "/"); } catch (err) { showError($("#tree"), err); }
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); show(); });
  machineOptions(form.elements.machine, false).then((ms) => {
    fillForm(form, new URLSearchParams(location.search));
    if (ms.length > 0) return show();
    $("#tree").replaceChildren(el("p", {}, "The catalog is empty."));
  }).catch((err) => showError($("#tree"), err));
}

async function file() {
  const hash = new URLSearchParams(location.search).get("hash") || "";
  try {
    const c = await api("/api/lookup?" + new URLSearchParams({hash}));
    $("#file").replaceChildren(el("dl", {class: "totals"},
      el("dt", {}, "Size"), el("dd", {}, size(c.size) + " (" + num(c.size) + " bytes)"),
      el("dt", {}, "sha256"), el("dd", {class: "hash"}, c.sha256),
      el("dt", {}, "sha1"), el("dd", {class: "hash"}, c.sha1),
      el("dt", {}, "md5"), el("dd", {class: "hash"}, c.md5)),
    el("h2", {}, c.locations.length + " places"),
    table(["Path", "Machine", "Modified (UTC)", ""], c.locations.map((f) => el("tr", {},
      el("td", {class: "path"}, f.path + (f.archive_path ? "::" + f.archive_path : "")), el("td", {}, f.machine),
      el("td", {}, when(f.modified)), el("td", {}, copyButton(f))))));
  } catch (err) {
    showError($("#file"), err);
  }
}

function scans() {
  const form = $("#startscan");
  let source = null;
  async function recent() {
    try {
      $("#recent").replaceChildren(scanTable(await api("/api/scans?limit=10")));
    } catch (err) {
      showError($("#recent"), err);
    }
  }
  // progress shows an event's figures: once the count of the roots is done,
  // out of what and the time left; a file read for over a second, how far.
  function progress(p) {
    const secs = (ms) => ms < 60000 ? Math.round(ms / 1000) + " s" : Math.round(ms / 60000) + " min";
    $("#live-progress").textContent = num(p.files) + (p.counted ? " of " + num(p.total_files) : "") + " files, " +
      size(p.bytes) + (p.counted ? " of " + size(p.total_bytes) : "") + " hashed at " + size(p.rate_bytes_s) + "/s" +
      (p.eta_ms !== null && p.eta_ms !== undefined ? ", about " + secs(p.eta_ms) + " left" : "") +
      (p.failed ? ", " + p.failed + " failed" : "") + (p.current ? " — " + p.current : "");
    $("#live-slow").textContent = p.slow ? "Reading " + p.slow.path + ": " + size(p.slow.bytes_read) +
      (p.slow.percent >= 0 ? " of " + size(p.slow.size) + " (" + p.slow.percent.toFixed(1) + "%)" : "") +
      " in " + secs(p.slow.elapsed_ms) : "";
  }
  function summary(s) {
    $("#cancel").hidden = true;
    $("#live-summary").replaceChildren(el("p", {class: "summary"}, "Scan #" + s.scan_id + " " + s.status + ": " +
      num(s.files_seen) + " files seen, " + num(s.added) + " added, " + num(s.modified) + " modified, " +
      num(s.deleted) + " deleted, " + num(s.unchanged) + " unchanged, " + num(s.failed) + " failed, in " +
      (s.duration_ms / 1000).toFixed(1) + " s"));
    recent();
  }
  function watch(id) {
    $("#live").hidden = false;
    $("#cancel").hidden = false;
    $("#live-id").textContent = "#" + id;
    $("#live-failures").replaceChildren();
    $("#live-summary").replaceChildren();
    if (source) source.close();
    source = new EventSource("/api/scans/" + id + "/events");
    const data = (ev) => JSON.parse(ev.data);
    source.addEventListener("snapshot", (ev) => { const p = data(ev); progress(p); if (p.result) { summary(p.result); source.close(); } });
    source.addEventListener("progress", (ev) => progress(data(ev)));
    source.addEventListener("failure", (ev) => { const f = data(ev); $("#live-failures").append(el("li", {}, f.path + ": " + f.error)); });
    source.addEventListener("done", (ev) => { summary(data(ev)); source.close(); });
    $("#cancel").onclick = () => api("/api/scans/" + id, {method: "DELETE"}).catch((err) => showError($("#live-summary"), err));
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const lines = (s) => String(s).split("\n").map((x) => x.trim()).filter((x) => x !== "");
    const body = {roots: lines(form.elements.roots.value), exclude: lines(form.elements.exclude.value), rehash: form.elements.rehash.checked};
    try {
      const r = await api("/api/scans", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
      history.replaceState(null, "", "/scans?watch=" + r.id);
      watch(r.id);
    } catch (err) {
      $("#live").hidden = false;
      showError($("#live-summary"), err);
    }
  });
  const w = new URLSearchParams(location.search).get("watch");
  if (w) watch(w);
  recent();
}

const pages = {overview, dupes, search, tree, file, scans};
const run = pages[document.body.dataset.page];
if (run) run();
