// The job graph of a project-pipeline drawn as a picture (SVG): jobs in
// layers from left to right (a job right of every job it depends on),
// ordered within a layer to keep edges short; soft dependencies dashed.
// Input: freeze-jobs' [{name, dependencies: [{name, soft}]}].

import { svg } from "./dom.js";

const NODE_H = 28;
const GAP_X = 60;
const GAP_Y = 14;
const CHAR_W = 7.4;

// Layer and order of each job: pure, so it can be reasoned about alone.
export function layout(jobs) {
  const byName = new Map(jobs.map((j) => [j.name, j]));
  const layer = new Map();
  const visiting = new Set();
  const depth = (name) => {
    if (layer.has(name)) return layer.get(name);
    if (visiting.has(name)) return 0; // a cycle: the API should not give one
    visiting.add(name);
    const deps = (byName.get(name)?.dependencies || []).filter((d) => byName.has(d.name));
    const value = deps.length ? 1 + Math.max(...deps.map((d) => depth(d.name))) : 0;
    visiting.delete(name);
    layer.set(name, value);
    return value;
  };
  jobs.forEach((j) => depth(j.name));
  const layers = [];
  for (const j of jobs) {
    const l = layer.get(j.name);
    (layers[l] = layers[l] || []).push(j.name);
  }
  const position = new Map();
  layers.forEach((names, l) => {
    if (l === 0) names.sort();
    else {
      const bary = (n) => {
        const deps = (byName.get(n).dependencies || []).filter((d) => position.has(d.name));
        return deps.length ? deps.reduce((s, d) => s + position.get(d.name), 0) / deps.length : 0;
      };
      names.sort((a, b) => bary(a) - bary(b) || a.localeCompare(b));
    }
    names.forEach((n, i) => position.set(n, i));
  });
  return { layers, layer, position };
}

export function jobGraph(jobs, onSelect) {
  const { layers } = layout(jobs);
  const width = (name) => Math.max(70, Math.round(name.length * CHAR_W) + 24);
  const columnW = layers.map((names) => Math.max(...names.map(width)));
  const columnX = [];
  let x = 10;
  for (const w of columnW) {
    columnX.push(x);
    x += w + GAP_X;
  }
  const tallest = Math.max(1, ...layers.map((names) => names.length));
  const totalH = tallest * (NODE_H + GAP_Y) + 20;
  const totalW = Math.max(200, x - GAP_X + 10);
  const box = new Map();
  layers.forEach((names, l) => {
    const offset = ((tallest - names.length) * (NODE_H + GAP_Y)) / 2;
    names.forEach((name, i) => {
      box.set(name, {
        x: columnX[l],
        y: 10 + offset + i * (NODE_H + GAP_Y),
        w: width(name),
      });
    });
  });
  const edges = [];
  for (const job of jobs) {
    const to = box.get(job.name);
    for (const dep of job.dependencies || []) {
      const from = box.get(dep.name);
      if (!from) continue;
      const x1 = from.x + from.w;
      const y1 = from.y + NODE_H / 2;
      const x2 = to.x;
      const y2 = to.y + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      edges.push(
        svg("path", {
          class: `edge${dep.soft ? " soft" : ""}`,
          d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2 - 4},${y2}`,
          "marker-end": "url(#arrow)",
          "data-from": dep.name,
          "data-to": job.name,
        }),
      );
    }
  }
  const nodes = jobs.map((job) => {
    const b = box.get(job.name);
    return svg(
      "g",
      {
        class: "node",
        tabindex: 0,
        role: "button",
        "data-job": job.name,
        transform: `translate(${b.x},${b.y})`,
        onclick: () => onSelect && onSelect(job.name),
        onkeydown: (e) => {
          if (e.key === "Enter" && onSelect) onSelect(job.name);
        },
      },
      svg("title", {}, job.name),
      svg("rect", { width: b.w, height: NODE_H, rx: 6 }),
      svg("text", { x: b.w / 2, y: NODE_H / 2 + 4, "text-anchor": "middle" }, job.name),
    );
  });
  return svg(
    "svg",
    {
      class: "job-graph",
      width: totalW,
      height: totalH,
      viewBox: `0 0 ${totalW} ${totalH}`,
      role: "img",
      "aria-label": `job graph: ${jobs.map((j) => j.name).join(", ")}`,
    },
    svg(
      "defs",
      {},
      svg(
        "marker",
        { id: "arrow", viewBox: "0 0 8 8", refX: 4, refY: 4, markerWidth: 8, markerHeight: 8, orient: "auto" },
        svg("path", { d: "M0,0 L8,4 L0,8 z", class: "arrow" }),
      ),
    ),
    edges,
    nodes,
  );
}
