// NLM-5M-Filter in the browser: the folder written by maaza.export.onnx_filter (tokenizer.json, maaza.json,
// model.int8.onnx / model.onnx) run by onnxruntime-web's wasm backend, decoded as maaza.filter.Filter.check
// does in Python:
//
//   spam score       p(spam) of the [CLS] head; a long text: the highest over its windows
//   toxicity         the most probable of hate / offensive / neither, score 1 - p(neither); a long text: the
//                    window with the highest score
//   pii              per window the most probable valid BIO tag sequence (constrainedTags: I-X only after X, no
//                    span edge inside a word), decoded to character spans (decodeBio, which trims each span
//                    of the whitespace its first token carries), the candidates of all windows merged
//                    (mergeOverlapping); offsets in code points, like Python str indices
//
// A text longer than max_length - 2 tokens is cut into windows of max_length - 2 tokens (plus [CLS] and
// [SEP]), `stride` tokens overlapping, the last one ending at the text's end; all windows of a text run as one
// batch, as in Python (the INT8 graph quantizes its activations per batch, so batching changes the numbers).

import * as ort from "../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs";
import { constrainedTags, decodeBio, gluedBoundaries, mergeOverlapping } from "./spans.js";
import { Tokenizer, codePoints } from "./tokenizer.js";

// One thread: a threaded wasm needs SharedArrayBuffer, i.e. a cross-origin isolated page (COOP/COEP headers)
// that a plain `python -m http.server` does not send.
ort.env.wasm.numThreads = 1;

export { constrainedTags, decodeBio, gluedBoundaries, isPythonSpace, isWordChar, mergeOverlapping } from "./spans.js";
export { ort };

const NOT_TOXIC = "neither";

async function fetchOk(url, kind) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} (the filter's ${kind})`);
  return response;
}

function softmax(values, start, count) {
  let max = -Infinity;
  for (let k = 0; k < count; k++) max = Math.max(max, values[start + k]);
  const out = new Array(count);
  let sum = 0;
  for (let k = 0; k < count; k++) {
    out[k] = Math.exp(values[start + k] - max);
    sum += out[k];
  }
  for (let k = 0; k < count; k++) out[k] /= sum;
  return out;
}

/** log-softmax in doubles, as Filter._pii_spans computes it in float64. */
function logSoftmax(values, start, count) {
  let max = -Infinity;
  for (let k = 0; k < count; k++) max = Math.max(max, values[start + k]);
  let sum = 0;
  for (let k = 0; k < count; k++) sum += Math.exp(values[start + k] - max);
  const log = Math.log(sum);
  const out = new Array(count);
  for (let k = 0; k < count; k++) out[k] = values[start + k] - max - log;
  return out;
}

function argmax(values) {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k] > values[best]) best = k;
  return best;
}

export class Filter {
  constructor({ folder, metadata, tokenizer, session, modelFile }) {
    this.folder = folder;
    this.metadata = metadata;
    this.tokenizer = tokenizer;
    this.session = session;
    this.modelFile = modelFile;
    this.spamLabels = metadata.spam_labels;
    this.toxicityLabels = metadata.toxicity_labels;
    this.piiTags = metadata.pii_tags;
    this.maxLength = metadata.max_length ?? 256;
    this.stride = metadata.stride ?? 64;
    this.clsId = tokenizer.tokenToId("[CLS]");
    this.sepId = tokenizer.tokenToId("[SEP]");
    this.padId = tokenizer.tokenToId("[PAD]");
  }

  /** Load a filter folder (a URL ending in "/" or not); `int8: false` runs model.onnx. */
  static async load(folder, { int8 = true, sessionOptions = {} } = {}) {
    const base = new URL(folder.endsWith("/") ? folder : `${folder}/`, globalThis.location?.href);
    const modelFile = int8 ? "model.int8.onnx" : "model.onnx";
    const [metadata, tokenizerSpec, model] = await Promise.all([
      fetchOk(new URL("maaza.json", base), "metadata").then((r) => r.json()),
      fetchOk(new URL("tokenizer.json", base), "tokenizer").then((r) => r.json()),
      fetchOk(new URL(modelFile, base), "model").then((r) => r.arrayBuffer()),
    ]);
    if (metadata.kind !== "filter") throw new Error(`${base}maaza.json says kind ${JSON.stringify(metadata.kind)}, not "filter"`);
    const session = await ort.InferenceSession.create(new Uint8Array(model), {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
      ...sessionOptions,
    });
    return new Filter({ folder: base.href, metadata, tokenizer: new Tokenizer(tokenizerSpec), session, modelFile });
  }

  /** maaza.filter.Filter.windows: [{ids, offsets}] with [CLS]/[SEP] (offsets [0, 0]) around each window. */
  windows(text) {
    const { ids, offsets } = this.tokenizer.encodeText(text);
    const size = this.maxLength - 2;
    let starts = [0];
    if (ids.length > size) {
      starts = [];
      for (let s = 0; s < ids.length - size; s += size - this.stride) starts.push(s);
      starts.push(ids.length - size);
    }
    return starts.map((s) => ({
      ids: [this.clsId, ...ids.slice(s, s + size), this.sepId],
      offsets: [[0, 0], ...offsets.slice(s, s + size), [0, 0]],
    }));
  }

  /** Spam score, toxicity label and score, PII spans [{start, end, label, score}] and the time taken (ms). */
  async check(text) {
    const started = performance.now();
    const windows = this.windows(text);
    const cps = codePoints(text); // decodeBio trims spans of whitespace by code point offsets
    // Python sorts a batch's windows by length (stable); only the last can be shorter, and only when alone.
    windows.sort((a, b) => a.ids.length - b.ids.length);
    const width = Math.max(...windows.map((w) => w.ids.length));
    const ids = new BigInt64Array(windows.length * width).fill(BigInt(this.padId));
    const mask = new BigInt64Array(windows.length * width);
    windows.forEach((w, row) => {
      w.ids.forEach((id, k) => {
        ids[row * width + k] = BigInt(id);
        mask[row * width + k] = 1n;
      });
    });
    const shape = [windows.length, width];
    const tokenized = performance.now();
    const out = await this.session.run({
      input_ids: new ort.Tensor("int64", ids, shape),
      attention_mask: new ort.Tensor("int64", mask, shape),
    });
    const inferred = performance.now();
    const spamIndex = this.spamLabels.indexOf("spam");
    const neither = this.toxicityLabels.indexOf(NOT_TOXIC);
    const tags = this.piiTags.length;
    const spamLogits = out.spam_logits.data;
    const toxicityLogits = out.toxicity_logits.data;
    const piiLogits = out.pii_logits.data;
    let spamScore = -Infinity;
    let worst = null;
    const candidates = [];
    windows.forEach((w, row) => {
      spamScore = Math.max(spamScore, softmax(spamLogits, row * this.spamLabels.length, this.spamLabels.length)[spamIndex]);
      const toxic = softmax(toxicityLogits, row * this.toxicityLabels.length, this.toxicityLabels.length);
      if (worst === null || 1 - toxic[neither] > 1 - worst[neither]) worst = toxic; // the first on a tie
      const kept = [];
      for (let k = 0; k < w.ids.length; k++) if (w.offsets[k][1] > w.offsets[k][0]) kept.push(k);
      const logProbs = kept.map((k) => logSoftmax(piiLogits, (row * width + k) * tags, tags));
      const offsets = kept.map((k) => w.offsets[k]);
      const path = constrainedTags(logProbs, gluedBoundaries(offsets, cps), this.piiTags);
      const chosen = path.map((t) => this.piiTags[t]);
      const scores = path.map((t, i) => Math.exp(logProbs[i][t]));
      candidates.push(...decodeBio(offsets, chosen, scores, cps));
    });
    const toxicityProbs = Object.fromEntries(this.toxicityLabels.map((label, k) => [label, worst[k]]));
    const done = performance.now();
    return {
      spam_score: spamScore,
      toxicity_label: this.toxicityLabels[argmax(worst)],
      toxicity_score: 1 - worst[neither],
      toxicity_probs: toxicityProbs,
      pii: mergeOverlapping(candidates),
      windows: windows.length,
      tokens: windows.reduce((n, w) => n + w.ids.length, 0),
      ms: done - started,
      timings: { tokenize_ms: tokenized - started, inference_ms: inferred - tokenized, decode_ms: done - inferred },
    };
  }
}
