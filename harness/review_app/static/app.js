// vision-harness review app: the page. Plain JavaScript and SVG, nothing loaded from the network.
// Every address is relative, so it stays under the /TOKEN/ the page was opened at. The server owns the
// case files: each edit is sent as one operation with the sha256 of the file as this page saw it, and
// the server refuses it (409) when the file has changed on disk since; the page then offers to reload.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (selector) => document.querySelector(selector);

const state = {
  files: [], // [{id, path, sha256, task, error}]
  cases: [], // [{file, name, tags, classes, awaiting, recorded, failing, broken}]
  shown: [], // keys of the cases the filters let through, in list order
  judged: null, // key -> "passed" | "failed" | "error", when judged on the spot for the failing filter
  details: new Map(), // key -> case JSON (prefetched for paging)
  key: null, // the case shown, "FILE/NAME"
  detail: null, // its JSON; edited in place while dragging, replaced by the server's after each edit
  verdict: null,
  selected: null, // {kind: "object" | "prediction", index}
  tool: "select",
  zoom: 1,
  fit: true,
  drag: null,
  drawing: null, // the box or polygon being drawn
  names: [], // the model's class names, once a verdict has come
  verdictSeq: 0,
  edits: 0, // edits written so far: the body's data-edits, and the verdict panel's data-judged once judged after them
};

const key = (file, name) => `${file}/${name}`;
const split = (caseKey) => {
  const at = caseKey.indexOf("/");
  return { file: Number(caseKey.slice(0, at)), name: caseKey.slice(at + 1) };
};

async function api(path, body) {
  const options = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) {
    const error = new Error(data.error || response.statusText);
    error.stale = Boolean(data.stale);
    throw error;
  }
  return data;
}

// ---- messages

function say(text, { error = false, reload = false } = {}) {
  const box = $("#message");
  box.hidden = !text;
  box.classList.toggle("error", error);
  $("#message-text").textContent = text || "";
  $("#reload").hidden = !reload;
  if (state.fit) setZoom(null); // the message bar took or gave back room
}

function failed(error) {
  if (error.stale) {
    say(`${error.message}`, { error: true, reload: true });
  } else {
    say(error.message, { error: true });
  }
}

// ---- the case list and its filters

async function loadList() {
  const listing = await api("api/cases");
  state.files = listing.files;
  state.cases = listing.cases;
  state.failingFrom = listing.failing_from;
  fillFilter("#filter-tag", [...new Set(state.cases.flatMap((c) => c.tags))].sort());
  fillFilter("#filter-class", [...new Set(state.cases.flatMap((c) => c.classes))].sort());
  const broken = state.files.filter((f) => f.error);
  if (broken.length) say(broken.map((f) => f.error).join("; "), { error: true });
  renderList();
}

function fillFilter(selector, values) {
  const select = $(selector);
  const chosen = select.value;
  select.replaceChildren(new Option("any", ""), ...values.map((v) => new Option(v, v)));
  select.value = values.includes(chosen) ? chosen : "";
}

function isFailing(entry) {
  const judged = state.judged && state.judged[key(entry.file, entry.name)];
  if (state.failingFrom === "record") return entry.failing;
  return judged === "failed" || judged === "error" || Boolean(entry.broken);
}

function renderList() {
  const status = $("#filter-status").value;
  const tag = $("#filter-tag").value;
  const cls = $("#filter-class").value;
  const list = $("#case-list");
  const items = [];
  state.shown = [];
  for (const entry of state.cases) {
    const caseKey = key(entry.file, entry.name);
    const visible = (!status || (status === "awaiting" ? entry.awaiting : isFailing(entry))) &&
      (!tag || entry.tags.includes(tag)) && (!cls || entry.classes.includes(cls));
    const item = document.createElement("li");
    item.dataset.key = caseKey;
    item.hidden = !visible;
    item.title = `${state.files[entry.file].path}: ${entry.name}`;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = state.files.length > 1 ? `${state.files[entry.file].path}: ${entry.name}` : entry.name;
    item.append(name);
    if (entry.broken) item.append(badge("broken", "broken"));
    else if (entry.awaiting) item.append(badge("review", "awaiting"));
    if (isFailing(entry) && !entry.broken) item.append(badge("failing", "failed"));
    item.setAttribute("aria-current", String(caseKey === state.key));
    item.addEventListener("click", () => openCase(caseKey));
    items.push(item);
    if (visible) state.shown.push(caseKey);
  }
  list.replaceChildren(...items);
  $("#shown").textContent = `${state.shown.length} of ${state.cases.length} cases shown`;
}

function badge(text, kind) {
  const span = document.createElement("span");
  span.className = `badge ${kind}`;
  span.textContent = text;
  return span;
}

async function onStatusFilter() {
  if ($("#filter-status").value === "failing" && state.failingFrom !== "record" && !state.judged) {
    $("#shown").textContent = "judging every case…";
    try {
      state.judged = await api("api/judge", {});
    } catch (error) {
      failed(error);
    }
  }
  renderList();
}

function step(delta) {
  if (!state.shown.length) return;
  const at = state.shown.indexOf(state.key);
  const next = at < 0 ? 0 : Math.min(state.shown.length - 1, Math.max(0, at + delta));
  openCase(state.shown[next]);
}

// ---- one case

async function caseDetail(caseKey) {
  if (!state.details.has(caseKey)) {
    const { file, name } = split(caseKey);
    state.details.set(caseKey, await api(`api/case/${file}/${encodeURIComponent(name)}`));
  }
  return state.details.get(caseKey);
}

async function openCase(caseKey) {
  state.key = caseKey;
  state.selected = null;
  state.drawing = null;
  state.verdict = null;
  history.replaceState(null, "", `#${encodeURIComponent(caseKey)}`); // no reload: paging stays in the page
  for (const item of document.querySelectorAll("#case-list li")) {
    const current = item.dataset.key === caseKey;
    item.setAttribute("aria-current", String(current));
    if (current) item.scrollIntoView({ block: "nearest" });
  }
  let detail;
  try {
    detail = await caseDetail(caseKey);
  } catch (error) {
    failed(error);
    return;
  }
  if (state.key !== caseKey) return; // paged on meanwhile
  state.detail = detail;
  showPicture(caseKey, detail);
  render();
  setZoom(state.fit ? null : state.zoom); // after render: the toolbar's height is final
  loadVerdict();
  prefetch(state.shown[state.shown.indexOf(caseKey) + 1]);
}

function showPicture(caseKey, detail) {
  const { file, name } = split(caseKey);
  const picture = $("#picture");
  const source = `image/${file}/${encodeURIComponent(name)}`;
  const stage = $("#stage");
  delete stage.dataset.shown;
  picture.onload = () => {
    if (state.key === caseKey) stage.dataset.shown = caseKey; // the case is on screen: tests and the bench wait for it
  };
  picture.onerror = () => {
    if (state.key === caseKey) say(`${name}: the image is not shown (outside the folder the app serves, or not a picture a browser can show)`, { error: true });
  };
  if (picture.getAttribute("src") === source && picture.complete) stage.dataset.shown = caseKey;
  else picture.src = source;
  if (detail.broken) say(detail.broken, { error: true });
}

function prefetch(caseKey) {
  if (!caseKey) return;
  const { file, name } = split(caseKey);
  caseDetail(caseKey).catch(() => {});
  new Image().src = `image/${file}/${encodeURIComponent(name)}`; // in the browser's cache for the next page
}

async function loadVerdict() {
  const seq = ++state.verdictSeq;
  const edits = state.edits;
  const caseKey = state.key;
  const { file, name } = split(caseKey);
  renderVerdict();
  let verdict;
  try {
    verdict = await api(`api/verdict/${file}/${encodeURIComponent(name)}`);
  } catch (error) {
    verdict = { error: error.message };
  }
  if (seq !== state.verdictSeq) return; // an edit or another case came since
  state.verdict = verdict;
  state.judgedAfter = edits;
  if (verdict.names) state.names = verdict.names;
  if (!verdict.error) {
    state.judged = state.judged || {};
    state.judged[caseKey] = verdict.passed ? "passed" : "failed";
  }
  render();
}

// ---- drawing the picture's marks

function setZoom(zoom) {
  const detail = state.detail;
  if (!detail || !detail.size) return;
  const [width, height] = detail.size;
  if (zoom === null) {
    const viewport = $("#viewport");
    state.fit = true;
    zoom = Math.max(0.1, Math.min((viewport.clientWidth - 28) / width, (viewport.clientHeight - 28) / height));
  } else {
    state.fit = false;
  }
  state.zoom = zoom;
  const picture = $("#picture");
  picture.style.width = `${width * zoom}px`;
  picture.style.height = `${height * zoom}px`;
  const svg = $("#overlay");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", width * zoom);
  svg.setAttribute("height", height * zoom);
  $("#zoom-level").textContent = `${Math.round(zoom * 100)}%`;
  renderOverlay();
}

function element(tag, attributes, parent) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (parent) parent.append(node);
  return node;
}

const pointsText = (points) => points.map(([x, y]) => `${x},${y}`).join(" ");

function renderOverlay() {
  const svg = $("#overlay");
  svg.replaceChildren();
  svg.setAttribute("class", `tool-${state.tool}`);
  const detail = state.detail;
  if (!detail || !detail.objects) return;
  const unit = 1 / state.zoom; // one screen pixel in image pixels
  const labels = $("#layer-labels").checked;
  const predicted = element("g", { id: "predicted-layer", class: $("#layer-predicted").checked ? "" : "hidden-layer" }, svg);
  const verdict = state.verdict && !state.verdict.error ? state.verdict : null;
  const skeleton = detail.keypoints ? detail.keypoints.skeleton : [];
  (verdict ? verdict.predictions : []).forEach((p, j) => {
    const selected = state.selected && state.selected.kind === "prediction" && state.selected.index === j;
    const group = element("g", { "data-prediction": j }, predicted);
    const cls = `predicted${p.status === "extra" ? " problem" : ""}${selected ? " selected" : ""}`;
    for (const polygon of p.polygons || []) element("polygon", { class: `mask ${cls}`, points: pointsText(polygon), "data-prediction": j }, group);
    const [x1, y1, x2, y2] = p.box;
    if (!TaskEditors.drawOutline(group, p, cls, { "data-prediction": j })) {
      element("rect", { class: `box ${cls}`, x: x1, y: y1, width: x2 - x1, height: y2 - y1, "data-prediction": j }, group);
    }
    TaskEditors.drawKeypoints(group, p.keypoints, skeleton, cls, unit);
    if (labels) label(group, `${p.matched === null ? "EXTRA " : `#${p.matched} `}${p.class} ${p.score.toFixed(2)}`, x1, y2 + 13 * unit, unit);
  });
  const expected = element("g", { id: "expected-layer", class: $("#layer-expected").checked ? "" : "hidden-layer" }, svg);
  // Largest first, so that a small object inside a big one stays clickable.
  const order = detail.objects.map((o, i) => i).sort((a, b) => area(detail.objects[b].box) - area(detail.objects[a].box));
  for (const i of order) {
    const obj = detail.objects[i];
    const result = verdict && verdict.objects[i];
    const selected = state.selected && state.selected.kind === "object" && state.selected.index === i;
    const cls = `expected${result && result.problems.length ? " problem" : ""}${selected ? " selected" : ""}`;
    const group = element("g", { "data-index": i }, expected);
    for (const polygon of obj.mask ? obj.mask.polygons : []) element("polygon", { class: `mask ${cls}`, points: pointsText(polygon), "data-index": i }, group);
    const [x1, y1, x2, y2] = obj.box;
    if (!TaskEditors.drawOutline(group, obj, cls, { "data-index": i })) {
      element("rect", { class: `box ${cls}`, x: x1, y: y1, width: x2 - x1, height: y2 - y1, "data-index": i }, group);
    }
    TaskEditors.drawKeypoints(group, obj.keypoints, skeleton, cls, unit);
    if (labels) label(group, objectLabel(i, obj, result), x1, y1 - 4 * unit, unit);
  }
  if (state.selected && state.selected.kind === "object" && detail.objects[state.selected.index]) handles(svg, state.selected.index, unit);
  renderDrawing(svg, unit);
}

const area = ([x1, y1, x2, y2]) => (x2 - x1) * (y2 - y1);

function objectLabel(i, obj, result) {
  let text = `#${i} ${obj.class}`;
  if (!result) return text;
  if (result.prediction === null) return result.crowd ? `${text} crowd` : `${text} MISSED`;
  if (result.box_iou !== null && result.obb_iou == null) text += ` box ${result.box_iou.toFixed(2)}`;
  text += TaskEditors.labelText(result);
  if (result.check_mask) text += ` mask ${result.mask_iou.toFixed(2)}`;
  return result.problems.length ? `${text} LOW` : text;
}

function label(parent, text, x, y, unit) {
  const node = element("text", { class: "label", x, y, "font-size": 12 * unit, "stroke-width": 3 * unit }, parent);
  node.textContent = text;
}

const BOX_HANDLES = { nw: [0, 1], n: [null, 1], ne: [2, 1], e: [2, null], se: [2, 3], s: [null, 3], sw: [0, 3], w: [0, null] };

function handles(svg, index, unit) {
  // Drawn in this order, so that each lies above the one before: midpoints (add a vertex), the box's
  // handles, the vertices (a polygon's extreme points lie on its box's edges, and the mask comes first).
  const obj = state.detail.objects[index];
  const group = element("g", { id: "handles" }, svg);
  const polygons = obj.mask ? obj.mask.polygons : [];
  polygons.forEach((polygon, p) => polygon.forEach(([x, y], k) => {
    const [nx, ny] = polygon[(k + 1) % polygon.length];
    element("circle", { class: "midpoint", "data-polygon": p, "data-after": k, cx: (x + nx) / 2, cy: (y + ny) / 2, r: 3 * unit }, group);
  }));
  const [x1, y1, x2, y2] = obj.box;
  const size = 9 * unit;
  // An oriented box's bounds follow from its corners: it gets its own handles (task_editors.js).
  for (const [name, [ix, iy]] of Object.entries(obj.obb ? {} : BOX_HANDLES)) {
    const x = ix === null ? (x1 + x2) / 2 : obj.box[ix];
    const y = iy === null ? (y1 + y2) / 2 : obj.box[iy];
    element("rect", { class: "handle", "data-handle": name, x: x - size / 2, y: y - size / 2, width: size, height: size, style: `cursor: ${name}-resize` }, group);
  }
  polygons.forEach((polygon, p) => polygon.forEach(([x, y], k) => {
    element("circle", { class: "vertex", "data-polygon": p, "data-vertex": k, cx: x, cy: y, r: 4.5 * unit }, group);
  }));
  TaskEditors.drawHandles(group, obj, state.detail.keypoints ? state.detail.keypoints.names : [], unit);
}

function renderDrawing(svg, unit) {
  const drawing = state.drawing;
  if (!drawing) return;
  if (drawing.kind === "box" && drawing.end) {
    const [x1, y1, x2, y2] = normalBox(drawing.start, drawing.end);
    element("rect", { class: "drawing", x: x1, y: y1, width: x2 - x1, height: y2 - y1 }, svg);
  }
  if (drawing.kind === "polygon") {
    const points = drawing.hover ? [...drawing.points, drawing.hover] : drawing.points;
    element("polyline", { class: "drawing", points: pointsText(points) }, svg);
    drawing.points.forEach(([x, y], k) => element("circle", { class: "vertex", cx: x, cy: y, r: 4 * unit, "data-drawn": k }, svg));
  }
}

const normalBox = ([ax, ay], [bx, by]) => [Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by)];

// ---- the details panels

function render() {
  renderOverlay();
  renderObjectPanel();
  renderVerdict();
  renderCasePanel();
  const detail = state.detail;
  $("#case-title").textContent = detail ? `${state.files[split(state.key).file].path}: ${detail.name}` : "";
  const names = state.names.length ? state.names : [...new Set(state.cases.flatMap((c) => c.classes))].sort();
  const select = $("#new-class");
  if (select.options.length !== names.length || [...select.options].some((o, i) => o.value !== names[i])) {
    const chosen = select.value;
    select.replaceChildren(...names.map((n) => new Option(n, n)));
    if (names.includes(chosen)) select.value = chosen;
  }
  for (const button of document.querySelectorAll("[data-tool]")) button.setAttribute("aria-pressed", String(button.dataset.tool === state.tool));
  const canPolygon = !detail || detail.task !== "detect";
  $("[data-tool=polygon]").disabled = !canPolygon;
  $("#mark-reviewed").disabled = !(detail && detail.recorded && !detail.recorded.reviewed);
}

function renderVerdict() {
  const panel = $("#verdict-panel");
  const badgeNode = $("#verdict-badge");
  const verdict = state.verdict;
  const detail = state.detail;
  panel.replaceChildren();
  delete panel.dataset.passed;
  delete panel.dataset.judged;
  const heading = document.createElement("h3");
  heading.textContent = "Verdict";
  panel.append(heading);
  if (!verdict) {
    badgeNode.className = "badge judging";
    badgeNode.textContent = "judging…";
    panel.append(text("p", "judging with the model…"));
    return;
  }
  if (verdict.error) {
    badgeNode.className = "badge broken";
    badgeNode.textContent = "error";
    panel.append(text("p", verdict.error, "note"));
    return;
  }
  panel.dataset.passed = String(verdict.passed);
  panel.dataset.judged = String(state.judgedAfter);
  badgeNode.className = `badge ${verdict.passed ? "passed" : "failed"}`;
  badgeNode.textContent = verdict.passed ? "pass" : "FAIL";
  panel.append(text("p", `${verdict.passed ? "passes" : "fails"}: ${verdict.summary}, model ${verdict.model}`, "summary"));
  if (verdict.skipped) panel.append(text("p", verdict.skipped, "note"));
  const table = document.createElement("table");
  table.id = "objects-table";
  const [first, second] = TaskEditors.columns(detail.task); // OKS, oriented IoU for pose and obb
  table.append(row("th", ["#", "class", first.title, second.title, "conf", "verdict"]));
  verdict.objects.forEach((result, i) => {
    const obj = detail.objects[i];
    const cells = [
      String(i),
      obj ? obj.class : "?",
      iou(...first.cell(result)),
      iou(...second.cell(result)),
      result.confidence === null ? "-" : result.confidence.toFixed(2),
      result.crowd ? "crowd region" : result.problems.length ? `FAIL: ${result.problems.join(", ")}` : "ok",
    ];
    const tr = row("td", cells);
    tr.dataset.index = i;
    if (result.problems.length) tr.classList.add("fail");
    if (state.selected && state.selected.kind === "object" && state.selected.index === i) tr.classList.add("selected");
    tr.addEventListener("click", () => select({ kind: "object", index: i }));
    table.append(tr);
  });
  panel.append(table);
  const predictions = document.createElement("table");
  predictions.id = "predictions-table";
  predictions.append(row("th", ["pred", "class", "conf", "", ""]));
  verdict.predictions.forEach((p, j) => {
    const status = p.matched !== null ? `#${p.matched}` : p.status === "ignored" ? "in crowd" : "extra";
    const tr = row("td", [String(j), p.class, p.score.toFixed(2), status, ""]);
    tr.dataset.prediction = j;
    if (p.status === "extra" && verdict.too_many_extras) tr.classList.add("fail");
    if (state.selected && state.selected.kind === "prediction" && state.selected.index === j) tr.classList.add("selected");
    const accept = document.createElement("button");
    accept.type = "button";
    accept.className = "accept";
    accept.textContent = p.matched !== null ? "use" : "accept";
    accept.title = p.matched !== null ? `Replace #${p.matched}'s class, box and mask with this prediction's` : "Add it as an expected object";
    accept.addEventListener("click", (event) => {
      event.stopPropagation();
      edit({ op: "accept", prediction: j });
    });
    tr.lastChild.append(accept);
    tr.addEventListener("click", () => select({ kind: "prediction", index: j }));
    predictions.append(tr);
  });
  panel.append(text("h3", `Predictions (${verdict.extras} unmatched, max_extra ${verdict.max_extra})`), predictions);
  const details = document.createElement("details");
  details.append(text("summary", "as pytest prints it"), text("pre", verdict.text));
  panel.append(details);
}

function iou(value, threshold, checked) {
  if (!checked) return "-";
  if (value === null) return `- (>= ${threshold.toFixed(2)})`;
  return `${value.toFixed(3)} ${value >= threshold ? ">=" : "<"} ${threshold.toFixed(2)}`;
}

function row(cell, values) {
  const tr = document.createElement("tr");
  for (const value of values) tr.append(text(cell, value));
  return tr;
}

function text(tag, content, className) {
  const node = document.createElement(tag);
  node.textContent = content;
  if (className) node.className = className;
  return node;
}

function renderObjectPanel() {
  const panel = $("#object-panel");
  panel.replaceChildren();
  const detail = state.detail;
  const selected = state.selected;
  if (!detail || !selected) {
    panel.append(text("h3", "Selection"), text("p", "Click an object or a prediction; drag its corners, edges and vertices."));
    return;
  }
  if (selected.kind === "prediction") {
    const p = state.verdict && state.verdict.predictions[selected.index];
    if (!p) return;
    panel.append(text("h3", `Prediction ${selected.index}`), text("p", `${p.class}, confidence ${p.score.toFixed(2)}, box [${p.box.join(", ")}]`));
    const accept = button(p.matched !== null ? `Use as #${p.matched} (A)` : "Accept as expected object (A)", () => edit({ op: "accept", prediction: selected.index }));
    accept.id = "accept-selected";
    panel.append(accept);
    return;
  }
  const i = selected.index;
  const obj = detail.objects[i];
  if (!obj) return;
  panel.append(text("h3", `Object #${i}`));
  const classRow = div("row");
  const classes = document.createElement("select");
  classes.id = "object-class";
  const names = state.names.length ? state.names : [...new Set([obj.class, ...state.cases.flatMap((c) => c.classes)])];
  classes.append(...names.map((n) => new Option(n, n)));
  if (!names.includes(obj.class)) classes.append(new Option(obj.class, obj.class));
  classes.value = obj.class;
  classes.addEventListener("change", () => edit({ op: "class", index: i, class: classes.value }));
  classRow.append(text("span", "class"), classes);
  panel.append(classRow, text("p", `box [${obj.box.map((v) => +v.toFixed(2)).join(", ")}]`));
  if (obj.mask) {
    let note = `mask: ${obj.mask.kind}`;
    if (obj.mask.kind !== "polygon") note += `, shown traced as a polygon (IoU ${obj.mask.trace_iou} with it); editing a vertex makes it that polygon`;
    panel.append(text("p", note, obj.mask.kind === "polygon" ? "" : "note"));
  }
  const thresholds = div("row");
  for (const name of TaskEditors.thresholdNames(obj)) {
    const input = document.createElement("input");
    input.type = "number";
    input.min = "0";
    input.max = "1";
    input.step = "0.05";
    input.value = obj[name];
    input.id = `object-${name}`;
    input.addEventListener("change", () => edit({ op: "thresholds", index: i, [name]: input.value === "" ? null : Number(input.value) }));
    thresholds.append(text("span", name), input);
  }
  panel.append(thresholds);
  const actions = div("row");
  actions.append(button("Delete (Del)", () => edit({ op: "delete", index: i })));
  if (obj.mask) actions.append(button("Fit box to mask (F)", fitBox));
  panel.append(actions);
}

function renderCasePanel() {
  const panel = $("#case-panel");
  panel.replaceChildren();
  const detail = state.detail;
  if (!detail || detail.broken) return;
  panel.append(text("h3", "Case"));
  const tags = document.createElement("input");
  tags.id = "case-tags";
  tags.value = detail.tags.join(", ");
  tags.placeholder = "tag, tag";
  tags.addEventListener("change", () => edit({ op: "case", tags: tags.value.split(/[,\s]+/).filter(Boolean) }));
  const extra = document.createElement("input");
  extra.type = "number";
  extra.min = "0";
  extra.step = "1";
  extra.id = "case-max-extra";
  extra.value = detail.max_extra;
  extra.addEventListener("change", () => edit({ op: "case", max_extra: extra.value === "" ? null : Number(extra.value) }));
  const tagRow = div("row");
  tagRow.append(text("span", "tags"), tags);
  const extraRow = div("row");
  extraRow.append(text("span", "max_extra"), extra);
  panel.append(tagRow, extraRow);
  const recorded = detail.recorded;
  panel.append(text("p", recorded ? `recorded from ${recorded.model}: ${recorded.reviewed ? "reviewed" : "not reviewed yet"}` : "written by a person"));
}

function div(className) {
  const node = document.createElement("div");
  node.className = className;
  return node;
}

function button(label, action) {
  const node = document.createElement("button");
  node.type = "button";
  node.textContent = label;
  node.addEventListener("click", action);
  return node;
}

function select(selection) {
  state.selected = selection;
  render();
}

// ---- edits

async function edit(op, note = "") {
  const caseKey = state.key;
  const { file, name } = split(caseKey);
  const before = state.detail.sha256;
  try {
    const result = await api("api/edit", { file, case: name, sha256: before, op });
    accepted(result, file, before);
    say(`${state.files[file].path}: ${name}: ${result.what}${note}`);
  } catch (error) {
    await refresh(caseKey); // the page shows the file as it is, not the refused edit
    failed(error);
  }
}

function accepted(result, file, before) {
  state.edits += 1;
  document.body.dataset.edits = String(state.edits);
  // The other cases of the file are as they were; they now belong to its new version.
  for (const [caseKey, detail] of state.details) {
    if (split(caseKey).file === file && detail.sha256 === before) detail.sha256 = result.sha256;
  }
  state.files[file].sha256 = result.sha256;
  const caseKey = key(file, result.case.name);
  state.details.set(caseKey, result.case);
  const entry = state.cases.find((c) => c.file === file && c.name === result.case.name);
  if (entry && !result.case.broken) {
    entry.tags = result.case.tags;
    entry.classes = [...new Set(result.case.objects.map((o) => o.class))].sort();
    entry.awaiting = Boolean(result.case.recorded && !result.case.recorded.reviewed);
  }
  if (state.key === caseKey) {
    state.detail = result.case;
    state.verdict = null; // judged again below
    if (state.selected && state.selected.kind === "object" && state.selected.index >= result.case.objects.length) state.selected = null;
    if (state.selected && state.selected.kind === "prediction") state.selected = null;
    render();
    loadVerdict();
  }
  renderList();
}

async function refresh(caseKey) {
  state.details.delete(caseKey);
  if (state.key !== caseKey) return;
  try {
    state.detail = await caseDetail(caseKey);
  } catch (error) {
    failed(error);
  }
  render();
}

async function reload() {
  state.details.clear();
  state.judged = null;
  say("");
  await loadList();
  if (state.key) await openCase(state.key);
  document.body.dataset.reloads = String(Number(document.body.dataset.reloads || 0) + 1);
}

async function undo() {
  try {
    const result = await api("api/undo", {});
    const file = result.file;
    const caseKey = key(file, result.case.name);
    state.details.delete(caseKey);
    for (const [other] of state.details) if (split(other).file === file) state.details.delete(other);
    state.files[file].sha256 = result.sha256;
    if (state.key !== caseKey) await openCase(caseKey);
    accepted(result, file, null);
    say(result.what);
  } catch (error) {
    failed(error);
  }
}

async function markReviewed() {
  if (state.detail && state.detail.recorded && !state.detail.recorded.reviewed) await edit({ op: "reviewed" });
}

async function markAllShown() {
  const items = state.shown.map(split).filter(({ file, name }) => {
    const entry = state.cases.find((c) => c.file === file && c.name === name);
    return entry && entry.awaiting;
  }).map(({ file, name }) => ({ file, case: name }));
  if (!items.length) {
    say("no shown case waits for review");
    return;
  }
  const hashes = Object.fromEntries(state.files.map((f) => [f.id, f.sha256]));
  try {
    const result = await api("api/reviewed", { items, sha256: hashes });
    state.details.clear();
    await loadList();
    if (state.key) await openCase(state.key);
    const text = `marked reviewed: ${result.marked.length} cases`;
    if (result.stale.length) say(`${text}; not written: ${result.stale.join("; ")}`, { error: true, reload: true });
    else say(text);
  } catch (error) {
    failed(error);
  }
}

function fitBox() {
  const selected = state.selected;
  if (!selected || selected.kind !== "object") return;
  const obj = state.detail.objects[selected.index];
  if (!obj || !obj.mask || !obj.mask.polygons.length) return;
  const points = obj.mask.polygons.flat();
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  edit({ op: "set", index: selected.index, box: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)].map(round) });
}

const round = (v) => Math.round(v * 100) / 100;

function clampPoint([x, y]) {
  const [width, height] = state.detail.size;
  return [round(Math.min(width, Math.max(0, x))), round(Math.min(height, Math.max(0, y)))];
}

// ---- the mouse: selecting, dragging, drawing

function imagePoint(event) {
  const svg = $("#overlay");
  const point = svg.createSVGPoint();
  point.x = event.clientX;
  point.y = event.clientY;
  const { x, y } = point.matrixTransform(svg.getScreenCTM().inverse());
  return clampPoint([x, y]);
}

function onPointerDown(event) {
  if (event.button !== 0 || !state.detail || !state.detail.objects) return;
  const point = imagePoint(event);
  const target = event.target;
  if (state.tool === "box") {
    state.drawing = { kind: "box", start: point, end: null };
  } else if (state.tool === "polygon") {
    addPolygonPoint(point, target);
    return;
  } else if (TaskEditors.grab(target)) {
    startDrag(event, TaskEditors.grab(target));
  } else if (target.dataset.handle) {
    startDrag(event, { kind: "handle", handle: target.dataset.handle });
  } else if (target.dataset.vertex !== undefined) {
    startDrag(event, { kind: "vertex", polygon: Number(target.dataset.polygon), vertex: Number(target.dataset.vertex) });
  } else if (target.dataset.after !== undefined) {
    const polygon = currentObject().mask.polygons[Number(target.dataset.polygon)];
    const at = Number(target.dataset.after) + 1;
    polygon.splice(at, 0, point); // a new vertex between two, dragged from where it was grabbed
    startDrag(event, { kind: "vertex", polygon: Number(target.dataset.polygon), vertex: at, moved: true });
  } else if (target.dataset.index !== undefined) {
    const index = Number(target.dataset.index);
    if (!state.selected || state.selected.kind !== "object" || state.selected.index !== index) select({ kind: "object", index });
    startDrag(event, { kind: "move" });
  } else if (target.dataset.prediction !== undefined) {
    select({ kind: "prediction", index: Number(target.dataset.prediction) });
    return;
  } else {
    select(null);
    return;
  }
  $("#overlay").setPointerCapture(event.pointerId);
  event.preventDefault();
}

function currentObject() {
  return state.selected && state.selected.kind === "object" ? state.detail.objects[state.selected.index] : null;
}

function startDrag(event, drag) {
  const obj = currentObject();
  state.drag = {
    ...drag,
    start: imagePoint(event),
    box: [...obj.box],
    polygons: obj.mask ? obj.mask.polygons.map((polygon) => polygon.map((p) => [...p])) : [],
    original: TaskEditors.copy(obj), // keypoints and oriented box as they were
    moved: drag.moved || false,
  };
}

function onPointerMove(event) {
  if (state.drawing) {
    const point = imagePoint(event);
    if (state.drawing.kind === "box" && event.buttons & 1) state.drawing.end = point;
    if (state.drawing.kind === "polygon") state.drawing.hover = point;
    renderOverlay();
    return;
  }
  const drag = state.drag;
  if (!drag) return;
  const obj = currentObject();
  const point = imagePoint(event);
  const dx = point[0] - drag.start[0];
  const dy = point[1] - drag.start[1];
  if (Math.abs(dx) + Math.abs(dy) > 0) drag.moved = true;
  if (TaskEditors.move(drag, obj, point, dx, dy, state.detail.size)) {
    renderOverlay();
    return;
  }
  if (drag.kind === "handle") {
    const box = [...drag.box];
    const [ix, iy] = BOX_HANDLES[drag.handle];
    if (ix !== null) box[ix] = round(drag.box[ix] + dx);
    if (iy !== null) box[iy] = round(drag.box[iy] + dy);
    obj.box = normalBox([box[0], box[1]], [box[2], box[3]]);
  } else if (drag.kind === "vertex") {
    obj.mask.polygons[drag.polygon][drag.vertex] = point;
  } else if (drag.kind === "move") {
    obj.box = clampedBox(drag.box.map((v, k) => round(v + (k % 2 ? dy : dx))));
    if (obj.mask && obj.mask.kind === "polygon") {
      obj.mask.polygons = drag.polygons.map((polygon) => polygon.map(([x, y]) => clampPoint([x + dx, y + dy])));
    }
  }
  renderOverlay();
}

function clampedBox(box) {
  const [a, b] = [clampPoint([box[0], box[1]]), clampPoint([box[2], box[3]])];
  return [...a, ...b];
}

function onPointerUp(event) {
  if (state.drawing && state.drawing.kind === "box") {
    const { start, end } = state.drawing;
    state.drawing = null;
    const box = end ? normalBox(start, end) : null;
    if (box && box[2] - box[0] >= 2 && box[3] - box[1] >= 2) {
      edit({ op: "add", object: { class: $("#new-class").value, box } });
    } else {
      renderOverlay();
    }
    return;
  }
  const drag = state.drag;
  state.drag = null;
  const taskEdit = drag && TaskEditors.finish(drag, currentObject(), state.selected.index);
  if (taskEdit) {
    edit(taskEdit);
    return;
  }
  if (!drag || !drag.moved) return;
  const obj = currentObject();
  const index = state.selected.index;
  if (drag.kind === "handle") {
    edit({ op: "set", index, box: obj.box });
  } else if (drag.kind === "vertex") {
    polygonEdit(index, obj);
  } else if (obj.mask && obj.mask.kind === "polygon") {
    edit({ op: "set", index, box: obj.box, polygons: obj.mask.polygons });
  } else {
    edit({ op: "set", index, box: obj.box });
  }
}

function polygonEdit(index, obj) {
  const kind = obj.mask.kind;
  const note = kind === "polygon" ? "" : ` (the ${kind} mask became a polygon; its tracing had IoU ${obj.mask.trace_iou} with it)`;
  edit({ op: "set", index, polygons: obj.mask.polygons }, note);
}

function onDoubleClick(event) {
  // The pointer was captured on the first click: the event's target is the overlay, not the vertex under it.
  const target = document.elementFromPoint(event.clientX, event.clientY) || event.target;
  if (state.tool !== "select" || target.dataset.vertex === undefined) return;
  const obj = currentObject();
  const polygon = obj.mask.polygons[Number(target.dataset.polygon)];
  if (polygon.length <= 3) {
    say("a polygon keeps at least 3 points: delete the object instead", { error: true });
    return;
  }
  polygon.splice(Number(target.dataset.vertex), 1);
  polygonEdit(state.selected.index, obj);
}

function addPolygonPoint(point, target) {
  const drawing = state.drawing && state.drawing.kind === "polygon" ? state.drawing : (state.drawing = { kind: "polygon", points: [] });
  if (target.dataset.drawn === "0" && drawing.points.length >= 3) {
    finishPolygon();
    return;
  }
  drawing.points.push(point);
  renderOverlay();
}

function finishPolygon() {
  const drawing = state.drawing;
  if (!drawing || drawing.kind !== "polygon") return;
  state.drawing = null;
  if (drawing.points.length < 3) {
    renderOverlay();
    return;
  }
  const xs = drawing.points.map((p) => p[0]);
  const ys = drawing.points.map((p) => p[1]);
  const box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  edit({ op: "add", object: { class: $("#new-class").value, box, polygons: [drawing.points] } });
}

function setTool(tool) {
  state.tool = tool;
  state.drawing = null;
  render();
}

// ---- the keyboard

function onKey(event) {
  const typing = event.target.closest("input, select, textarea");
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z" && !typing) {
    event.preventDefault();
    undo();
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const actions = {
    ArrowDown: () => step(1), j: () => step(1), ArrowUp: () => step(-1), k: () => step(-1),
    v: () => setTool("select"), b: () => setTool("box"), p: () => setTool("polygon"),
    Enter: finishPolygon, f: fitBox, r: markReviewed,
    Delete: deleteSelected, Backspace: deleteSelected, a: acceptSelected,
    "+": () => setZoom(state.zoom * 1.25), "=": () => setZoom(state.zoom * 1.25), "-": () => setZoom(state.zoom / 1.25),
    0: () => setZoom(null),
    Escape: () => { state.drawing = null; select(null); },
  };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
}

function deleteSelected() {
  if (state.selected && state.selected.kind === "object") edit({ op: "delete", index: state.selected.index });
}

function acceptSelected() {
  if (state.selected && state.selected.kind === "prediction") edit({ op: "accept", prediction: state.selected.index });
}

// ---- start

function start() {
  const svg = $("#overlay");
  svg.addEventListener("pointerdown", onPointerDown);
  svg.addEventListener("pointermove", onPointerMove);
  svg.addEventListener("pointerup", onPointerUp);
  svg.addEventListener("dblclick", onDoubleClick);
  document.addEventListener("keydown", onKey);
  for (const id of ["#filter-status"]) $(id).addEventListener("change", onStatusFilter);
  for (const id of ["#filter-tag", "#filter-class"]) $(id).addEventListener("change", renderList);
  for (const id of ["#layer-expected", "#layer-predicted", "#layer-labels"]) $(id).addEventListener("change", renderOverlay);
  for (const node of document.querySelectorAll("[data-tool]")) node.addEventListener("click", () => setTool(node.dataset.tool));
  $("#undo").addEventListener("click", undo);
  $("#accept-all").addEventListener("click", () => edit({ op: "accept", all: true }));
  $("#mark-reviewed").addEventListener("click", markReviewed);
  $("#review-all").addEventListener("click", markAllShown);
  $("#reload").addEventListener("click", reload);
  $("#zoom-in").addEventListener("click", () => setZoom(state.zoom * 1.25));
  $("#zoom-out").addEventListener("click", () => setZoom(state.zoom / 1.25));
  $("#zoom-fit").addEventListener("click", () => setZoom(null));
  window.addEventListener("resize", () => state.fit && setZoom(null));
  loadList().then(() => {
    document.body.dataset.ready = "true";
    const wanted = decodeURIComponent(location.hash.slice(1));
    const first = state.cases.some((c) => key(c.file, c.name) === wanted) ? wanted : state.shown[0];
    if (first) openCase(first);
  }).catch(failed);
}

start();
