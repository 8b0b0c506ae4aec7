"use strict";
// vaelab's latent explorer. The page's data (weights, codes, the run's facts) is the JSON in
// <script id="explorer-data">, written by vaelab.explore. Encoder and decoder run here, as
// plain loops over Float32Arrays: a hover costs no round trip to a server, and the page works
// from file:// with nothing but itself.

(() => {
  const DATA = JSON.parse(document.getElementById("explorer-data").textContent);
  const MODEL = DATA.model;
  const D = MODEL.latent_dims;
  const [CHANNELS, H, W] = MODEL.image_shape;
  const LOGVAR_MIN = -30, LOGVAR_MAX = 20; // the range vaelab.distributions clamps to
  const FRAMES = 10, ANIMATION_FRAMES = 40, FRAME_MS = 50; // as vaelab.figures draws them
  const PICK_RADIUS = 6; // CSS px: a click this close to a test code picks the code itself
  const STRIP_COLUMNS = 5; // the strip's frames in rows of five
  const PRIOR_SPAN = 3; // a VAE's sliders reach at least the prior's mean +- 3 std

  const $ = (id) => document.getElementById(id);
  let SIZE = $("plane-box").clientWidth; // CSS px of the square plane: 592, less when narrow

  // ---------------------------------------------------------------------------------------
  // Data: base64 text -> typed arrays (little-endian, as written).

  function bytes(b64) {
    const text = atob(b64);
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  const floats = (b64) => new Float32Array(bytes(b64).buffer);

  const CODES = floats(DATA.codes); // (N, D), row-major
  const LABELS = bytes(DATA.labels); // (N,)
  const N = LABELS.length;
  const code = (i) => CODES.subarray(i * D, (i + 1) * D);

  // ---------------------------------------------------------------------------------------
  // The model: Linear layers with the activation between each two, none after the last.

  class MLP {
    constructor(spec, activation) {
      this.layers = spec.map((l) => ({ nIn: l.in, nOut: l.out, w: floats(l.weight),
                                       b: floats(l.bias), out: new Float32Array(l.out) }));
      this.tanh = activation === "tanh";
    }

    // x (nIn of the first layer) -> the last layer's outputs, in a buffer reused by each call.
    forward(x) {
      let input = x;
      const last = this.layers.length - 1;
      this.layers.forEach(({ nIn, nOut, w, b, out }, k) => {
        for (let o = 0; o < nOut; o++) {
          let s = b[o];
          const row = o * nIn; // w is (nOut, nIn), as torch.nn.Linear keeps it
          for (let i = 0; i < nIn; i++) s += w[row + i] * input[i];
          out[o] = k === last ? s : this.tanh ? Math.tanh(s) : s > 0 ? s : 0;
        }
        input = out;
      });
      return input;
    }
  }

  const encoder = new MLP(MODEL.encoder, MODEL.activation);
  const decoder = new MLP(MODEL.decoder, MODEL.activation); // its input is the code z (D)

  // Decode z into an ImageData of the first channel, ink on paper: paper = 255 * (1 - p)
  // with p = sigmoid(logit), which is 255 / (1 + exp(logit)).
  function decodeInto(z, image) {
    const logits = decoder.forward(z);
    const px = image.data;
    for (let k = 0, j = 0; k < H * W; k++, j += 4) {
      const paper = Math.round(255 / (1 + Math.exp(logits[k])));
      px[j] = px[j + 1] = px[j + 2] = paper;
      px[j + 3] = 255;
    }
  }

  // Images with pixels in [0, 1] (CHANNELS * H * W) -> the posterior's mean and standard
  // deviation (a VAE), or the code itself and null (an AE).
  function encode(pixels) {
    const out = encoder.forward(pixels);
    const mean = Float32Array.from(out.subarray(0, D));
    if (MODEL.posterior !== "gaussian") return { mean, std: null };
    const std = out.slice(D, 2 * D).map(
      (logvar) => Math.exp(0.5 * Math.min(LOGVAR_MAX, Math.max(LOGVAR_MIN, logvar))));
    return { mean, std };
  }

  function canvasImage(id, width, height) {
    const canvas = $(id);
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d");
    return { canvas, ctx, image: ctx.createImageData(width, height) };
  }

  // ---------------------------------------------------------------------------------------
  // The plane: z(u, v) = origin + u * a + v * b + the sum, over the other directions of the
  // basis, of each slider's value times its direction. With one latent dimension there is no
  // b, and the points are spread by class along v instead.

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
    const name = (k) => pca ? `PC ${k + 1}` : `z${k + 1}`;
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

  // A code's place on the plane (its orthogonal projection).
  function planePoint(z) {
    const v = plane.b ? projection(z, plane.b) : (DATA.classes.length - 1) / 2;
    return [projection(z, plane.a), v];
  }

  // ---------------------------------------------------------------------------------------
  // The view: the plane point at the canvas centre and CSS px per unit.

  const view = { cx: 0, cy: 0, scale: 1 };
  const toScreen = (u, v) => [SIZE / 2 + (u - view.cx) * view.scale,
                              SIZE / 2 - (v - view.cy) * view.scale];
  const toPlane = (x, y) => [view.cx + (x - SIZE / 2) / view.scale,
                             view.cy - (y - SIZE / 2) / view.scale];

  function fitView() {
    let [u0, u1, v0, v1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let n = 0; n < N; n++) {
      u0 = Math.min(u0, plane.u[n]); u1 = Math.max(u1, plane.u[n]);
      v0 = Math.min(v0, plane.v[n]); v1 = Math.max(v1, plane.v[n]);
    }
    const width = Math.max(u1 - u0, 1e-3), height = Math.max(v1 - v0, 1e-3);
    Object.assign(view, { cx: (u0 + u1) / 2, cy: (v0 + v1) / 2,
                          scale: SIZE / (1.1 * Math.max(width, height)) });
  }

  const pointsCtx = $("points").getContext("2d");
  const overlayCtx = $("overlay").getContext("2d");

  function sizeLayers() {
    const ratio = window.devicePixelRatio || 1;
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

  function drawGrid(ctx) {
    const [u0, v1] = toPlane(0, 0), [u1, v0] = toPlane(SIZE, SIZE);
    const step = niceStep(Math.max(u1 - u0, v1 - v0));
    const label = (x) => +x.toFixed(6) + "";
    ctx.font = "11px system-ui, sans-serif";
    ctx.lineWidth = 1;
    for (let u = Math.ceil(u0 / step) * step; u <= u1; u += step) {
      const [x] = toScreen(u, 0);
      ctx.strokeStyle = Math.abs(u) < step / 2 ? "#c9cedb" : "#eef0f6";
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, SIZE); ctx.stroke();
      ctx.fillStyle = "#8a92a5"; ctx.fillText(label(u), x + 3, SIZE - 5);
    }
    for (let v = Math.ceil(v0 / step) * step; v <= v1; v += step) {
      const [, y] = toScreen(0, v);
      ctx.strokeStyle = Math.abs(v) < step / 2 ? "#c9cedb" : "#eef0f6";
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(SIZE, y); ctx.stroke();
      ctx.fillStyle = "#8a92a5"; ctx.fillText(label(v), 4, y - 3);
    }
  }

  function drawPoints() {
    const ctx = pointsCtx;
    ctx.clearRect(0, 0, SIZE, SIZE);
    drawGrid(ctx);
    ctx.globalAlpha = 0.7;
    for (let n = 0; n < N; n++) { // the codes come in random order: no class hides another
      const [x, y] = toScreen(plane.u[n], plane.v[n]);
      ctx.fillStyle = DATA.colors[LABELS[n]];
      ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
    }
    ctx.globalAlpha = 1;
  }

  function marker(ctx, z, color, text) {
    const [x, y] = toScreen(...planePoint(z));
    ctx.beginPath();
    ctx.arc(x, y, 6, 0, 2 * Math.PI);
    ctx.fillStyle = color; ctx.fill();
    ctx.lineWidth = 2; ctx.strokeStyle = "#fff"; ctx.stroke();
    if (text) {
      ctx.font = "bold 13px system-ui, sans-serif";
      ctx.lineWidth = 3; ctx.strokeText(text, x + 9, y - 8);
      ctx.fillStyle = "#1d2330"; ctx.fillText(text, x + 9, y - 8);
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
      ctx.lineWidth = 1.5; ctx.strokeStyle = "#1d2330"; ctx.stroke();
    }
    marker(ctx, mean, "#1d2330", "drawn");
  }

  function drawOverlay() {
    const ctx = overlayCtx;
    ctx.clearRect(0, 0, SIZE, SIZE);
    if (state.picks.length === 2) {
      const [[x0, y0], [x1, y1]] = state.picks.map((p) => toScreen(...planePoint(p.z)));
      ctx.setLineDash([5, 4]); ctx.lineWidth = 2; ctx.strokeStyle = "#3355cc";
      ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
      ctx.setLineDash([]);
    }
    state.picks.forEach((p, k) => marker(ctx, p.z, "#3355cc", "AB"[k]));
    if (state.drawn) drawPosterior(ctx, state.drawn);
  }

  function redraw() {
    drawPoints();
    drawOverlay();
  }

  // ---------------------------------------------------------------------------------------
  // What the page holds, readable from outside for tests and benchmarks.

  const state = {
    latency: [], // ms from each pointer event's time stamp to its decoded pixels being put
    hover: null, // { u, v, z } last decoded at the pointer
    picks: [], // up to two { z, what }
    drawn: null, // { pixels, mean, std }
    toScreen: (z) => toScreen(...planePoint(z)),
  };
  window.explorer = state;

  // ---------------------------------------------------------------------------------------
  // Hover: decode at the pointer at once, in the event handler.

  const decoded = canvasImage("decoded", W, H);
  const hoverZ = new Float32Array(D);
  let pointer = [SIZE / 2, SIZE / 2];

  function showAt(x, y, since) {
    const [u, v] = toPlane(x, y);
    codeAt(u, v, hoverZ);
    decodeInto(hoverZ, decoded.image);
    decoded.ctx.putImageData(decoded.image, 0, 0);
    if (since !== undefined) state.latency.push(performance.now() - since);
    pointer = [x, y];
    state.hover = { u, v, z: Array.from(hoverZ) };
    const shown = Array.from(hoverZ.slice(0, 8), (x) => x.toFixed(2)).join(", ");
    $("pointer-z").textContent = `z = (${shown}${D > 8 ? ", …" : ""})`;
  }

  // ---------------------------------------------------------------------------------------
  // Zoom, pan and picks on the plane.

  const overlay = $("overlay");
  let drag = null;

  // Chromium delivers pointermove once per animation frame, up to 16 ms after the input;
  // pointerrawupdate comes as soon as the input does. Other browsers have only pointermove.
  const hoverEvent = "onpointerrawupdate" in window ? "pointerrawupdate" : "pointermove";
  overlay.addEventListener(hoverEvent, (event) => {
    showAt(event.offsetX, event.offsetY, event.timeStamp);
  });

  overlay.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = event.offsetX - drag.x, dy = event.offsetY - drag.y;
    drag.moved ||= Math.hypot(dx, dy) > 3;
    if (drag.moved) {
      view.cx = drag.cx - dx / view.scale;
      view.cy = drag.cy + dy / view.scale;
      redraw();
    }
  });

  // Only the main button picks and pans: the others open menus or scroll.
  overlay.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    drag = { x: event.offsetX, y: event.offsetY, cx: view.cx, cy: view.cy, moved: false };
    overlay.setPointerCapture(event.pointerId);
  });

  overlay.addEventListener("pointerup", (event) => {
    if (event.button !== 0 || !drag) return;
    if (!drag.moved) pick(event.offsetX, event.offsetY);
    drag = null;
  });

  overlay.addEventListener("pointercancel", () => { drag = null; });

  // A narrow window shrinks the plane: the same region stays in view.
  new ResizeObserver(() => {
    const size = $("plane-box").clientWidth;
    if (!size || size === SIZE) return;
    view.scale *= size / SIZE;
    pointer = pointer.map((p) => p * size / SIZE);
    SIZE = size;
    sizeLayers();
    redraw();
  }).observe($("plane-box"));

  overlay.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [x, y] = [event.offsetX, event.offsetY];
    const [u, v] = toPlane(x, y);
    view.scale *= Math.exp(-event.deltaY * 0.0015);
    view.cx = u - (x - SIZE / 2) / view.scale;
    view.cy = v + (y - SIZE / 2) / view.scale;
    redraw();
  }, { passive: false });

  function nearestCode(x, y) {
    let best = -1, bestDistance = PICK_RADIUS;
    for (let n = 0; n < N; n++) {
      const [px, py] = toScreen(plane.u[n], plane.v[n]);
      const distance = Math.hypot(px - x, py - y);
      if (distance < bestDistance) [best, bestDistance] = [n, distance];
    }
    return best;
  }

  function pick(x, y) {
    const n = nearestCode(x, y);
    const z = n >= 0 ? Float32Array.from(code(n)) : codeAt(...toPlane(x, y));
    const what = n >= 0 ? `a test ${DATA.classes[LABELS[n]]}, ` : "";
    if (state.picks.length === 2) state.picks = [];
    state.picks.push({ z, what });
    drawOverlay();
    if (state.picks.length === 2) interpolate(state.picks[0].z, state.picks[1].z);
    else $("interp-empty").textContent = `A (${pickedAs(state.picks[0])}); now click B.`;
  }

  // "a test 7, z = (0.12, -1.30)", the code's first coordinates.
  function pickedAs({ z, what }) {
    const shown = Array.from(z.slice(0, 4), (x) => x.toFixed(2)).join(", ");
    return `${what}z = (${shown}${D > 4 ? ", …" : ""})`;
  }

  // ---------------------------------------------------------------------------------------
  // Interpolation: a strip of FRAMES decodings, and the line walked there and back.

  const strip = canvasImage("strip", STRIP_COLUMNS * W, Math.ceil(FRAMES / STRIP_COLUMNS) * H);
  const animation = canvasImage("animation", W, H);
  let timer = null;

  function lineFrame(from, to, t) {
    const z = from.map((zk, k) => (1 - t) * zk + t * to[k]);
    const image = new ImageData(W, H);
    decodeInto(z, image);
    return image;
  }

  function interpolate(from, to) {
    for (let f = 0; f < FRAMES; f++) {
      const [column, row] = [f % STRIP_COLUMNS, Math.floor(f / STRIP_COLUMNS)];
      strip.ctx.putImageData(lineFrame(from, to, f / (FRAMES - 1)), column * W, row * H);
    }
    const there = Array.from({ length: ANIMATION_FRAMES },
                             (_, f) => lineFrame(from, to, f / (ANIMATION_FRAMES - 1)));
    const frames = [...there, ...there.slice(1, -1).reverse()];
    let f = 0;
    clearInterval(timer);
    timer = setInterval(() => animation.ctx.putImageData(frames[f++ % frames.length], 0, 0),
                        FRAME_MS);
    const [a, b] = state.picks.map(pickedAs);
    $("interp-empty").textContent = `From A (${a}) to B (${b}).`;
    strip.canvas.style.display = animation.canvas.style.display = "block";
  }

  // ---------------------------------------------------------------------------------------
  // Draw: a soft round brush on an H x W canvas; every stroke is encoded at once.

  const drawing = canvasImage("draw", W, H);
  const recon = canvasImage("recon", W, H);
  const ink = new Float32Array(CHANNELS * H * W); // pixels in [0, 1], 1 = full ink
  const DRAW_HINT = $("drawn-z").textContent;
  let pen = null;

  function stamp(px, py) {
    for (let y = Math.floor(py - 2); y <= Math.ceil(py + 2); y++) {
      for (let x = Math.floor(px - 2); x <= Math.ceil(px + 2); x++) {
        if (x < 0 || y < 0 || x >= W || y >= H) continue;
        const distance = Math.hypot(x + 0.5 - px, y + 0.5 - py);
        const value = Math.min(1, Math.max(0, 2 - distance)); // MNIST's strokes: 2-3 px
        for (let c = 0; c < CHANNELS; c++) {
          const k = c * H * W + y * W + x;
          ink[k] = Math.max(ink[k], value);
        }
      }
    }
  }

  // The pen's place in pixels of the image: the canvas's content box, inside its border.
  function penAt(event) {
    const canvas = drawing.canvas, box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left - canvas.clientLeft) * W / canvas.clientWidth,
            (event.clientY - box.top - canvas.clientTop) * H / canvas.clientHeight];
  }

  function strokeTo([x, y]) {
    const [x0, y0] = pen;
    const steps = Math.max(1, Math.ceil(Math.hypot(x - x0, y - y0) / 0.25));
    for (let s = 1; s <= steps; s++) stamp(x0 + (x - x0) * s / steps, y0 + (y - y0) * s / steps);
    pen = [x, y];
    showDrawing();
  }

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

  function showDrawing() {
    const px = drawing.image.data;
    for (let k = 0; k < H * W; k++) {
      px[4 * k] = px[4 * k + 1] = px[4 * k + 2] = Math.round(255 * (1 - ink[k]));
      px[4 * k + 3] = 255;
    }
    drawing.ctx.putImageData(drawing.image, 0, 0);
    const pixels = centred(ink);
    const { mean, std } = encode(pixels);
    state.drawn = { pixels: Array.from(pixels), mean: Array.from(mean),
                    std: std && Array.from(std) };
    decodeInto(mean, recon.image);
    recon.ctx.putImageData(recon.image, 0, 0);
    const shown = (xs) => Array.from(xs.slice(0, 4), (x) => x.toFixed(2)).join(", ");
    $("drawn-z").classList.add("mono");
    $("drawn-z").textContent = std ? `mean (${shown(mean)}${D > 4 ? ", …" : ""}), ` +
      `std (${shown(std)}${D > 4 ? ", …" : ""}); the ellipse is one std.`
      : `code (${shown(mean)}${D > 4 ? ", …" : ""})`;
    drawOverlay();
  }

  drawing.canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    drawing.canvas.setPointerCapture(event.pointerId);
    pen = penAt(event);
    strokeTo(pen);
  });
  drawing.canvas.addEventListener("pointermove", (event) => { if (pen) strokeTo(penAt(event)); });
  for (const end of ["pointerup", "pointercancel"]) {
    drawing.canvas.addEventListener(end, () => { pen = null; });
  }

  $("draw-clear").addEventListener("click", () => {
    ink.fill(0);
    state.drawn = null;
    $("drawn-z").classList.remove("mono");
    drawing.ctx.clearRect(0, 0, W, H);
    recon.ctx.clearRect(0, 0, W, H);
    $("drawn-z").textContent = DRAW_HINT;
    drawOverlay();
  });

  // ---------------------------------------------------------------------------------------
  // Choosing the plane, and sliders for the other coordinates.

  function showSliders() {
    const box = $("sliders");
    box.replaceChildren();
    $("sliders-box").style.display = plane.others.length && plane.b ? "block" : "none";
    const prior = MODEL.posterior === "gaussian" ? " and the prior's ±3 std" : "";
    $("sliders-hint").textContent = plane.kind === "pca"
      ? "Along the codes' other principal axes, from their mean (0); each range spans " +
        `the codes${prior}.`
      : "The other latent dimensions; each starts at the codes' mean and spans their " +
        `range${prior}.`;
    for (const other of plane.others) {
      const input = Object.assign(document.createElement("input"), {
        type: "range", min: other.min, max: other.max, step: (other.max - other.min) / 200 || 0.01,
        value: other.value });
      input.dataset.name = other.name;
      const shown = document.createElement("span");
      shown.className = "mono";
      shown.textContent = other.value.toFixed(2);
      input.addEventListener("input", () => {
        other.value = +input.value;
        shown.textContent = other.value.toFixed(2);
        updateBase();
        showAt(...pointer);
      });
      box.append(Object.assign(document.createElement("span"), { textContent: other.name }),
                 input, shown);
    }
  }

  function caption() {
    const share = (k) => plane.kind === "pca"
      ? ` (${(100 * DATA.pca.explained[k]).toFixed(0)}% of the variance)` : "";
    const vertical = plane.b ? `${plane.names[1]}${share(plane.j)}`
      : "the class (spread for clarity)";
    const what = MODEL.posterior === "gaussian" ? "posterior means" : "codes";
    $("axes-caption").textContent =
      `Horizontal: ${plane.names[0]}${share(plane.i)}; vertical: ${vertical}. ` +
      `${N.toLocaleString("en")} test images, ${what}.`;
  }

  function choosePlane() {
    const kind = $("plane-kind").value;
    $("axis-choice").style.display = kind === "dims" ? "" : "none";
    const [i, j] = kind === "pca" ? [0, 1] : [+$("axis-u").value, +$("axis-v").value];
    setPlane(kind, i, j === i ? (i + 1) % D : j);
    fitView();
    showSliders();
    caption();
    redraw();
    showAt(...pointer);
  }

  function setUpControls() {
    const [u, v] = [$("axis-u"), $("axis-v")];
    for (const [select, chosen] of [[u, 0], [v, 1]]) {
      for (let k = 0; k < D; k++) select.add(new Option(`z${k + 1}`, k, false, k === chosen));
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
    $("plane-kind").value = plane.kind;
    $("plane-kind").addEventListener("change", choosePlane);
    $("plane-controls").style.display = D > 2 ? "" : "none";
    $("sliders-reset").addEventListener("click", () => {
      plane.others.forEach((other) => { other.value = other.start; });
      updateBase();
      showSliders();
      showAt(...pointer);
    });
  }

  // ---------------------------------------------------------------------------------------
  // The run's facts.

  function table(id, title, rows, head) {
    const t = $(id);
    if (!rows.length) return;
    t.createCaption().textContent = title;
    if (head) t.createTHead().insertRow().append(...head.map((h) => Object.assign(
      document.createElement("th"), { textContent: h })));
    const body = t.createTBody();
    for (const cells of rows) {
      const row = body.insertRow();
      for (const cell of cells) row.insertCell().textContent = cell;
    }
  }

  function showFacts() {
    const run = DATA.run, config = run.config, kind = MODEL.kind.toUpperCase();
    const sizes = [MODEL.encoder[0].in, ...config.model.hidden_dims, D].join("-");
    const number = (x, digits = 2) => x === null ? "—" : x.toLocaleString(
      "en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
    $("title").textContent = `Latent explorer: ${run.name}`;
    document.title = `vaelab explorer: ${run.name}`;
    const test = run.last ? `; test loss ${number(run.last.test.loss)} per image` : "";
    $("subtitle").textContent = `${kind} with ${D} latent dimension${D > 1 ? "s" : ""}, ` +
      `${run.epochs} epoch${run.epochs === 1 ? "" : "s"} on ${run.dataset}${test}.`;
    const rows = [
      ["model", `${kind}, ${sizes}, ${config.model.activation}`],
      ["parameters", run.parameters.toLocaleString("en")],
      ["dataset", run.dataset + (config.data.train_subset
        ? `, the first ${config.data.train_subset.toLocaleString("en")} training images` : "")],
      ["reconstruction loss", config.train.loss],
      ...(MODEL.kind === "vae" ? [["KL", config.train.kl]] : []),
      ["binarized", config.data.binarize],
      ["epochs", String(run.epochs)],
      ["batch size, learning rate", `${config.train.batch_size}, ${config.train.lr}`],
      ["seed", String(config.train.seed)],
      ["training time (s)", number(run.seconds, 1)],
    ];
    table("config-table", "Settings", rows);
    if (run.last) {
      const terms = [["loss", "loss"], ["recon", "reconstruction"], ["kl", "KL"]];
      table("metrics-table", "Last epoch, per image", terms.map(([key, name]) => [
        name, number(run.last.train[key]), number(run.last.test[key])]), ["", "train", "test"]);
    }
    if (run.evaluation) table("eval-table", "vaelab eval, test set", run.evaluation);
  }

  function showLegend() {
    $("legend").replaceChildren(...DATA.classes.map((name, c) => {
      const item = document.createElement("li");
      const swatch = Object.assign(document.createElement("span"), { className: "swatch" });
      swatch.style.background = DATA.colors[c];
      item.append(swatch, name);
      return item;
    }));
  }

  showFacts();
  showLegend();
  setUpControls();
  strip.canvas.style.display = animation.canvas.style.display = "none";
  choosePlane();
  $("failure").hidden = true;
  document.body.dataset.ready = "1";
})();
