"use strict";
// vaelab's latent explorer. The page's data (each run's nets, codes and facts) is the JSON in
// <script id="explorer-data">, written by vaelab.pictures.explore. The nets run here (nets.js):
// a hover costs no round trip to a server, and the page works from file:// with nothing but
// itself. With several runs, each gets a column of its own, and one pointer drives them all.

(() => {
  const PAGE = JSON.parse(document.getElementById("explorer-data").textContent);
  const { bytes, floats, Net } = vaelabNets;
  const LOGVAR_MIN = -30, LOGVAR_MAX = 20; // the range vaelab.distributions clamps to
  const FRAMES = 10, ANIMATION_FRAMES = 40, FRAME_MS = 50; // as vaelab.figures draws them
  const PICK_RADIUS = 6; // CSS px: a click this close to a test code picks the code itself
  const STRIP_COLUMNS = 5; // the strip's frames in rows of five
  const STRIP_GAP = 1; // image pixels of white between two frames, as the figures leave
  const PRIOR_SPAN = 3; // a VAE's sliders reach at least the prior's mean +- 3 std
  const SHADE = [60, 60, 60, 40]; // RGBA of a confident cell: a grey far lighter than the 7s'
  const INK = "#1d2330"; // the picks, their line and the drawing's marker: no class's colour

  const $ = (id) => document.getElementById(id);
  const several = PAGE.runs.length > 1;

  // Pixels in [0, 1] (C, H, W) into an ImageData of H x W: in colour for three channels; for
  // one, grey as vaelab's figures draw it: ink on paper (255 * (1 - p)) for `ink`, the
  // registered datasets, and as it is (255 * p) for anyone's own images.
  function paint(pixels, image, channels, ink) {
    const px = image.data, n = image.width * image.height;
    for (let k = 0, j = 0; k < n; k++, j += 4) {
      if (channels === 3) {
        px[j] = Math.round(255 * pixels[k]);
        px[j + 1] = Math.round(255 * pixels[n + k]);
        px[j + 2] = Math.round(255 * pixels[2 * n + k]);
      } else {
        px[j] = px[j + 1] = px[j + 2] = Math.round(255 * (ink ? 1 - pixels[k] : pixels[k]));
      }
      px[j + 3] = 255;
    }
  }

  function canvasImage(canvas, width, height) {
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d");
    return { canvas, ctx, image: ctx.createImageData(width, height) };
  }

  // Show a canvas of images of H x W pixels enlarged a whole number of times, so that pixels
  // stay square, the longer side of one image near `side` CSS px (280 is 10 x 28); narrower,
  // its shape kept, where its column is narrower (three runs side by side).
  function enlarge({ canvas }, [, H, W], side) {
    const times = Math.max(1, Math.floor(side / Math.max(H, W)));
    canvas.style.width = `${canvas.width * times}px`;
    canvas.style.maxWidth = "100%";
    canvas.style.height = "auto";
    canvas.style.aspectRatio = `${canvas.width} / ${canvas.height}`;
  }

  const lerp = (a, b, t) => a.map((x, k) => (1 - t) * x + t * b[k]);
  const argmax = (xs) => xs.reduce((best, x, k) => (x > xs[best] ? k : best), 0);
  const fixed2 = (x) => x.toFixed(2).replace(/^-(0\.00)$/, "$1"); // -0.001 reads 0.00
  const shown = (xs, n) => Array.from(xs.slice(0, n), fixed2).join(", ") +
    (xs.length > n ? ", …" : "");

  // =========================================================================================
  // One run: its plane, decoder, drawing, interpolation and facts, in the parts of `root`;
  // DATA is its part of the page's data (vaelab.pictures.explore.explorer_data).

  function makeRun(DATA, root, hub) {
    const part = (name) => root.querySelector(`.${name}`);
    const MODEL = DATA.model;
    const D = MODEL.latent_dims, K = MODEL.classes; // K: the label's length, 0 for none
    const LABELLED = DATA.classes.length > 0; // unlabelled images: labels 0, one colour
    const [CHANNELS, H, W] = MODEL.image_shape;
    let SIZE = part("plane-box").clientWidth; // CSS px of the square plane: 592, less if narrow

    // -------------------------------------------------------------------------------------
    // Data and nets.

    const CODES = floats({ dtype: "f4", data: DATA.codes }); // (N, D), row-major
    const LABELS = new Uint16Array(bytes(DATA.labels).buffer); // (N,)
    const N = LABELS.length;
    // CSS px of a code's square: 3 for thousands of codes, up to 7 for a few dozen, which
    // would be specks on a projector otherwise (the figures' dots grow likewise)
    const DOT = Math.min(7, Math.max(3, Math.round(Math.sqrt(6000 / N))));
    // Past twenty classes the colours come again: each twenty in turn take another shape
    // (DATA.shapes, of each class), in the codes and in the legend, as the figures take another
    // marker
    const SHAPES = ["square", "triangle", "diamond", "circle", "down", "hexagon"];
    const CORNERS = { // of each polygon, in units of its size, its centroid at the code
      triangle: [[0, -4 / 3], [1, 2 / 3], [-1, 2 / 3]],
      down: [[0, 4 / 3], [1, -2 / 3], [-1, -2 / 3]],
      diamond: [[0, -1], [1, 0], [0, 1], [-1, 0]],
      hexagon: [0, 1, 2, 3, 4, 5].map(
        (k) => [Math.cos(k * Math.PI / 3), Math.sin(k * Math.PI / 3)]),
    };
    const code = (i) => CODES.subarray(i * D, (i + 1) * D);
    const encoder = new Net(MODEL.encoder, MODEL.image_shape);
    const decoder = new Net(MODEL.decoder, [D]);

    const oneHot = (c) => Float32Array.from({ length: K }, (_, k) => (k === c ? 1 : 0));
    let chosen = 0; // the class a conditional model draws as, from the select
    let label = K ? oneHot(chosen) : null;

    function decodeInto(z, image, y = label) {
      paint(decoder.forward(z, y), image, CHANNELS, MODEL.ink);
    }

    // Images with pixels in [0, 1] (C, H, W) -> the posterior's mean and standard deviation
    // (a VAE), or the code itself and null (an AE).
    function encode(pixels, y = label) {
      const out = encoder.forward(pixels, y);
      const mean = Float32Array.from(out.subarray(0, D));
      if (MODEL.posterior !== "gaussian") return { mean, std: null };
      const std = out.slice(D, 2 * D).map(
        (logvar) => Math.exp(0.5 * Math.min(LOGVAR_MAX, Math.max(LOGVAR_MIN, logvar))));
      return { mean, std };
    }

    // A label as the nets take it: a class number, a row of K (a mix), or the chosen class.
    const side = (y) => (!K ? null : y === null || y === undefined ? label
      : typeof y === "number" ? oneHot(y) : Float32Array.from(y));

    // -------------------------------------------------------------------------------------
    // The plane: z(u, v) = origin + u * a + v * b + the sum, over the other directions of
    // the basis, of each slider's value times its direction. With one latent dimension there
    // is no b, and the points are spread by class along v instead (at random, without classes).

    const plane = { kind: D > 2 ? "pca" : "dims", a: null, b: null, origin: null, others: [],
                    base: new Float32Array(D), u: new Float32Array(N), v: new Float32Array(N) };

    function unit(k) {
      const e = new Float32Array(D);
      e[k] = 1;
      return e;
    }

    function projection(z, direction) {
      let s = 0;
      for (let k = 0; k < D; k++) s += (z[k] - plane.origin[k]) * direction[k];
      return s;
    }

    function setPlane(kind, i, j) {
      const pca = kind === "pca";
      const basis = pca ? DATA.pca.axes.map((row) => Float32Array.from(row))
        : Array.from({ length: D }, (_, k) => unit(k));
      const name = (k) => (pca ? `PC ${k + 1}` : `z${k + 1}`);
      Object.assign(plane, { kind, i, j, a: basis[i], b: D > 1 ? basis[j] : null,
                             origin: pca ? Float32Array.from(DATA.pca.origin) : new Float32Array(D),
                             names: [name(i), D > 1 ? name(j) : "class"] });
      for (let n = 0; n < N; n++) {
        plane.u[n] = projection(code(n), plane.a);
        plane.v[n] = plane.b ? projection(code(n), plane.b) : LABELS[n] + 0.6 * (jitter(n) - 0.5);
      }
      const zero = new Float32Array(D);
      plane.others = basis.map((direction, k) => ({ direction, k, name: name(k) }))
        .filter(({ k }) => k !== i && (D < 2 || k !== j))
        .map((other) => {
          const along = Array.from({ length: N }, (_, n) => projection(code(n), other.direction));
          const mean = along.reduce((s, x) => s + x, 0) / N;
          // The prior N(0, I) along a unit direction is N(0, 1), centred where z = 0 projects.
          const prior = projection(zero, other.direction);
          const reach = MODEL.posterior === "gaussian"
            ? [prior - PRIOR_SPAN, prior + PRIOR_SPAN] : [];
          return { ...other, value: pca ? 0 : mean, start: pca ? 0 : mean,
                   min: Math.min(...along, ...reach), max: Math.max(...along, ...reach) };
        });
      updateBase();
    }

    function jitter(n) { // a fixed pseudo-random number in [0, 1) per point
      const x = Math.sin(n * 12.9898) * 43758.5453;
      return x - Math.floor(x);
    }

    function updateBase() {
      plane.base.set(plane.origin);
      for (const { direction, value } of plane.others) {
        for (let k = 0; k < D; k++) plane.base[k] += value * direction[k];
      }
    }

    // The code at plane point (u, v), written into out (D).
    function codeAt(u, v, out = new Float32Array(D)) {
      for (let k = 0; k < D; k++) {
        out[k] = plane.base[k] + u * plane.a[k] + (plane.b ? v * plane.b[k] : 0);
      }
      return out;
    }

    // A code's place on the plane (its orthogonal projection); on the latent line, in ``row``
    // (a test image's, where it was picked), else midway between the classes' rows.
    function planePoint(z, row = null) {
      const v = plane.b ? projection(z, plane.b)
        : row ?? Math.max(DATA.classes.length - 1, 0) / 2;
      return [projection(z, plane.a), v];
    }

    // -------------------------------------------------------------------------------------
    // The view: the plane point at the canvas centre and CSS px per unit.

    const view = { cx: 0, cy: 0, scale: 1 };
    const toScreen = (u, v) => [SIZE / 2 + (u - view.cx) * view.scale,
                                SIZE / 2 - (v - view.cy) * view.scale];
    const toPlane = (x, y) => [view.cx + (x - SIZE / 2) / view.scale,
                               view.cy - (y - SIZE / 2) / view.scale];

    // The square around the points, 1.1 times their larger extent (as explore_shading's box).
    function fitView() {
      let [u0, u1, v0, v1] = [Infinity, -Infinity, Infinity, -Infinity];
      for (let n = 0; n < N; n++) {
        u0 = Math.min(u0, plane.u[n]); u1 = Math.max(u1, plane.u[n]);
        v0 = Math.min(v0, plane.v[n]); v1 = Math.max(v1, plane.v[n]);
      }
      const width = Math.max(u1 - u0, 1e-3), height = Math.max(v1 - v0, 1e-3);
      const scale = SIZE / (1.1 * Math.max(width, height));
      Object.assign(view, { cx: (u0 + u1) / 2, cy: (v0 + v1) / 2, scale, fit: scale });
    }

    // Zoom by ``factor`` about the plane point (u, v), which stays where it is on the screen;
    // from a hundredth of the fitted view to a thousand times it.
    function zoomAbout(u, v, factor) {
      const [x, y] = toScreen(u, v);
      view.scale = Math.min(view.fit * 1000, Math.max(view.fit / 100, view.scale * factor));
      view.cx = u - (x - SIZE / 2) / view.scale;
      view.cy = v + (y - SIZE / 2) / view.scale;
      redraw();
    }

    const pointsCtx = part("points").getContext("2d");
    const overlayCtx = part("overlay").getContext("2d");

    let layersRatio = 0; // the device pixels per CSS pixel that the layers were sized for
    function sizeLayers() {
      const ratio = layersRatio = window.devicePixelRatio || 1;
      for (const ctx of [pointsCtx, overlayCtx]) {
        ctx.canvas.width = ctx.canvas.height = Math.round(SIZE * ratio);
        ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      }
    }

    sizeLayers();

    function niceStep(span) {
      const raw = span / 6, power = 10 ** Math.floor(Math.log10(raw));
      return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw);
    }

    // The grid's lines, drawn under the codes; their numbers, returned to be drawn over them.
    function drawGrid(ctx) {
      const [u0, v1] = toPlane(0, 0), [u1, v0] = toPlane(SIZE, SIZE);
      const step = niceStep(Math.max(u1 - u0, v1 - v0));
      const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9)); // 0.002: 3
      const label = (x) => x.toFixed(digits).replace(/^-(0\.?0*)$/, "$1"); // -0.000 reads 0
      const labels = [];
      ctx.lineWidth = 1;
      for (let k = Math.ceil(u0 / step); k * step <= u1; k++) { // whole steps: no drift
        const u = k * step;
        const [x] = toScreen(u, 0);
        ctx.strokeStyle = Math.abs(u) < step / 2 ? "#c9cedb" : "#eef0f6";
        ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, SIZE); ctx.stroke();
        labels.push([label(u), x + 3, SIZE - 5]);
      }
      for (let k = Math.ceil(v0 / step); k * step <= v1; k++) {
        const v = k * step;
        const [, y] = toScreen(0, v);
        ctx.strokeStyle = Math.abs(v) < step / 2 ? "#c9cedb" : "#eef0f6";
        ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(SIZE, y); ctx.stroke();
        labels.push([label(v), 4, y - 3]);
      }
      return labels;
    }

    // The axes' numbers, on a white halo so that the codes and the shading under them do not
    // hide them (muted ink: 5.9:1 against white).
    let ticksShown = [], ticksCut = []; // [text, x, y, width] of the numbers drawn, left out
    function drawTicks(ctx, labels) {
      ctx.font = "11px system-ui, sans-serif";
      ctx.lineJoin = "round"; ctx.lineWidth = 3; ctx.strokeStyle = "#fff";
      ctx.fillStyle = "#5b6477";
      ticksShown = []; ticksCut = [];
      for (const [text, x, y] of labels) {
        const width = ctx.measureText(text).width;
        const onAnother = ticksShown.some(([, x2, y2, w2]) => // the corner's "-4" and "-4"
          x < x2 + w2 + 5 && x2 < x + width + 5 && Math.abs(y - y2) < 12);
        if (x + width > SIZE - 2 || y < 11 || onAnother) { // cut by the edge, "10" would read "1"
          ticksCut.push([text, x, y, width]);
          continue;
        }
        ctx.strokeText(text, x, y);
        ctx.fillText(text, x, y);
        ticksShown.push([text, x, y, width]);
      }
    }

    function drawPoints() {
      const resized = layersRatio !== (window.devicePixelRatio || 1); // zoomed: stay sharp
      if (resized) sizeLayers(); // which clears the overlay too: drawn again below
      const ctx = pointsCtx;
      ctx.clearRect(0, 0, SIZE, SIZE);
      const ticks = drawGrid(ctx);
      drawShading(ctx);
      ctx.globalAlpha = 0.7;
      for (let n = 0; n < N; n++) { // the codes come in random order: no class hides another
        const [x, y] = toScreen(plane.u[n], plane.v[n]);
        ctx.fillStyle = DATA.colors[LABELS[n]];
        const shape = SHAPES[DATA.shapes[LABELS[n]] % SHAPES.length];
        if (shape === "square") {
          ctx.fillRect(x - DOT / 2, y - DOT / 2, DOT, DOT);
          continue;
        }
        const r = DOT * 0.65; // about as large as the square, centred on the code
        ctx.beginPath();
        if (shape === "circle") ctx.arc(x, y, r, 0, 2 * Math.PI);
        else CORNERS[shape].forEach(([dx, dy]) => ctx.lineTo(x + r * dx, y + r * dy));
        ctx.fill(); // (a first lineTo of a path is its moveTo)
      }
      ctx.globalAlpha = 1;
      drawNames(ctx);
      drawTicks(ctx, ticks);
      if (resized) drawOverlay();
    }

    // Each class's name (or what stands for it, DATA.marks) where its codes lie thickest and
    // most its own (on them where they bend round an empty middle; of a class of fewer than
    // 12, names.py's FEW, at their median), on a white halo, as the figures name them
    // (names.py's _densest, the same codes weighed): ten colours are not ten to every reader
    // (several merge for the colour-blind), a name in place is. Names nearer than a name's
    // size move apart, each as little as that takes. Weighed once a plane.
    let namesShown = [], namesPlaced = { of: null, at: [] };
    function densest() { return namePlaces(plane.u, plane.v, LABELS, DATA.marks.length); }
    function namePlaces(planeU, planeV, labels, classes) { // [[class, u, v], ...]
      const lerp = (sorted, p) => {
        const last = sorted.length - 1, h = last * p, lo = Math.floor(h);
        return sorted[lo] + (sorted[Math.min(lo + 1, last)] - sorted[lo]) * (h - lo);
      };
      const spread = [planeU, planeV].map((xs) => {
        const sorted = Float64Array.from(xs).sort(), s = lerp(sorted, 0.99) - lerp(sorted, 0.01);
        return s > 0 ? s : 1;
      });
      const count = planeU.length, us = [], vs = [];
      for (let c = 0; c < classes; c++) { us.push([]); vs.push([]); }
      for (let n = 0; n < count; n++) {
        us[labels[n]].push(planeU[n] / spread[0]);
        vs[labels[n]].push(planeV[n] / spread[1]);
      }
      const ours = Math.ceil(count / 4000), allU = [], allV = [];
      for (let n = 0; n < count; n += ours) {
        allU.push(planeU[n] / spread[0]);
        allV.push(planeV[n] / spread[1]);
      }
      const near = (cu, cv, gu, gv) => {
        let k = 0;
        for (let j = 0; j < gu.length; j++) {
          const du = cu - gu[j], dv = cv - gv[j];
          if (du * du + dv * dv < 0.05 * 0.05) k++;
        }
        return k;
      };
      const at = [];
      us.forEach((u, c) => {
        if (!u.length) return;
        const v = vs[c];
        if (u.length < 12) { // names.py's FEW
          const median = (xs) => lerp(Float64Array.from(xs).sort(), 0.5);
          at.push([c, median(u) * spread[0], median(v) * spread[1]]);
          return;
        }
        const step = Math.ceil(u.length / 4000), ou = [], ov = [];
        for (let j = 0; j < u.length; j += step) { ou.push(u[j]); ov.push(v[j]); }
        let best = 0, most = -1;
        for (let i = 0; i < u.length; i += Math.ceil(u.length / 200)) {
          const thick = near(u[i], v[i], ou, ov) * step;
          const there = near(u[i], v[i], allU, allV) * ours;
          const score = thick * thick / Math.max(there, thick, 1);
          if (score > most) { most = score; best = i; }
        }
        at.push([c, u[best] * spread[0], v[best] * spread[1]]);
      });
      return at;
    }
    function drawNames(ctx) {
      namesShown = [];
      if (!DATA.marks.length) return;
      const of = `${plane.kind} ${plane.i} ${plane.j}`;
      if (namesPlaced.of !== of) namesPlaced = { of, at: densest() };
      const at = namesPlaced.at.map(([c, u, v]) => [c, ...toScreen(u, v)]);
      for (let round = 0; round < 50; round++) {
        let moved = false;
        for (let i = 0; i < at.length; i++) {
          for (let j = i + 1; j < at.length; j++) {
            const dx = at[j][1] - at[i][1], dy = at[j][2] - at[i][2], d = Math.hypot(dx, dy);
            if (d >= 16) continue;
            const [ex, ey] = d > 1e-6 ? [dx / d, dy / d] : [0, 1], push = (16 - d) / 2 + 0.5;
            at[i][1] -= ex * push; at[i][2] -= ey * push;
            at[j][1] += ex * push; at[j][2] += ey * push;
            moved = true;
          }
        }
        if (!moved) break;
      }
      ctx.font = "bold 13px system-ui, sans-serif";
      ctx.textAlign = "center"; ctx.textBaseline = "middle";
      ctx.lineJoin = "round"; ctx.lineWidth = 3.5; ctx.strokeStyle = "#fff"; ctx.fillStyle = INK;
      for (const [c, x, y] of at) {
        ctx.strokeText(DATA.marks[c], x, y);
        ctx.fillText(DATA.marks[c], x, y);
        namesShown.push([DATA.marks[c], x, y]);
      }
      ctx.textAlign = "start"; ctx.textBaseline = "alphabetic";
    }

    const textBoxes = []; // [left, top, right, bottom] of the labels drawn on the overlay so far

    // A point of the plane that the page names (a pick, the drawing): a shape of ink edged in
    // white, in no class's colour, and its name beside it.
    function marker(ctx, z, shape, text, row = null) {
      const [x, y] = toScreen(...planePoint(z, row));
      if (borderArrow(ctx, x, y, INK)) return [x, y]; // out of view: where to look
      ctx.beginPath();
      if (shape === "square") {
        ctx.rect(x - 5.5, y - 5.5, 11, 11);
      } else if (shape === "diamond") {
        ctx.moveTo(x, y - 8); ctx.lineTo(x + 8, y); ctx.lineTo(x, y + 8); ctx.lineTo(x - 8, y);
        ctx.closePath();
      } else {
        ctx.arc(x, y, 6, 0, 2 * Math.PI);
      }
      ctx.fillStyle = INK; ctx.fill();
      ctx.lineWidth = 2; ctx.strokeStyle = "#fff"; ctx.stroke();
      if (text) {
        ctx.font = "bold 13px system-ui, sans-serif";
        const width = ctx.measureText(text).width;
        const boxes = [[x + 9, y - 8], [x + 9, y + 20], [x - 9 - width, y - 8],
                       [x - 9 - width, y + 20]].map(([left, base]) => [left, base - 12,
                                                                        left + width, base + 3]);
        const clear = (box) => !textBoxes.some((o) => box[0] < o[2] && o[0] < box[2]
                                                      && box[1] < o[3] && o[1] < box[3]);
        const inside = (box) => box[0] >= 2 && box[2] <= SIZE - 2 && box[1] >= 2
                                && box[3] <= SIZE - 2; // not cut by the plane's edge
        const box = boxes.find((b) => inside(b) && clear(b)) || boxes.find(inside) || boxes[0];
        // above right, below right, then left
        textBoxes.push(box);
        ctx.lineWidth = 3; ctx.strokeText(text, box[0], box[3] - 3);
        ctx.fillStyle = INK; ctx.fillText(text, box[0], box[3] - 3);
      }
      return [x, y];
    }

    // The drawn digit's posterior, projected on the plane: a Gaussian whose 2 x 2 covariance
    // is [[a.S.a, a.S.b], [a.S.b, b.S.b]] with S = diag(std^2); its 1-std ellipse.
    function drawPosterior(ctx, { mean, std }) {
      if (std) {
        const b = plane.b || new Float32Array(D);
        let p = 0, q = 0, r = 0;
        for (let k = 0; k < D; k++) {
          const s2 = std[k] * std[k];
          p += plane.a[k] * plane.a[k] * s2; q += b[k] * b[k] * s2; r += plane.a[k] * b[k] * s2;
        }
        const mid = (p + q) / 2, half = Math.hypot((p - q) / 2, r);
        const angle = 0.5 * Math.atan2(2 * r, p - q);
        const [x, y] = toScreen(...planePoint(mean));
        ctx.beginPath();
        ctx.ellipse(x, y, Math.sqrt(mid + half) * view.scale,
                    Math.sqrt(Math.max(mid - half, 0)) * view.scale, -angle, 0, 2 * Math.PI);
        ctx.fillStyle = "rgba(29, 35, 48, 0.12)"; ctx.fill();
        ctx.lineWidth = 1.5; ctx.strokeStyle = INK; ctx.stroke();
      }
      marker(ctx, mean, "diamond", "drawn");
    }

    // Where another run's pointer is, in this plane's coordinates: a cross; out of view, an
    // arrowhead on the border, pointing its way.
    // It is edged in white, as the picks are, so that it shows on codes of any class's colour.
    function drawCross(ctx, [u, v]) {
      const [x, y] = toScreen(u, v);
      if (borderArrow(ctx, x, y, "#d9480f")) return;
      ctx.beginPath();
      ctx.moveTo(x - 11, y); ctx.lineTo(x + 11, y); ctx.moveTo(x, y - 11); ctx.lineTo(x, y + 11);
      ctx.lineCap = "round";
      ctx.lineWidth = 6; ctx.strokeStyle = "#fff"; ctx.stroke();
      ctx.lineWidth = 2.5; ctx.strokeStyle = "#d9480f"; ctx.stroke();
      ctx.lineCap = "butt";
    }

    // A place (x, y) px out of view: an arrowhead on the border, pointing its way; false (and
    // nothing drawn) where it is in view.
    function borderArrow(ctx, x, y, color) {
      if (x >= 0 && x <= SIZE && y >= 0 && y <= SIZE) return false;
      const [cx, cy] = [x, y].map((p) => Math.min(SIZE - 8, Math.max(8, p)));
      const angle = Math.atan2(y - cy, x - cx), point = (a, r) => [cx + r * Math.cos(angle + a),
                                                                  cy + r * Math.sin(angle + a)];
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.moveTo(...point(0, 7)); ctx.lineTo(...point(2.4, 7)); ctx.lineTo(...point(-2.4, 7));
      ctx.fill();
      return true;
    }

    function drawOverlay() {
      const ctx = overlayCtx;
      ctx.clearRect(0, 0, SIZE, SIZE);
      if (state.picks.length === 2) {
        const [[x0, y0], [x1, y1]] = state.picks.map((p) => toScreen(...planePoint(p.z, p.row)));
        ctx.setLineDash([5, 4]); ctx.lineWidth = 2; ctx.strokeStyle = INK;
        ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
        ctx.setLineDash([]);
      }
      textBoxes.length = 0; // each marker's label, placed clear of those before it
      state.picks.forEach((p, k) => marker(ctx, p.z, ["circle", "square"][k], ["start", "end"][k],
                                           p.row));
      if (state.drawn) drawPosterior(ctx, state.drawn);
      if (cross) drawCross(ctx, cross);
    }

    function redraw() {
      drawPoints();
      drawOverlay();
    }

    // -------------------------------------------------------------------------------------
    // The classifier's confidence over the plane the page opens with: computed in Python
    // (explore_shading) for cells of its first view, once per class for a conditional model.

    const SHADING = DATA.shading;
    const shadeToggle = part("shade-toggle");
    const shadeImages = []; // per class: a cells x cells canvas, confident cells shaded

    function shadeImage(c) {
      if (shadeImages[c]) return shadeImages[c];
      const cells = SHADING.cells, flags = bytes(SHADING.confident);
      const { canvas, ctx, image } = canvasImage(document.createElement("canvas"), cells, cells);
      for (let k = 0; k < cells * cells; k++) {
        if (flags[c * cells * cells + k]) image.data.set(SHADE, 4 * k);
      }
      ctx.putImageData(image, 0, 0);
      shadeImages[c] = { canvas, share: flags.subarray(c * cells * cells, (c + 1) * cells * cells)
        .reduce((s, f) => s + f, 0) / (cells * cells) };
      return shadeImages[c];
    }

    // Why the shading does not hold for what the plane shows now, or "" when it does.
    function shadingOff() {
      if (SHADING.missing) return SHADING.missing;
      if (plane.kind !== SHADING.plane || plane.i !== 0 || plane.j !== 1) {
        return "it was computed for the plane the page opens with; choose that plane again";
      }
      if (plane.others.some((other) => other.value !== other.start)) {
        return "it was computed with the other coordinates at their start; reset them";
      }
      return "";
    }

    function drawShading(ctx) {
      if (!shadeToggle.checked || shadingOff()) return;
      const [u0, u1, v0, v1] = SHADING.box;
      const [x0, y0] = toScreen(u0, v1), [x1, y1] = toScreen(u1, v0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(shadeImage(K ? chosen : 0).canvas, x0, y0, x1 - x0, y1 - y0);
    }

    function showShadingNote() {
      const why = shadingOff(), note = part("shade-note");
      shadeToggle.disabled = Boolean(SHADING.missing);
      state.shading = { on: shadeToggle.checked && !why, why };
      if (why) {
        note.textContent = `Does not apply${SHADING.missing ? "" : " now"}: ${why}.`;
      } else if (shadeToggle.checked) {
        const { share } = shadeImage(K ? chosen : 0);
        const as = K ? `, drawn as ${DATA.classes[chosen]}` : "";
        note.textContent = `${(100 * share).toFixed(0)}% of the ${SHADING.cells} × ` +
          `${SHADING.cells} cells of the first view${as}; the classifier scores ` +
          `${(100 * SHADING.accuracy).toFixed(1)}% on the test set.`;
      } else {
        note.textContent = "";
      }
    }

    if (!SHADING.missing) part("shade-threshold").textContent = String(SHADING.threshold);
    shadeToggle.addEventListener("change", () => { showShadingNote(); drawPoints(); });

    // -------------------------------------------------------------------------------------
    // What the run's view holds, readable from outside for tests and benchmarks.

    const state = {
      latency: [], // ms from each pointer event's time stamp to the decoded pixels being put
      hover: null, // { u, v, z } last decoded at the pointer
      picks: [], // up to two { z, y, what }: y the one-hot label of a test image, else null
      drawn: null, // { pixels, mean, std }
      shading: null, // { on, why }
      toScreen: (z) => toScreen(...planePoint(z)), // a code's place on the plane, in CSS px
      planeToScreen: (u, v) => toScreen(u, v),
      screenToPlane: (x, y) => toPlane(x, y),
      get scale() { return view.scale; }, // CSS px per plane unit
      get ticks() { return ticksShown; }, // the axes' numbers drawn: [text, x, y, width]
      get ticksCut() { return ticksCut; }, // and those left out, which the edge would cut
      get names() { return namesShown; }, // the classes' names on the plane: [mark, x, y]
      namePlaces, // where names stand among given codes: [class, u, v] (names.py's _densest)
      // The decoder's image (C * H * W floats in [0, 1]) and the encoder's posterior, with the
      // label y (a class, a row of K, or null for the chosen class) of a conditional model.
      decode: (z, y = null) => Array.from(decoder.forward(Float32Array.from(z), side(y))),
      encode: (pixels, y = null) => {
        const { mean, std } = encode(Float32Array.from(pixels), side(y));
        return { mean: Array.from(mean), std: std && Array.from(std) };
      },
    };

    // -------------------------------------------------------------------------------------
    // Hover: decode at the pointer at once, in the event handler (hub.hover calls showAt).

    const decoded = canvasImage(part("decoded"), W, H);
    enlarge(decoded, MODEL.image_shape, 280);
    const hoverZ = new Float32Array(D);
    let pointer = null; // [u, v]: the plane point last decoded
    let cross = null; // [u, v] where another run's pointer is, or null

    // Where the decoder's section is out of sight (under the plane of runs side by side, or
    // of a narrow window), the plane shows the decoded image too, in a corner away from the
    // pointer.
    const inset = canvasImage(part("inset"), W, H);
    inset.canvas.style.aspectRatio = `${W} / ${H}`;
    let decoderSeen = true;
    new IntersectionObserver(([seen]) => { decoderSeen = seen.intersectionRatio >= 0.5; },
                             { threshold: [0, 0.5, 1] }).observe(part("decoded"));

    function showAt(u, v) {
      codeAt(u, v, hoverZ);
      decodeInto(hoverZ, decoded.image);
      decoded.ctx.putImageData(decoded.image, 0, 0);
      inset.canvas.hidden = decoderSeen;
      if (!decoderSeen) { // a whole number of times its size, near a quarter of the plane
        inset.ctx.putImageData(decoded.image, 0, 0);
        inset.canvas.style.width = `${W * Math.max(1, Math.round(SIZE / 4 / Math.max(H, W)))}px`;
        const [x, y] = toScreen(u, v);
        inset.canvas.classList.toggle("low", x > SIZE / 2 && y < SIZE / 2);
      }
      pointer = [u, v];
      state.hover = { u, v, z: Array.from(hoverZ) };
      const as = K ? ` as ${DATA.classes[chosen]}` : "";
      const onPlane = plane.kind === "pca" ? `; on the plane (${fixed2(u)}, ${fixed2(v)})` : "";
      // which class's codes it is among, for a reader who cannot see the colours (a CVAE's
      // are drawn as the class chosen, whatever codes lie there)
      const n = LABELLED && !K ? nearestCode(...toScreen(u, v)) : -1;
      const near = n >= 0 ? `; by a test ${DATA.classes[LABELS[n]]}` : "";
      part("pointer-z").textContent = `z = (${shown(hoverZ, 8)})${as}${near}${onPlane}`;
    }

    function mark(at) {
      if (at === cross) return;
      cross = at;
      drawOverlay();
    }

    // -------------------------------------------------------------------------------------
    // Zoom, pan and picks on the plane.

    const overlay = part("overlay");
    let drag = null;

    // Chromium delivers pointermove once per animation frame, up to 16 ms after the input;
    // pointerrawupdate comes as soon as the input does. Other browsers have only pointermove.
    const hoverEvent = "onpointerrawupdate" in window ? "pointerrawupdate" : "pointermove";
    // Two fingers on a touch screen pinch to zoom and move the plane together: the plane
    // point under their midpoint stays under it, at the scale their spread gives.
    const fingers = new Map(); // pointerId -> [x, y] of each finger down on the plane
    let pinch = null; // { u, v, spread, scale } when two fingers came down

    overlay.addEventListener(hoverEvent, (event) => {
      if (pinch) return; // its fingers decode nothing: in turn, each would flicker the image
      hub.hover(api, ...toPlane(event.offsetX, event.offsetY), event.timeStamp);
    });
    const spreadOf = ([a, b]) => Math.hypot(a[0] - b[0], a[1] - b[1]);
    const midOf = ([a, b]) => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];

    overlay.addEventListener("pointermove", (event) => {
      if (fingers.has(event.pointerId)) {
        fingers.set(event.pointerId, [event.offsetX, event.offsetY]);
      }
      if (pinch) { // the first two fingers set it; a finger lifted holds the plane still
        if (fingers.size < 2) return;
        const at = [...fingers.values()].slice(0, 2), [x, y] = midOf(at);
        view.scale = Math.min(view.fit * 1000, Math.max(view.fit / 100,
          pinch.scale * spreadOf(at) / Math.max(pinch.spread, 1)));
        view.cx = pinch.u - (x - SIZE / 2) / view.scale;
        view.cy = pinch.v + (y - SIZE / 2) / view.scale;
        redraw();
        return;
      }
      if (!drag) return;
      const dx = event.offsetX - drag.x, dy = event.offsetY - drag.y;
      drag.moved ||= Math.hypot(dx, dy) > 3;
      if (drag.moved) {
        view.cx = drag.cx - dx / view.scale;
        view.cy = drag.cy + dy / view.scale;
        redraw();
        // the hover of this move was decoded in the view before it: again, under the pointer
        hub.hover(api, ...toPlane(event.offsetX, event.offsetY));
      }
    });

    // Only the main button picks and pans: the others open menus or scroll.
    overlay.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      overlay.setPointerCapture(event.pointerId);
      if (event.pointerType === "touch") {
        fingers.set(event.pointerId, [event.offsetX, event.offsetY]);
      }
      if (fingers.size > 1) { // a pinch: no finger of it picks or pans alone
        const at = [...fingers.values()].slice(0, 2), [u, v] = toPlane(...midOf(at));
        pinch ??= { u, v, spread: spreadOf(at), scale: view.scale };
        drag = null;
        return;
      }
      drag = { x: event.offsetX, y: event.offsetY, cx: view.cx, cy: view.cy, moved: false };
    });

    const lifted = (event) => { // the pinch ends as its last finger lifts
      fingers.delete(event.pointerId);
      if (!fingers.size) pinch = null;
    };
    overlay.addEventListener("pointerup", (event) => {
      const pinched = pinch !== null;
      lifted(event);
      if (pinched || event.button !== 0 || !drag) return;
      if (!drag.moved && event.pointerType !== "mouse") { // a tap has no hover before it: it
        hub.hover(api, ...toPlane(event.offsetX, event.offsetY)); // decodes where it lands,
        mark(pointer); // marked, as no cursor shows where
      }
      if (!drag.moved) hub.pick(api, event.offsetX, event.offsetY);
      drag = null;
    });

    overlay.addEventListener("pointercancel", (event) => { lifted(event); drag = null; });

    // The mouse gone, every plane marks where the decoders stand, this one too.
    // (A finger lifted leaves too: what its tap decoded stays in view.)
    overlay.addEventListener("pointerleave", (event) => {
      if (event.pointerType !== "touch") hub.left();
    });

    // Reached by the keyboard (Tab), the plane shows the pointer that the arrows will move.
    overlay.addEventListener("focus", () => {
      if (!overlay.matches(":focus-visible")) return; // a click: the mouse is the pointer
      hub.hover(api, ...(pointer || toPlane(SIZE / 2, SIZE / 2)));
      mark(pointer);
    });

    const EDGE = 16; // px: the keyboard's pointer keeps this far inside the plane

    // A narrow window shrinks the plane: the same region stays in view.
    new ResizeObserver(() => {
      const size = part("plane-box").clientWidth;
      if (!size || size === SIZE) return;
      view.scale *= size / SIZE;
      view.fit *= size / SIZE;
      SIZE = size;
      sizeLayers();
      redraw();
    }).observe(part("plane-box"));

    // The browser zoomed, or the window moved to a screen of another density: the layers
    // take as many pixels as the plane now covers, so that it stays sharp (and at the next
    // drawing, where a browser does not say so).
    (function watchDensity() { // (a browser without it re-sizes at the next drawing alone)
      window.matchMedia?.(`(resolution: ${window.devicePixelRatio || 1}dppx)`).addEventListener?.(
        "change", () => { redraw(); watchDensity(); }, { once: true });
    })();
    window.addEventListener("resize", () => {
      if (layersRatio !== (window.devicePixelRatio || 1)) redraw();
    });

    overlay.addEventListener("wheel", (event) => {
      event.preventDefault();
      zoomAbout(...toPlane(event.offsetX, event.offsetY), Math.exp(-event.deltaY * 0.0015));
    }, { passive: false });

    part("fit-view").addEventListener("click", () => { fitView(); redraw(); });

    // The keyboard: the plane takes the focus (Tab); arrows move the pointer (with Shift, four
    // times as far), Enter or Space picks where it is, + and - zoom about it, 0 fits the view.
    overlay.tabIndex = 0;
    overlay.setAttribute("role", "application");
    overlay.setAttribute("aria-label", "Latent plane: arrow keys move the pointer, Enter " +
                         "picks a point, plus and minus zoom, 0 shows every code");
    overlay.addEventListener("keydown", (event) => {
      const at = pointer || toPlane(SIZE / 2, SIZE / 2);
      const reach = (event.shiftKey ? 48 : 12) / view.scale; // CSS px, in plane units
      const moves = { ArrowLeft: [-reach, 0], ArrowRight: [reach, 0],
                      ArrowUp: [0, reach], ArrowDown: [0, -reach] };
      if (event.key in moves) {
        const [u, v] = [at[0] + moves[event.key][0], at[1] + moves[event.key][1]];
        keepInView(u, v);
        hub.hover(api, u, v);
        mark(pointer); // no mouse shows where: the cross does
      } else if (event.key === "Enter" || event.key === " ") {
        hub.pick(api, ...toScreen(...at));
      } else if (event.key === "+" || event.key === "=") {
        zoomAbout(...at, 1.25);
      } else if (event.key === "-" || event.key === "_") {
        zoomAbout(...at, 0.8);
      } else if (event.key === "0" || event.key === "Home") {
        fitView();
        redraw();
      } else {
        return;
      }
      event.preventDefault(); // the page does not scroll
    });

    // The view moved, where (u, v) would leave it, just enough to hold it EDGE px inside.
    function keepInView(u, v) {
      const [x, y] = toScreen(u, v);
      const past = (t) => (t < EDGE ? t - EDGE : t > SIZE - EDGE ? t - (SIZE - EDGE) : 0);
      if (!past(x) && !past(y)) return;
      view.cx += past(x) / view.scale;
      view.cy -= past(y) / view.scale;
      redraw();
    }

    // The test code within PICK_RADIUS of (x, y) px, or -1.
    function nearestCode(x, y) {
      let best = -1, bestDistance = PICK_RADIUS;
      for (let n = 0; n < N; n++) {
        const [px, py] = toScreen(plane.u[n], plane.v[n]);
        const distance = Math.hypot(px - x, py - y);
        if (distance < bestDistance) [best, bestDistance] = [n, distance];
      }
      return best;
    }

    // A pick is a test image { n } (its code, and its own label) or a place { u, v } (drawn
    // as the chosen class).
    function addPick({ n, u, v }) {
      const test = n !== undefined;
      const z = test ? Float32Array.from(code(n)) : codeAt(u, v);
      const y = test && K ? oneHot(LABELS[n]) : null;
      const what = test ? `a test ${LABELLED ? DATA.classes[LABELS[n]] : "image"}, ` : "";
      const row = test ? plane.v[n] : v; // where it sits on a latent line
      if (state.picks.length === 2) { // a new line begins: the old one goes
        state.picks = [];
        showLine(false);
      }
      state.picks.push({ z, y, what, row });
      drawOverlay();
      if (state.picks.length === 2) interpolate();
      else startNote();
    }

    // After the first pick: where the line starts, and for a place in a conditional model
    // the class it is drawn as (the chosen one, which the select changes).
    function startNote() {
      const [start] = state.picks;
      const as = K && !start.y ? `, drawn as class ${DATA.classes[chosen]}` : "";
      part("interp-note").textContent = `Start: ${pickedAs(start)}${as}; now click where the ` +
        "line ends.";
    }

    // "a test 7, z = (0.12, -1.30)", the code's first coordinates.
    const pickedAs = ({ z, what }) => `${what}z = (${shown(z, 4)})`;

    // -------------------------------------------------------------------------------------
    // Interpolation: a strip of FRAMES decodings, and the line walked there and back; for a
    // conditional model the label goes along, from the start's to the end's (a place takes
    // the chosen one).

    const STRIP_ROWS = Math.ceil(FRAMES / STRIP_COLUMNS);
    const strip = canvasImage(part("strip"), STRIP_COLUMNS * (W + STRIP_GAP) - STRIP_GAP,
                              STRIP_ROWS * (H + STRIP_GAP) - STRIP_GAP);
    const animation = canvasImage(part("animation"), W, H);
    enlarge(strip, MODEL.image_shape, 84);
    enlarge(animation, MODEL.image_shape, 168);
    let timer = null, frames = [], f = 0, paused = false; // the line's frames, there and back
    const toggle = part("anim-toggle");

    // The strip and the animation of a line (or neither), the animation playing unless the
    // system asks for less motion or the reader paused it (motion that goes on distracts):
    // a new line, or another class, keeps it paused, at the line's first frame.
    function showLine(shown, still = false) {
      clearInterval(timer);
      timer = null;
      if (shown && !still) {
        animation.ctx.putImageData(frames[f % frames.length], 0, 0);
        if (!paused) play();
      }
      strip.canvas.style.display = shown ? "block" : "none";
      animation.canvas.style.display = shown && !still ? "block" : "none";
      toggle.hidden = !shown || still;
    }

    function play() {
      timer = setInterval(() => animation.ctx.putImageData(frames[++f % frames.length], 0, 0),
                          FRAME_MS);
    }

    toggle.addEventListener("click", () => { // its name says what a press does next
      paused = !paused;
      if (paused) {
        clearInterval(timer);
        timer = null;
      } else {
        play();
      }
      toggle.textContent = paused ? "play" : "pause";
    });

    function lineFrame(from, to, t) {
      const image = new ImageData(W, H);
      decodeInto(lerp(from.z, to.z, t), image, K ? lerp(from.y || label, to.y || label, t) : null);
      return image;
    }

    function interpolate() {
      const [from, to] = state.picks;
      strip.ctx.fillStyle = "#fff"; // the gaps
      strip.ctx.fillRect(0, 0, strip.canvas.width, strip.canvas.height);
      for (let f = 0; f < FRAMES; f++) {
        const [column, row] = [f % STRIP_COLUMNS, Math.floor(f / STRIP_COLUMNS)];
        strip.ctx.putImageData(lineFrame(from, to, f / (FRAMES - 1)),
                               column * (W + STRIP_GAP), row * (H + STRIP_GAP));
      }
      const there = Array.from({ length: ANIMATION_FRAMES },
                               (_, f) => lineFrame(from, to, f / (ANIMATION_FRAMES - 1)));
      frames = [...there, ...there.slice(1, -1).reverse()];
      f = 0;
      // Where the system asks for less motion the strip alone shows the line, and says so.
      const still = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
      const className = (p) => (p.y ? DATA.classes[argmax(p.y)] : DATA.classes[chosen]);
      const labels = !K ? "" : className(from) === className(to)
        ? ` Drawn as class ${className(from)}.`
        : ` The label goes from class ${className(from)} to class ${className(to)}, mixed ` +
          "along the line.";
      part("interp-note").textContent =
        `From the start (${pickedAs(from)}) to the end (${pickedAs(to)}).${labels}` +
        (still ? " Not animated, as this system asks for less motion." : "");
      showLine(true, still);
    }

    // -------------------------------------------------------------------------------------
    // Draw: the pad's ink (shared by the runs of this image size, hub.pad) is encoded at once.

    const drawing = canvasImage(part("draw"), W, H);
    const recon = canvasImage(part("recon"), W, H);
    enlarge(drawing, MODEL.image_shape, 168);
    enlarge(recon, MODEL.image_shape, 168);
    const PAPER_LIGHT = !MODEL.ink && MODEL.paper === "light";
    if (!MODEL.ink && !PAPER_LIGHT) { // before any ink, pixels of 0: black, as they are drawn
      drawing.canvas.style.background = recon.canvas.style.background = "#000";
    }
    const DRAWN = { MNIST: "a digit", "Fashion-MNIST": "a garment or a shoe" }[DATA.run.dataset];
    const CENTRE = DRAWN !== undefined; // a registered dataset's images are centred; one's own
    // with what the screen is drawn on: a finger (or a pen) where the main pointer is coarse
    const TOOL = window.matchMedia?.("(pointer: coarse)").matches ? "a finger" : "the mouse";
    const DRAW_HINT = `Draw ${DRAWN ?? `something like the ${DATA.run.images}`} with ` +
      (CENTRE ? `${TOOL}. Moved so that its centre of mass is in the middle (the ` +
                `${DATA.run.dataset} images it learnt from are centred), it is encoded and ` +
                "placed on the plane."
              : `${TOOL}, where it stands in them: it is encoded as drawn and placed on ` +
                "the plane.");
    part("drawn-z").textContent = DRAW_HINT;

    // The drawing moved by whole pixels so that its centre of mass is the image's centre, as
    // MNIST's digits were (LeCun et al.): what the encoder learned from.
    function centred(pixels) {
      let mass = 0, my = 0, mx = 0;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const value = pixels[y * W + x];
          mass += value; my += value * y; mx += value * x;
        }
      }
      const dy = Math.round((H - 1) / 2 - my / mass), dx = Math.round((W - 1) / 2 - mx / mass);
      const out = new Float32Array(pixels.length);
      for (let c = 0; c < CHANNELS; c++) {
        for (let y = Math.max(0, dy); y < Math.min(H, H + dy); y++) {
          for (let x = Math.max(0, dx); x < Math.min(W, W + dx); x++) {
            out[c * H * W + y * W + x] = pixels[c * H * W + (y - dy) * W + (x - dx)];
          }
        }
      }
      return out;
    }

    // The pad's ink as this run's images are: strokes of 1 on 0, or of 0 on 1 where the
    // images are dark strokes on light paper (of one's own: MNIST's are drawn ink on paper).
    const asImages = (ink) => (PAPER_LIGHT ? ink.map((value) => 1 - value) : ink);

    function showDrawing(ink) {
      paint(asImages(ink), drawing.image, CHANNELS, MODEL.ink);
      drawing.ctx.putImageData(drawing.image, 0, 0);
      const pixels = asImages(CENTRE ? centred(ink) : ink); // by its ink, not its paper
      const { mean, std } = encode(pixels);
      state.drawn = { pixels: Array.from(pixels), mean: Array.from(mean),
                      std: std && Array.from(std) };
      decodeInto(mean, recon.image);
      recon.ctx.putImageData(recon.image, 0, 0);
      const as = K ? ` given ${DATA.classes[chosen]}` : "";
      part("drawn-z").classList.add("mono");
      part("drawn-z").textContent = std
        ? `mean (${shown(mean, 4)}), std (${shown(std, 4)})${as}; the ellipse is one std.`
        : `code (${shown(mean, 4)})${as}`;
      drawOverlay();
    }

    function clearDrawing() {
      state.drawn = null;
      part("drawn-z").classList.remove("mono");
      drawing.ctx.clearRect(0, 0, W, H);
      recon.ctx.clearRect(0, 0, W, H);
      part("drawn-z").textContent = DRAW_HINT;
      drawOverlay();
    }

    // -------------------------------------------------------------------------------------
    // Choosing the plane and the class, and sliders for the other coordinates.

    function showSliders() {
      const box = part("sliders");
      box.replaceChildren();
      part("sliders-box").style.display = plane.others.length && plane.b ? "block" : "none";
      const prior = MODEL.posterior === "gaussian" ? " and the prior's ±3 std" : "";
      part("sliders-hint").textContent = plane.kind === "pca"
        ? "Along the codes' other principal axes, from their mean (0); each range spans " +
          `the codes${prior}.`
        : "The other latent dimensions; each starts at the codes' mean and spans their " +
          `range${prior}.`;
      for (const other of plane.others) {
        const input = Object.assign(document.createElement("input"), {
          type: "range", min: other.min, max: other.max,
          step: (other.max - other.min) / 200 || 0.01, value: other.value });
        input.dataset.name = other.name;
        input.setAttribute("aria-label", other.name);
        input.setAttribute("aria-valuetext", fixed2(other.value));
        const value = document.createElement("span");
        value.className = "mono";
        value.textContent = fixed2(other.value);
        input.addEventListener("input", () => { // back within half a step: the start itself
          other.value = Math.abs(input.value - other.start) < input.step / 2 ? other.start
            : +input.value;
          value.textContent = fixed2(other.value);
          input.setAttribute("aria-valuetext", value.textContent);
          updateBase();
          showAt(...pointer);
          if (shadeToggle.checked) drawPoints();
          showShadingNote();
        });
        box.append(Object.assign(document.createElement("span"), { textContent: other.name }),
                   input, value);
      }
    }

    function caption() {
      const share = (k) => (plane.kind === "pca"
        ? ` (${(100 * DATA.pca.explained[k]).toFixed(0)}% of the variance)` : "");
      const vertical = plane.b ? `${plane.names[1]}${share(plane.j)}`
        : LABELLED ? "the class (spread for clarity)" : "none (spread at random for clarity)";
      const what = MODEL.posterior === "gaussian" ? "posterior means" : "codes";
      const given = K ? ", each given its label" : "";
      part("axes-caption").textContent =
        `Horizontal: ${plane.names[0]}${share(plane.i)}; vertical: ${vertical}. ` +
        `${N.toLocaleString("en")} test images, ${what}${given}.`;
    }

    function choosePlane() {
      const kind = part("plane-kind").value;
      part("axis-choice").style.display = kind === "dims" && D > 2 ? "" : "none";
      const [i, j] = kind === "pca" ? [0, 1] : [+part("axis-u").value, +part("axis-v").value];
      const at = pointer ? toScreen(...pointer) : [SIZE / 2, SIZE / 2]; // the pointer stays put
      setPlane(kind, i, j === i ? (i + 1) % D : j);
      fitView();
      showSliders();
      caption();
      showShadingNote();
      redraw();
      showAt(...toPlane(...at));
      if (cross) mark(pointer); // the cross where the decoder now stands, in the new plane
    }

    function chooseClass() {
      chosen = +part("class-select").value;
      label = oneHot(chosen);
      showAt(...pointer);
      if (state.drawn) hub.encodeAgain(api);
      if (state.picks.length === 2) interpolate();
      if (state.picks.length === 1) startNote();
      showShadingNote();
      redraw();
    }

    function setUpControls() {
      const [u, v] = [part("axis-u"), part("axis-v")];
      for (const [select, first] of [[u, 0], [v, 1]]) {
        for (let k = 0; k < D; k++) select.add(new Option(`z${k + 1}`, k, false, k === first));
      }
      // One dimension on both axes is no plane: the other axis takes the one this axis had.
      u.addEventListener("change", () => {
        if (u.value === v.value) v.value = String(plane.i);
        choosePlane();
      });
      v.addEventListener("change", () => {
        if (u.value === v.value) u.value = String(plane.j);
        choosePlane();
      });
      part("plane-kind").value = plane.kind;
      part("plane-kind").addEventListener("change", choosePlane);
      part("plane-choice").style.display = D > 2 ? "" : "none";
      part("class-choice").style.display = K ? "" : "none";
      part("plane-controls").style.display = D > 2 || K ? "" : "none";
      DATA.classes.forEach((name, c) => part("class-select").add(new Option(name, c)));
      part("class-select").addEventListener("change", chooseClass);
      part("sliders-reset").addEventListener("click", () => {
        plane.others.forEach((other) => { other.value = other.start; });
        updateBase();
        showSliders();
        showAt(...pointer);
        showShadingNote();
        drawPoints();
      });
    }

    // -------------------------------------------------------------------------------------
    // The run's facts.

    function table(name, title, rows, head) {
      const t = part(name);
      if (!rows.length) return;
      t.createCaption().textContent = title;
      // each row named by its first cell, for a screen reader that reads a cell with its row
      if (head) t.createTHead().insertRow().append(...head.map((h) => Object.assign(
        document.createElement(h ? "th" : "td"), { textContent: h })));
      const body = t.createTBody();
      for (const [name, ...cells] of rows) {
        const row = body.insertRow();
        row.append(Object.assign(document.createElement("th"), { scope: "row",
                                                                 textContent: name }));
        for (const cell of cells) row.insertCell().textContent = cell;
      }
    }

    // "conv 1-32-64, 3136-512-2": the encoder's convolutions' channels, then its dense layers
    // from their input (+ the label's length) to the code.
    function layers() {
      const convs = MODEL.encoder.filter((op) => op.op === "conv2d");
      const dense = MODEL.encoder.filter((op) => op.op === "linear");
      const first = `${dense[0].in - K}${K ? `+${K}` : ""}`;
      const sizes = [first, ...dense.slice(0, -1).map((op) => op.out), D].join("-");
      const channels = convs.length ? [convs[0].in, ...convs.map((op) => op.out)] : [];
      return convs.length ? `conv ${channels.join("-")}, ${sizes}` : sizes;
    }

    const number = (x, digits = 2) => (x === null ? "—" : x.toLocaleString(
      "en", { minimumFractionDigits: digits, maximumFractionDigits: digits }));

    // "VAE with 2 latent dimensions, 20 epochs on MNIST; test reconstruction 33.56 + KL 4.46
    // per image.": the terms, which an AE and a VAE side by side share but for the KL (their
    // losses are not alike: the VAE's holds its KL, an IWAE's is another bound). A squared
    // error's is without its Gaussian's constant, which the measured nats below include.
    function summary() {
      const run = DATA.run, test = run.last && run.last.test;
      const terms = !test ? "" : `; test reconstruction ${number(test.recon)}` +
        (run.without ? ` (without the squared error's constant of ${run.without})` : "") +
        (test.kl === null ? "" : ` + KL ${number(test.kl)}`) + " per image";
      return `${MODEL.title} with ${D} latent dimension${D > 1 ? "s" : ""}, ` +
        `${run.epochs} epoch${run.epochs === 1 ? "" : "s"} on ${run.dataset}${terms}.`;
    }

    function showFacts() {
      const run = DATA.run, config = run.config;
      const rows = [
        ["model", `${MODEL.title}, ${layers()}, ${config.model.activation}`],
        ["parameters", run.parameters.toLocaleString("en")],
        ["dataset", run.dataset + (config.data.train_subset
          ? `, ${config.data.train_subset_first ? "the first " : ""}` +
            `${config.data.train_subset.toLocaleString("en")} training images` +
            `${config.data.train_subset_first ? "" : " drawn at random"}` : "")],
        ["likelihood", run.likelihood],
        ...(MODEL.posterior === "gaussian" ? [["KL", config.train.kl]] : []),
        ["binarized", config.data.binarize],
        ["epochs", String(run.epochs)],
        ["batch size, learning rate", `${config.train.batch_size}, ${config.train.lr}`],
        ...(config.train.lr_schedule && config.train.lr_schedule !== "constant"
          ? [["learning-rate schedule", config.train.lr_schedule]] : []),
        ...(config.train.adam_eps && config.train.adam_eps !== 1e-8
          ? [["Adam's ε", String(config.train.adam_eps)]] : []),
        ...(config.train.output_bias && config.train.output_bias !== "default"
          ? [["decoder's output bias", `starts at the training images' mean`]] : []),
        ["seed", String(config.train.seed)],
        ["training time (s)", number(run.seconds, 1)],
        // what reading a folder of one's own noted (files left out, grey made colour, ...)
        ...(config.data.notes || []).map((note, k) => [k ? "" : "reading the images noted", note]),
      ];
      table("config-table", "Settings", rows);
      if (run.last) {
        const terms = [["loss", "loss"], ["recon", "reconstruction"],
                       ...(run.last.test.kl == null ? [] : [["kl", "KL"]])]; // an AE has none
        table("metrics-table", "Last epoch, per image", terms.map(([key, name]) => [
          name, number(run.last.train[key]), number(run.last.test[key])]), ["", "train", "test"]);
      }
      if (run.evaluation) table("eval-table", "vaelab eval, test set", run.evaluation);
      part("eval-notes").replaceChildren(...run.notes.map((note, k) => Object.assign(
        document.createElement("li"), { textContent: `[${k + 1}] ${note}` })));
      part("run-title").textContent = `${run.name}: ${summary()}`;
      part("run-title").hidden = !several;
    }

    // None for unlabelled images, whose points share one colour; of the classes with codes on
    // the plane (a folder's own test/ may lack one), as the figures' legends.
    function showLegend() {
      const present = new Set(LABELS);
      const shown = DATA.classes.map((_, c) => c).filter((c) => present.has(c));
      part("legend").hidden = !LABELLED;
      part("legend").replaceChildren(...shown.map((c) => {
        const item = document.createElement("li");
        const shape = SHAPES[DATA.shapes[c] % SHAPES.length];
        const swatch = Object.assign(document.createElement("span"),
                                     { className: `swatch ${shape}` });
        swatch.style.background = DATA.colors[c];
        item.append(swatch, DATA.legend[c]);
        return item;
      }));
    }

    const api = {
      state, sample: DATA.sample, shape: MODEL.image_shape.join("x"), summary, showAt, mark,
      addPick, showDrawing, clearDrawing, drawingCanvas: drawing.canvas,
      clearButton: part("draw-clear"), pointer: () => pointer,
      hideInset: () => { inset.canvas.hidden = true; },
      toPlane, nearestCode, planeOf: (n) => [plane.u[n], plane.v[n]],
      start() {
        showFacts();
        showLegend();
        setUpControls();
        showLine(false);
        choosePlane();
      },
    };
    return api;
  }

  // =========================================================================================
  // The hub: what the runs share. The pointer, as plane coordinates; picks, as the same test
  // image or the same plane coordinates; the drawing pad's ink, per image size.

  const views = [];
  const pads = {};

  const hub = {
    hover(from, u, v, since) {
      for (const run of views) {
        run.showAt(u, v);
        run.mark(run === from ? null : run.pointer());
      }
      if (since !== undefined) from.state.latency.push(performance.now() - since);
    },

    left() { // the pointer off every plane: each marks the place its decoder shows
      for (const run of views) if (run.pointer()) run.mark(run.pointer());
      for (const run of views) run.hideInset();
    },

    pick(from, x, y) {
      const n = from.nearestCode(x, y);
      const [u, v] = n >= 0 ? from.planeOf(n) : from.toPlane(x, y);
      for (const run of views) {
        run.addPick(n >= 0 && run.sample === from.sample ? { n } : { u, v });
      }
    },

    encodeAgain(run) { // the pad's drawing, given another class
      run.showDrawing(pads[run.shape].ink);
    },
  };

  // A drawing pad of C x H x W pixels in [0, 1] (1 = full ink, in every channel), drawn on
  // with a soft round brush from the pad canvas of any run of that size.
  function makePad([C, H, W]) {
    const ink = new Float32Array(C * H * W), runs = [];
    let pen = null;

    function stamp(px, py) {
      for (let y = Math.floor(py - 2); y <= Math.ceil(py + 2); y++) {
        for (let x = Math.floor(px - 2); x <= Math.ceil(px + 2); x++) {
          if (x < 0 || y < 0 || x >= W || y >= H) continue;
          const distance = Math.hypot(x + 0.5 - px, y + 0.5 - py);
          const value = Math.min(1, Math.max(0, 2 - distance)); // MNIST's strokes: 2-3 px
          for (let c = 0; c < C; c++) {
            const k = c * H * W + y * W + x;
            ink[k] = Math.max(ink[k], value);
          }
        }
      }
    }

    // The pen's place in pixels of the image: the canvas's content box, inside its border.
    function penAt(canvas, event) {
      const box = canvas.getBoundingClientRect();
      return [(event.clientX - box.left - canvas.clientLeft) * W / canvas.clientWidth,
              (event.clientY - box.top - canvas.clientTop) * H / canvas.clientHeight];
    }

    function strokeTo([x, y]) {
      const [x0, y0] = pen;
      const steps = Math.max(1, Math.ceil(Math.hypot(x - x0, y - y0) / 0.25));
      for (let s = 1; s <= steps; s++) stamp(x0 + (x - x0) * s / steps, y0 + (y - y0) * s / steps);
      pen = [x, y];
      for (const run of runs) run.showDrawing(ink);
    }

    function attach(run) {
      const canvas = run.drawingCanvas;
      runs.push(run);
      canvas.addEventListener("pointerdown", (event) => {
        if (event.button !== 0) return;
        canvas.setPointerCapture(event.pointerId);
        pen = penAt(canvas, event);
        strokeTo(pen);
      });
      canvas.addEventListener("pointermove", (event) => {
        if (pen) strokeTo(penAt(canvas, event));
      });
      for (const end of ["pointerup", "pointercancel"]) {
        canvas.addEventListener(end, () => { pen = null; });
      }
      run.clearButton.addEventListener("click", () => {
        ink.fill(0);
        for (const other of runs) other.clearDrawing();
      });
    }

    return { ink, attach };
  }

  // =========================================================================================
  // The page: a column per run, from the template.

  const main = $("runs"), template = $("run-template");
  main.classList.toggle("several", several);
  for (const data of PAGE.runs) {
    const root = template.content.firstElementChild.cloneNode(true);
    main.append(root);
    const run = makeRun(data, root, hub);
    views.push(run);
    (pads[run.shape] ||= makePad(data.model.image_shape)).attach(run);
  }
  const names = PAGE.runs.map((data) => data.run.name).join(", ");
  $("title").textContent = `Latent explorer: ${names}`;
  document.title = `vaelab explorer: ${names}`;
  $("subtitle").textContent = several
    ? `${PAGE.runs.length} runs side by side; one pointer drives them all.` : views[0].summary();
  $("together").hidden = !several;
  views.forEach((run) => run.start());

  // Runs side by side: their planes level, whatever stands above each (a title of more lines,
  // a row of controls), so that a cross and the pointer are read at one height. Runs in one
  // row (at one height on the page) take the height of the tallest; one under the other, none.
  function levelPlanes() {
    const boxes = [...main.querySelectorAll(".plane-box")];
    boxes.forEach((box) => { box.style.marginTop = ""; });
    const rows = new Map();
    for (const box of boxes) {
      const top = box.closest(".run").offsetTop;
      rows.set(top, [...(rows.get(top) || []), box]);
    }
    for (const row of rows.values()) {
      const lowest = Math.max(...row.map((box) => box.getBoundingClientRect().top));
      for (let look = 0; look < 2; look++) { // twice: a margin folds into the one above it
        row.forEach((box) => {
          const low = lowest - box.getBoundingClientRect().top;
          box.style.marginTop = `${(parseFloat(box.style.marginTop) || 0) + low}px`;
        });
      }
    }
  }
  if (several) { // again, in the frame after, whenever what stands above a plane changes size
    const above = new ResizeObserver(() => requestAnimationFrame(levelPlanes));
    main.querySelectorAll(".run-title, .plane-controls").forEach((el) => above.observe(el));
  }
  window.explorer = Object.assign(views[0].state, { runs: views.map((run) => run.state) });
  $("failure").hidden = true;
  document.body.dataset.ready = "1";
})();
