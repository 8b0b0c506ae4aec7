"use strict";
// The nets of a vaelab model, run in the page: each is a list of operations as
// vaelab.pictures.explore_ops writes them (linear, conv2d, conv_transpose2d, relu, tanh,
// sigmoid, clamp, reshape, side), each with the shape of its output. Values are Float32Arrays,
// images channel-first (C, H, W) and row-major, as PyTorch keeps them.

const vaelabNets = (() => {
  // base64 text -> bytes; typed arrays over them read little-endian, as vaelab writes them.
  function bytes(b64) {
    const text = atob(b64);
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  // Every float16 bit pattern's value, built on first use: 1 sign, 5 exponent, 10 fraction bits.
  let HALF = null;
  function halfTable() {
    HALF = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
      HALF[h] = sign * (exponent === 0 ? fraction * 2 ** -24 // subnormal
        : exponent === 31 ? (fraction ? NaN : Infinity)
          : (1 + fraction / 1024) * 2 ** (exponent - 15));
    }
    return HALF;
  }

  // A weight { dtype: "f2" | "f4", data: base64 } as a Float32Array.
  function floats({ dtype, data }) {
    const raw = bytes(data);
    if (dtype === "f4") return new Float32Array(raw.buffer);
    const halves = new Uint16Array(raw.buffer), table = HALF || halfTable();
    const out = new Float32Array(halves.length);
    for (let i = 0; i < halves.length; i++) out[i] = table[halves[i]];
    return out;
  }

  const size = (shape) => shape.reduce((n, s) => n * s, 1);

  // y = W x + b, W (nOut, nIn) as torch.nn.Linear keeps it, here transposed to (nIn, nOut):
  // each input adds its row, scaled, to the outputs, and the zeros a ReLU leaves add nothing.
  function linear(op) {
    const w = floats(op.weight), b = floats(op.bias), nIn = op.in, nOut = op.out;
    const wt = new Float32Array(nIn * nOut); // (nIn, nOut)
    for (let o = 0; o < nOut; o++) {
      for (let i = 0; i < nIn; i++) wt[i * nOut + o] = w[o * nIn + i];
    }
    const out = new Float32Array(nOut);
    return (x) => {
      out.set(b);
      for (let i = 0; i < nIn; i++) {
        const v = x[i];
        if (v === 0) continue;
        for (let o = 0, k = i * nOut; o < nOut; o++, k++) out[o] += v * wt[k];
      }
      return out;
    };
  }

  // Cross-correlation, as torch.nn.Conv2d: W (cOut, cIn, kh, kw), zero padding.
  function conv2d(op, inShape) {
    const w = floats(op.weight), b = floats(op.bias);
    const [, hIn, wIn] = inShape, [cOut, hOut, wOut] = op.shape, cIn = op.in;
    const [kh, kw] = op.kernel, [sy, sx] = op.stride, [py, px] = op.padding;
    const out = new Float32Array(size(op.shape));
    return (x) => {
      for (let co = 0; co < cOut; co++) {
        for (let oy = 0; oy < hOut; oy++) {
          for (let ox = 0; ox < wOut; ox++) {
            let s = b[co];
            for (let ci = 0; ci < cIn; ci++) {
              const wBase = (co * cIn + ci) * kh * kw, xBase = ci * hIn * wIn;
              for (let ky = 0; ky < kh; ky++) {
                const iy = oy * sy - py + ky;
                if (iy < 0 || iy >= hIn) continue;
                for (let kx = 0; kx < kw; kx++) {
                  const ix = ox * sx - px + kx;
                  if (ix >= 0 && ix < wIn) s += w[wBase + ky * kw + kx] * x[xBase + iy * wIn + ix];
                }
              }
            }
            out[(co * hOut + oy) * wOut + ox] = s;
          }
        }
      }
      return out;
    };
  }

  // The transpose, as torch.nn.ConvTranspose2d: W (cIn, cOut, kh, kw). Each input value
  // (ci, iy, ix) adds its kernels W[ci] (cOut * kh * kw values), scaled, to the output around
  // (iy * stride - padding, ix * stride - padding). In two steps: first, for every input place
  // p, the sum over ci of x[ci, p] * W[ci] into cols (p, cOut * kh * kw), contiguous loops that
  // skip the zeros a ReLU leaves; then each of those values to its output pixel, if inside.
  // The output's size, (in - 1) * stride - 2 * padding + kernel + output_padding, is op.shape.
  function convTranspose2d(op, inShape) {
    const w = floats(op.weight), b = floats(op.bias);
    const [cIn, hIn, wIn] = inShape, [cOut, hOut, wOut] = op.shape;
    const [kh, kw] = op.kernel, [sy, sx] = op.stride, [py, px] = op.padding;
    const places = hIn * wIn, taps = kh * kw, row = cOut * taps, plane = hOut * wOut;
    const cols = new Float32Array(places * row), out = new Float32Array(size(op.shape));
    return (x) => {
      cols.fill(0);
      for (let ci = 0; ci < cIn; ci++) {
        for (let p = 0; p < places; p++) {
          const v = x[ci * places + p];
          if (v === 0) continue;
          for (let r = 0, c = p * row, k = ci * row; r < row; r++, c++, k++) cols[c] += v * w[k];
        }
      }
      for (let co = 0; co < cOut; co++) out.fill(b[co], co * plane, (co + 1) * plane);
      for (let iy = 0; iy < hIn; iy++) {
        for (let ix = 0; ix < wIn; ix++) {
          const c = (iy * wIn + ix) * row;
          for (let co = 0; co < cOut; co++) {
            for (let ky = 0; ky < kh; ky++) {
              const oy = iy * sy - py + ky;
              if (oy < 0 || oy >= hOut) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ox = ix * sx - px + kx;
                if (ox >= 0 && ox < wOut) {
                  out[co * plane + oy * wOut + ox] += cols[c + co * taps + ky * kw + kx];
                }
              }
            }
          }
        }
      }
      return out;
    };
  }

  function elementwise(f) {
    return (op) => {
      const out = new Float32Array(size(op.shape));
      return (x) => {
        for (let i = 0; i < out.length; i++) out[i] = f(x[i]);
        return out;
      };
    };
  }

  // The label beside the features: x (F) and side (K) -> (F + K).
  function side(op) {
    const out = new Float32Array(size(op.shape));
    return (x, label) => {
      out.set(x.subarray(0, out.length - op.classes));
      out.set(label, out.length - op.classes);
      return out;
    };
  }

  const OPS = {
    linear,
    conv2d,
    conv_transpose2d: convTranspose2d,
    relu: elementwise((v) => (v > 0 ? v : 0)),
    tanh: elementwise(Math.tanh),
    sigmoid: elementwise((v) => 1 / (1 + Math.exp(-v))),
    clamp: elementwise((v) => Math.min(1, Math.max(0, v))),
    reshape: () => (x) => x, // the same values, row-major, in another shape
    side,
  };

  // A net: its operations compiled once into functions with buffers of their own, so that a
  // forward pass allocates nothing. The output is a buffer reused by the next call.
  class Net {
    constructor(ops, inShape) {
      this.steps = ops.map((op) => {
        if (!(op.op in OPS)) throw new Error(`the page cannot run the operation ${op.op}`);
        const step = OPS[op.op](op, inShape);
        inShape = op.shape;
        return step;
      });
    }

    forward(x, label = null) {
      let h = x;
      for (const step of this.steps) h = step(h, label);
      return h;
    }
  }

  return { bytes, floats, Net };
})();
