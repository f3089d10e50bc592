// vision-harness review app: the editors of a pose object's keypoints and an obb object's oriented box.
// app.js calls these hooks from its drawing and mouse code; each edit goes to the server as one
// operation ({op: "keypoints", index, keypoints} or {op: "obb", index, obb}), written back in place.
//
// Keypoints: the file's names as titles, the skeleton as lines; drag a keypoint to move it (a keypoint
// not labelled, v 0, becomes visible, v 2), click one to cycle its visibility 2 -> 1 -> 0 -> 2.
// Oriented box: drag inside to move it, drag a corner to resize it (the opposite corner and the angle
// stay: it stays a rectangle), drag the round handle beyond its first edge to turn it about its centre.
// Pose object: dragging inside its box moves the box and every keypoint by one offset ({op: "move",
// index, dx, dy}), the offset held so the box and its labelled keypoints stay in the image.
"use strict";

const TaskEditors = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const VISIBILITY = ["not labelled", "occluded", "visible"];
  const NEXT_V = { 2: 1, 1: 0, 0: 2 };
  const KINDS = new Set(["keypoint", "corner", "rotate"]);
  const round2 = (v) => Math.round(v * 100) / 100;

  function node(tag, attributes, parent) {
    const created = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attributes)) created.setAttribute(name, value);
    parent.append(created);
    return created;
  }

  const points = (corners) => corners.map(([x, y]) => `${x},${y}`).join(" ");
  const centre = (corners) => [0, 1].map((a) => corners.reduce((sum, p) => sum + p[a], 0) / corners.length);

  // The oriented box's outline instead of the axis-aligned box; false for an object without one.
  function drawOutline(group, obj, cls, attributes) {
    if (!obj.obb) return false;
    node("polygon", { class: `box ${cls}`, points: points(obj.obb), ...attributes }, group);
    return true;
  }

  // The skeleton's lines and a dot per labelled keypoint (of an expected object or a prediction).
  function drawKeypoints(group, keypoints, skeleton, cls, unit) {
    if (!keypoints) return;
    for (const [a, b] of skeleton || []) {
      const [p, q] = [keypoints[a], keypoints[b]];
      if (!p || !q || p[2] === 0 || q[2] === 0) continue;
      node("line", { class: `bone ${cls}`, x1: p[0], y1: p[1], x2: q[0], y2: q[1] }, group);
    }
    keypoints.forEach(([x, y, v]) => {
      if (v !== 0) node("circle", { class: `keypoint ${cls}${v === 1 ? " occluded" : ""}`, cx: x, cy: y, r: 2.5 * unit }, group);
    });
  }

  // The selected object's handles: every keypoint (named, with its visibility), or the box's corners
  // and its turning handle. Returns true where the axis-aligned box's handles do not apply (obb).
  function drawHandles(group, obj, names, unit) {
    (obj.keypoints || []).forEach(([x, y, v], k) => {
      const handle = node("circle", { class: `kp-handle v${v}`, "data-keypoint": k, cx: x, cy: y, r: 5 * unit }, group);
      node("title", {}, handle).textContent = `${names[k] || k}: ${VISIBILITY[v]} (v ${v}); click: change, drag: move`;
    });
    if (!obj.obb) return false;
    const [cx, cy] = centre(obj.obb);
    const [hx, hy] = rotateHandle(obj.obb, unit);
    node("line", { class: "rotate-arm", x1: cx, y1: cy, x2: hx, y2: hy }, group);
    node("circle", { class: "rotate-handle", "data-rotate": "1", cx: hx, cy: hy, r: 5 * unit }, group);
    const size = 9 * unit;
    obj.obb.forEach(([x, y], k) => {
      node("rect", { class: "handle", "data-corner": k, x: x - size / 2, y: y - size / 2, width: size, height: size }, group);
    });
    return true;
  }

  // Beyond the middle of the first edge, 24 screen pixels out from the centre.
  function rotateHandle(corners, unit) {
    const [cx, cy] = centre(corners);
    const mx = (corners[0][0] + corners[1][0]) / 2;
    const my = (corners[0][1] + corners[1][1]) / 2;
    const length = Math.hypot(mx - cx, my - cy) || 1;
    return [mx + ((mx - cx) / length) * 24 * unit, my + ((my - cy) / length) * 24 * unit];
  }

  // The drag a pointer-down on one of these handles starts, or null.
  function grab(target) {
    if (target.dataset.keypoint !== undefined) return { kind: "keypoint", keypoint: Number(target.dataset.keypoint) };
    if (target.dataset.corner !== undefined) return { kind: "corner", corner: Number(target.dataset.corner) };
    if (target.dataset.rotate !== undefined) return { kind: "rotate" };
    return null;
  }

  const copy = (obj) => ({
    obb: obj.obb ? obj.obb.map((p) => [...p]) : null,
    keypoints: obj.keypoints ? obj.keypoints.map((p) => [...p]) : null,
  });

  // Follow the pointer (image pixels); true when the drag was one of these editors'.
  function move(drag, obj, point, dx, dy, size) {
    const start = drag.original;
    if (drag.kind === "move" && obj.keypoints && !obj.obb) {
      moveWithKeypoints(drag, obj, dx, dy, size);
      return true;
    }
    if (drag.kind === "keypoint") {
      const [, , v] = start.keypoints[drag.keypoint];
      obj.keypoints[drag.keypoint] = [point[0], point[1], v === 0 ? 2 : v];
    } else if (drag.kind === "corner") {
      obj.obb = resized(start.obb, drag.corner, point);
    } else if (drag.kind === "rotate") {
      obj.obb = turned(start.obb, drag.start, point);
    } else if (drag.kind === "move" && obj.obb) {
      obj.obb = start.obb.map(([x, y]) => [round2(x + dx), round2(y + dy)]);
      return false; // app.js moves the box (the bounds) as for any object
    } else {
      return false;
    }
    obj.box = bounds(obj.obb || null) || obj.box;
    return true;
  }

  // Box, keypoints (v 0 too) and a polygon mask by one offset, held so that the box, the labelled
  // keypoints and the polygons stay inside the image (a v 0 keypoint may be anywhere).
  function moveWithKeypoints(drag, obj, dx, dy, [width, height]) {
    const labelled = drag.original.keypoints.filter((p) => p[2] !== 0);
    const points = [drag.box.slice(0, 2), drag.box.slice(2), ...labelled, ...drag.polygons.flat()];
    const held = (d, a, limit) => {
      const values = points.map((p) => p[a]);
      return round2(Math.min(limit - Math.max(...values), Math.max(-Math.min(...values), d)));
    };
    const [mx, my] = [held(dx, 0, width), held(dy, 1, height)];
    drag.offset = [mx, my];
    obj.box = drag.box.map((v, k) => round2(v + (k % 2 ? my : mx)));
    obj.keypoints = drag.original.keypoints.map(([x, y, v]) => [round2(x + mx), round2(y + my), v]);
    if (obj.mask && obj.mask.kind === "polygon") {
      obj.mask.polygons = drag.polygons.map((polygon) => polygon.map(([x, y]) => [round2(x + mx), round2(y + my)]));
    }
  }

  // The dragged corner at the pointer, projected on the box's axes; the opposite corner stays.
  function resized(corners, k, point) {
    const o = corners[(k + 2) % 4];
    const out = corners.map((p) => [...p]);
    let [ax, ay] = [corners[(k + 3) % 4][0] - o[0], corners[(k + 3) % 4][1] - o[1]];
    let [bx, by] = [corners[(k + 1) % 4][0] - o[0], corners[(k + 1) % 4][1] - o[1]];
    const [la, lb] = [Math.hypot(ax, ay) || 1, Math.hypot(bx, by) || 1];
    [ax, ay, bx, by] = [ax / la, ay / la, bx / lb, by / lb];
    const [dx, dy] = [point[0] - o[0], point[1] - o[1]];
    const a = Math.max(1, dx * ax + dy * ay); // at least 1 px: the corner never crosses the opposite edges
    const b = Math.max(1, dx * bx + dy * by);
    out[(k + 3) % 4] = [o[0] + a * ax, o[1] + a * ay];
    out[(k + 1) % 4] = [o[0] + b * bx, o[1] + b * by];
    out[k] = [o[0] + a * ax + b * bx, o[1] + a * ay + b * by];
    return out.map(([x, y]) => [round2(x), round2(y)]);
  }

  // Turned about its centre by the angle the pointer swept since the drag began.
  function turned(corners, from, to) {
    const [cx, cy] = centre(corners);
    const angle = Math.atan2(to[1] - cy, to[0] - cx) - Math.atan2(from[1] - cy, from[0] - cx);
    const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
    return corners.map(([x, y]) => [round2(cx + (x - cx) * cos - (y - cy) * sin), round2(cy + (x - cx) * sin + (y - cy) * cos)]);
  }

  function bounds(corners) {
    if (!corners) return null;
    const xs = corners.map((p) => p[0]);
    const ys = corners.map((p) => p[1]);
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  }

  // The edit to send when the pointer is released, or null where app.js's own edits apply. A keypoint
  // clicked without moving changes its visibility.
  function finish(drag, obj, index) {
    if (drag.offset) {
      if (!drag.moved) return null;
      const op = { op: "move", index, dx: drag.offset[0], dy: drag.offset[1] };
      if (obj.mask && obj.mask.kind === "polygon") op.polygons = obj.mask.polygons;
      return op;
    }
    if (drag.kind === "keypoint" && !drag.moved) {
      const k = drag.keypoint;
      obj.keypoints[k] = [obj.keypoints[k][0], obj.keypoints[k][1], NEXT_V[obj.keypoints[k][2]]];
    } else if (!drag.moved || !(KINDS.has(drag.kind) || (drag.kind === "move" && obj.obb))) {
      return null;
    }
    return obj.obb && drag.kind !== "keypoint"
      ? { op: "obb", index, obb: obj.obb }
      : { op: "keypoints", index, keypoints: obj.keypoints };
  }

  // What the object's label adds: OKS for a pose object, the oriented IoU for an obb one.
  function labelText(result) {
    if (result.obb_iou !== null && result.obb_iou !== undefined) return ` obb ${result.obb_iou.toFixed(2)}`;
    if (result.oks !== null && result.oks !== undefined) return ` oks ${result.oks.toFixed(2)}`;
    return "";
  }

  // The verdict table's two measure columns: [title, cell(result) -> [value, threshold, checked]].
  const BOX = { title: "box IoU", cell: (r) => [r.box_iou, r.box_threshold, true] };
  const MASK = { title: "mask IoU", cell: (r) => [r.mask_iou, r.mask_threshold, r.check_mask] };
  const OKS = { title: "OKS", cell: (r) => [r.oks, r.oks_threshold, true] };
  const OBB = { title: "obb IoU", cell: (r) => [r.obb_iou, r.obb_threshold, true] };
  const columns = (task) => (task === "pose" ? [BOX, OKS] : task === "obb" ? [OBB, MASK] : [BOX, MASK]);

  // The per-object thresholds the object panel offers.
  function thresholdNames(obj) {
    if (obj.obb) return ["obb_iou"]; // an oriented box's bounds are not judged
    const names = ["box_iou"];
    if (obj.keypoints) names.push("oks");
    if (obj.mask) names.push("mask_iou");
    return names;
  }

  return { columns, thresholdNames, drawOutline, drawKeypoints, drawHandles, grab, copy, move, finish, labelText, owns: (drag) => KINDS.has(drag.kind) };
})();
