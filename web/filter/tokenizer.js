// The filter's tokenizer in the browser: reads a Hugging Face `tokenizers` tokenizer.json and encodes text
// exactly as the Python library (tokenizers 0.23) does for the kind of tokenizer
// `maaza.train.filter_tokenizer` writes:
//
//   added tokens ([CLS], [SEP], ... matched in the raw text, leftmost-longest)
//   -> pre-tokenizers (in a Sequence: Split(Regex("\s+"), merged_with_next), i.e. a whitespace run kept as
//      the prefix of the piece after it; Punctuation; Digits; also the older WhitespaceSplit)
//   -> BPE (merges by rank, byte fallback to <0xNN> tokens)
//   -> TemplateProcessing ([CLS] $A [SEP], special tokens with offsets [0, 0]).
//
// Offsets are in Unicode code points (what Python's str indexes), not UTF-16 units: use `codePoints(text)`
// or `sliceCodePoints` to map them back onto a JS string. Anything this file does not reproduce exactly
// (a normalizer, another model or pre-tokenizer, a Split with another pattern, behavior or `invert`,
// lstrip/rstrip added tokens, truncation, padding) is refused when the tokenizer is loaded, never
// approximated. No dependencies.

// Character classes as tokenizers' Rust code sees them, as inclusive [start, end] code point ranges.
// They come from probing tokenizers 0.23.3 itself over every code point (tests/web checks them again), not
// from the JS engine's \p{...} or \s: Punctuation uses the `unicode_categories` crate (an older Unicode: no
// U+2E43.., yet U+166D and U+111C9 still count) plus ASCII punctuation ($+<=>^`|~ included), and Digits
// uses Rust's char::is_numeric (Unicode 16 N* categories), both unlike any given browser's tables.
// Whitespace: the `\s` of the Split regex (tokenizers compiles it with Oniguruma) and WhitespaceSplit's
// char::is_whitespace are the same set, the White_Space property: not U+001C..U+001F, not U+200B, and not
// U+FEFF (which JS's \s includes).
const WHITESPACE = [
  0x9, 0xd, 0x20, 0x20, 0x85, 0x85, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f,
  0x205f, 0x205f, 0x3000, 0x3000,
];
const PUNCTUATION = [
  0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e, 0xa1, 0xa1, 0xa7, 0xa7, 0xab, 0xab, 0xb6, 0xb7, 0xbb, 0xbb,
  0xbf, 0xbf, 0x37e, 0x37e, 0x387, 0x387, 0x55a, 0x55f, 0x589, 0x58a, 0x5be, 0x5be, 0x5c0, 0x5c0, 0x5c3, 0x5c3,
  0x5c6, 0x5c6, 0x5f3, 0x5f4, 0x609, 0x60a, 0x60c, 0x60d, 0x61b, 0x61b, 0x61e, 0x61f, 0x66a, 0x66d, 0x6d4,
  0x6d4, 0x700, 0x70d, 0x7f7, 0x7f9, 0x830, 0x83e, 0x85e, 0x85e, 0x964, 0x965, 0x970, 0x970, 0xaf0, 0xaf0,
  0xdf4, 0xdf4, 0xe4f, 0xe4f, 0xe5a, 0xe5b, 0xf04, 0xf12, 0xf14, 0xf14, 0xf3a, 0xf3d, 0xf85, 0xf85, 0xfd0,
  0xfd4, 0xfd9, 0xfda, 0x104a, 0x104f, 0x10fb, 0x10fb, 0x1360, 0x1368, 0x1400, 0x1400, 0x166d, 0x166e, 0x169b,
  0x169c, 0x16eb, 0x16ed, 0x1735, 0x1736, 0x17d4, 0x17d6, 0x17d8, 0x17da, 0x1800, 0x180a, 0x1944, 0x1945,
  0x1a1e, 0x1a1f, 0x1aa0, 0x1aa6, 0x1aa8, 0x1aad, 0x1b5a, 0x1b60, 0x1bfc, 0x1bff, 0x1c3b, 0x1c3f, 0x1c7e,
  0x1c7f, 0x1cc0, 0x1cc7, 0x1cd3, 0x1cd3, 0x2010, 0x2027, 0x2030, 0x2043, 0x2045, 0x2051, 0x2053, 0x205e,
  0x207d, 0x207e, 0x208d, 0x208e, 0x2308, 0x230b, 0x2329, 0x232a, 0x2768, 0x2775, 0x27c5, 0x27c6, 0x27e6,
  0x27ef, 0x2983, 0x2998, 0x29d8, 0x29db, 0x29fc, 0x29fd, 0x2cf9, 0x2cfc, 0x2cfe, 0x2cff, 0x2d70, 0x2d70,
  0x2e00, 0x2e2e, 0x2e30, 0x2e42, 0x3001, 0x3003, 0x3008, 0x3011, 0x3014, 0x301f, 0x3030, 0x3030, 0x303d,
  0x303d, 0x30a0, 0x30a0, 0x30fb, 0x30fb, 0xa4fe, 0xa4ff, 0xa60d, 0xa60f, 0xa673, 0xa673, 0xa67e, 0xa67e,
  0xa6f2, 0xa6f7, 0xa874, 0xa877, 0xa8ce, 0xa8cf, 0xa8f8, 0xa8fa, 0xa8fc, 0xa8fc, 0xa92e, 0xa92f, 0xa95f,
  0xa95f, 0xa9c1, 0xa9cd, 0xa9de, 0xa9df, 0xaa5c, 0xaa5f, 0xaade, 0xaadf, 0xaaf0, 0xaaf1, 0xabeb, 0xabeb,
  0xfd3e, 0xfd3f, 0xfe10, 0xfe19, 0xfe30, 0xfe52, 0xfe54, 0xfe61, 0xfe63, 0xfe63, 0xfe68, 0xfe68, 0xfe6a,
  0xfe6b, 0xff01, 0xff03, 0xff05, 0xff0a, 0xff0c, 0xff0f, 0xff1a, 0xff1b, 0xff1f, 0xff20, 0xff3b, 0xff3d,
  0xff3f, 0xff3f, 0xff5b, 0xff5b, 0xff5d, 0xff5d, 0xff5f, 0xff65, 0x10100, 0x10102, 0x1039f, 0x1039f, 0x103d0,
  0x103d0, 0x1056f, 0x1056f, 0x10857, 0x10857, 0x1091f, 0x1091f, 0x1093f, 0x1093f, 0x10a50, 0x10a58, 0x10a7f,
  0x10a7f, 0x10af0, 0x10af6, 0x10b39, 0x10b3f, 0x10b99, 0x10b9c, 0x11047, 0x1104d, 0x110bb, 0x110bc, 0x110be,
  0x110c1, 0x11140, 0x11143, 0x11174, 0x11175, 0x111c5, 0x111c9, 0x111cd, 0x111cd, 0x111db, 0x111db, 0x111dd,
  0x111df, 0x11238, 0x1123d, 0x112a9, 0x112a9, 0x114c6, 0x114c6, 0x115c1, 0x115d7, 0x11641, 0x11643, 0x1173c,
  0x1173e, 0x12470, 0x12474, 0x16a6e, 0x16a6f, 0x16af5, 0x16af5, 0x16b37, 0x16b3b, 0x16b44, 0x16b44, 0x1bc9f,
  0x1bc9f, 0x1da87, 0x1da8b,
];
const NUMERIC = [
  0x30, 0x39, 0xb2, 0xb3, 0xb9, 0xb9, 0xbc, 0xbe, 0x660, 0x669, 0x6f0, 0x6f9, 0x7c0, 0x7c9, 0x966, 0x96f,
  0x9e6, 0x9ef, 0x9f4, 0x9f9, 0xa66, 0xa6f, 0xae6, 0xaef, 0xb66, 0xb6f, 0xb72, 0xb77, 0xbe6, 0xbf2, 0xc66,
  0xc6f, 0xc78, 0xc7e, 0xce6, 0xcef, 0xd58, 0xd5e, 0xd66, 0xd78, 0xde6, 0xdef, 0xe50, 0xe59, 0xed0, 0xed9,
  0xf20, 0xf33, 0x1040, 0x1049, 0x1090, 0x1099, 0x1369, 0x137c, 0x16ee, 0x16f0, 0x17e0, 0x17e9, 0x17f0, 0x17f9,
  0x1810, 0x1819, 0x1946, 0x194f, 0x19d0, 0x19da, 0x1a80, 0x1a89, 0x1a90, 0x1a99, 0x1b50, 0x1b59, 0x1bb0,
  0x1bb9, 0x1c40, 0x1c49, 0x1c50, 0x1c59, 0x2070, 0x2070, 0x2074, 0x2079, 0x2080, 0x2089, 0x2150, 0x2182,
  0x2185, 0x2189, 0x2460, 0x249b, 0x24ea, 0x24ff, 0x2776, 0x2793, 0x2cfd, 0x2cfd, 0x3007, 0x3007, 0x3021,
  0x3029, 0x3038, 0x303a, 0x3192, 0x3195, 0x3220, 0x3229, 0x3248, 0x324f, 0x3251, 0x325f, 0x3280, 0x3289,
  0x32b1, 0x32bf, 0xa620, 0xa629, 0xa6e6, 0xa6ef, 0xa830, 0xa835, 0xa8d0, 0xa8d9, 0xa900, 0xa909, 0xa9d0,
  0xa9d9, 0xa9f0, 0xa9f9, 0xaa50, 0xaa59, 0xabf0, 0xabf9, 0xff10, 0xff19, 0x10107, 0x10133, 0x10140, 0x10178,
  0x1018a, 0x1018b, 0x102e1, 0x102fb, 0x10320, 0x10323, 0x10341, 0x10341, 0x1034a, 0x1034a, 0x103d1, 0x103d5,
  0x104a0, 0x104a9, 0x10858, 0x1085f, 0x10879, 0x1087f, 0x108a7, 0x108af, 0x108fb, 0x108ff, 0x10916, 0x1091b,
  0x109bc, 0x109bd, 0x109c0, 0x109cf, 0x109d2, 0x109ff, 0x10a40, 0x10a48, 0x10a7d, 0x10a7e, 0x10a9d, 0x10a9f,
  0x10aeb, 0x10aef, 0x10b58, 0x10b5f, 0x10b78, 0x10b7f, 0x10ba9, 0x10baf, 0x10cfa, 0x10cff, 0x10d30, 0x10d39,
  0x10d40, 0x10d49, 0x10e60, 0x10e7e, 0x10f1d, 0x10f26, 0x10f51, 0x10f54, 0x10fc5, 0x10fcb, 0x11052, 0x1106f,
  0x110f0, 0x110f9, 0x11136, 0x1113f, 0x111d0, 0x111d9, 0x111e1, 0x111f4, 0x112f0, 0x112f9, 0x11450, 0x11459,
  0x114d0, 0x114d9, 0x11650, 0x11659, 0x116c0, 0x116c9, 0x116d0, 0x116e3, 0x11730, 0x1173b, 0x118e0, 0x118f2,
  0x11950, 0x11959, 0x11bf0, 0x11bf9, 0x11c50, 0x11c6c, 0x11d50, 0x11d59, 0x11da0, 0x11da9, 0x11de0, 0x11de9,
  0x11f50, 0x11f59, 0x11fc0, 0x11fd4, 0x12400, 0x1246e, 0x16130, 0x16139, 0x16a60, 0x16a69, 0x16ac0, 0x16ac9,
  0x16b50, 0x16b59, 0x16b5b, 0x16b61, 0x16d70, 0x16d79, 0x16e80, 0x16e96, 0x16ff4, 0x16ff6, 0x1ccf0, 0x1ccf9,
  0x1d2c0, 0x1d2d3, 0x1d2e0, 0x1d2f3, 0x1d360, 0x1d378, 0x1d7ce, 0x1d7ff, 0x1e140, 0x1e149, 0x1e2f0, 0x1e2f9,
  0x1e4f0, 0x1e4f9, 0x1e5f1, 0x1e5fa, 0x1e8c7, 0x1e8cf, 0x1e950, 0x1e959, 0x1ec71, 0x1ecab, 0x1ecad, 0x1ecaf,
  0x1ecb1, 0x1ecb4, 0x1ed01, 0x1ed2d, 0x1ed2f, 0x1ed3d, 0x1f100, 0x1f10c, 0x1fbf0, 0x1fbf9,
];

function inRanges(table, cp) {
  let lo = 0;
  let hi = table.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < table[2 * mid]) hi = mid - 1;
    else if (cp > table[2 * mid + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

export const isWhitespace = (cp) => inRanges(WHITESPACE, cp);
export const isPunctuation = (cp) => inRanges(PUNCTUATION, cp);
export const isNumeric = (cp) => inRanges(NUMERIC, cp);
export const CHARACTER_TABLES = { whitespace: WHITESPACE, punctuation: PUNCTUATION, numeric: NUMERIC };

/** The code points of `text` (a lone UTF-16 surrogate, which Python's tokenizers cannot take, reads as U+FFFD,
 * as TextEncoder would send it). */
export function codePoints(text) {
  const out = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    out.push(cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp);
  }
  return out;
}

/** `text` between code point offsets [start, end) (Python's text[start:end]). */
export function sliceCodePoints(text, start, end) {
  return Array.from(text).slice(start, end).join("");
}

// String.fromCodePoint(...cps) in chunks (a spread of a very long word would overflow the stack).
function fromCodePoints(cps) {
  let out = "";
  for (let i = 0; i < cps.length; i += 4096) out += String.fromCodePoint(...cps.slice(i, i + 4096));
  return out;
}

const UTF8 = new TextEncoder();
const hex2 = (byte) => byte.toString(16).toUpperCase().padStart(2, "0");

// --- pre-tokenizers: each maps a list of [start, end) pieces (code point offsets) to a finer list ---------

// tokenizers' NormalizedString::split with a char predicate: every matching char is its own match.
function splitPiece(cps, start, end, predicate, behavior) {
  const events = []; // [start, end, isMatch]
  let last = start;
  for (let i = start; i < end; i++) {
    if (predicate(cps[i])) {
      if (last < i) events.push([last, i, false]);
      events.push([i, i + 1, true]);
      last = i + 1;
    }
  }
  if (last < end) events.push([last, end, false]);
  let pieces;
  switch (behavior) {
    case "Removed":
      pieces = events.filter((e) => !e[2]);
      break;
    case "Isolated":
      pieces = events;
      break;
    case "MergedWithPrevious": {
      pieces = [];
      let previousMatch = false;
      for (const e of events) {
        if (e[2] && !previousMatch && pieces.length) pieces[pieces.length - 1][1] = e[1];
        else pieces.push([e[0], e[1], false]);
        previousMatch = e[2];
      }
      break;
    }
    case "MergedWithNext": {
      pieces = [];
      let previousMatch = false;
      for (let k = events.length - 1; k >= 0; k--) {
        const e = events[k];
        if (e[2] && !previousMatch && pieces.length) pieces[pieces.length - 1][0] = e[0];
        else pieces.push([e[0], e[1], false]);
        previousMatch = e[2];
      }
      pieces.reverse();
      break;
    }
    case "Contiguous": {
      pieces = [];
      let previousMatch = false;
      for (const e of events) {
        if (e[2] && previousMatch) pieces[pieces.length - 1][1] = e[1];
        else pieces.push([e[0], e[1], e[2]]);
        previousMatch = e[2];
      }
      break;
    }
    default:
      throw new Error(`tokenizer.js: unsupported split behavior ${JSON.stringify(behavior)}`);
  }
  return pieces.filter((p) => p[0] < p[1]).map((p) => [p[0], p[1]]);
}

// Split(Regex("\s+"), MergedWithNext) on [start, end): a piece begins at `start` and at the start of every
// whitespace run after a non-whitespace character, so each run is the prefix of what follows it.
function splitWhitespaceRunsMergedWithNext(cps, start, end) {
  const pieces = [];
  let pieceStart = start;
  for (let i = start + 1; i < end; i++) {
    if (isWhitespace(cps[i]) && !isWhitespace(cps[i - 1])) {
      pieces.push([pieceStart, i]);
      pieceStart = i;
    }
  }
  if (pieceStart < end) pieces.push([pieceStart, end]);
  return pieces;
}

function buildPreTokenizer(spec) {
  if (spec == null) return (cps, pieces) => pieces;
  const split = (predicate, behavior) => (cps, pieces) =>
    pieces.flatMap(([s, e]) => splitPiece(cps, s, e, predicate, behavior));
  switch (spec.type) {
    case "Sequence": {
      const steps = spec.pretokenizers.map(buildPreTokenizer);
      return (cps, pieces) => steps.reduce((acc, step) => step(cps, acc), pieces);
    }
    case "WhitespaceSplit":
      return split(isWhitespace, "Removed");
    case "Split": {
      // Only the filter tokenizer's Split(Regex("\s+"), "merged_with_next"): the regex's matches are the
      // maximal runs of whitespace; each run joins the piece after it (a trailing run stays a piece).
      const pattern = spec.pattern ?? {};
      if (pattern.Regex !== "\\s+" || spec.behavior !== "MergedWithNext" || spec.invert) {
        throw new Error(
          `tokenizer.js: only Split(Regex("\\s+"), MergedWithNext) is supported, not ${JSON.stringify(spec)}`,
        );
      }
      return (cps, pieces) => pieces.flatMap(([s, e]) => splitWhitespaceRunsMergedWithNext(cps, s, e));
    }
    case "Punctuation":
      return split(isPunctuation, spec.behavior ?? "Isolated");
    case "Digits":
      return split(isNumeric, spec.individual_digits ? "Isolated" : "Contiguous");
    default:
      throw new Error(`tokenizer.js: unsupported pre-tokenizer ${JSON.stringify(spec.type)}`);
  }
}

// --- BPE ---------------------------------------------------------------------------------------------------

// A min-heap of merges ordered by (rank, pos), as tokenizers' word.rs.
class MergeHeap {
  constructor() {
    this.items = [];
  }
  static less(a, b) {
    return a.rank !== b.rank ? a.rank < b.rank : a.pos < b.pos;
  }
  push(item) {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!MergeHeap.less(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }
  pop() {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && MergeHeap.less(items[l], items[m])) m = l;
        if (r < items.length && MergeHeap.less(items[r], items[m])) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m], items[i]];
        i = m;
      }
    }
    return top;
  }
  get size() {
    return this.items.length;
  }
}

class BPE {
  constructor(spec) {
    if (spec.dropout != null && spec.dropout !== 0) throw new Error("tokenizer.js: BPE dropout is not supported");
    this.vocab = new Map(Object.entries(spec.vocab));
    this.vocabR = new Map();
    for (const [token, id] of this.vocab) this.vocabR.set(id, token);
    this.unkToken = spec.unk_token ?? null;
    this.prefix = spec.continuing_subword_prefix ?? null;
    this.suffix = spec.end_of_word_suffix ?? null;
    this.fuseUnk = Boolean(spec.fuse_unk);
    this.byteFallback = Boolean(spec.byte_fallback);
    this.ignoreMerges = Boolean(spec.ignore_merges);
    this.stride = 1;
    for (const id of this.vocab.values()) this.stride = Math.max(this.stride, id + 1);
    this.merges = new Map(); // a * stride + b -> [rank, newId]; a later duplicate wins, as in Rust's collect
    spec.merges.forEach((merge, rank) => {
      const [a, b] = typeof merge === "string" ? merge.split(" ") : merge;
      const aId = this.vocab.get(a);
      const bId = this.vocab.get(b);
      const bPart = this.prefix && b.startsWith(this.prefix) ? b.slice(this.prefix.length) : b;
      const newId = this.vocab.get(a + bPart);
      if (aId === undefined || bId === undefined || newId === undefined) {
        throw new Error(`tokenizer.js: merge ${JSON.stringify([a, b])} has a token out of the vocabulary`);
      }
      this.merges.set(aId * this.stride + bId, [rank, newId]);
    });
    this.cache = new Map();
  }

  // The tokens of one pre-tokenized piece: [{id, start, end}] with offsets relative to the piece.
  tokenize(cps) {
    if (!cps.length) return [];
    const key = fromCodePoints(cps);
    if (this.ignoreMerges && this.vocab.has(key)) return [{ id: this.vocab.get(key), start: 0, end: cps.length }];
    const hit = this.cache.get(key);
    if (hit) return hit;
    const tokens = this.mergeWord(cps);
    if (this.cache.size > 20000) this.cache.clear();
    this.cache.set(key, tokens);
    return tokens;
  }

  mergeWord(cps) {
    // symbols: {c, prev, next, start, end, gone}; start/end are code point offsets within the word (a byte
    // token covers its whole character, which is what tokenizers' byte -> char offset conversion yields).
    const symbols = [];
    const add = (c, start, end) => {
      const n = symbols.length;
      if (n) symbols[n - 1].next = n;
      symbols.push({ c, prev: n - 1, next: -1, start, end, gone: false });
    };
    let unk = null; // [id, start, end]
    const unkId = () => {
      const id = this.vocab.get(this.unkToken);
      if (id === undefined) throw new Error(`tokenizer.js: unk token ${this.unkToken} is not in the vocabulary`);
      return id;
    };
    for (let i = 0; i < cps.length; i++) {
      let s = String.fromCodePoint(cps[i]);
      if (i > 0 && this.prefix) s = this.prefix + s;
      if (i === cps.length - 1 && this.suffix) s = s + this.suffix;
      const id = this.vocab.get(s);
      if (id !== undefined) {
        if (unk) {
          add(...unk);
          unk = null;
        }
        add(id, i, i + 1);
        continue;
      }
      if (this.byteFallback) {
        const ids = Array.from(UTF8.encode(s), (b) => this.vocab.get(`<0x${hex2(b)}>`));
        if (ids.every((x) => x !== undefined)) {
          // Rust adds these without flushing a pending unk first; the order it yields is kept.
          for (const byteId of ids) add(byteId, i, i + 1);
          continue;
        }
      }
      if (this.unkToken != null) {
        if (unk && this.fuseUnk) unk = [unk[0], unk[1], i + 1];
        else {
          if (unk) add(...unk);
          unk = [unkId(), i, i + 1];
        }
      }
    }
    if (unk) add(...unk);

    const heap = new MergeHeap();
    for (let i = 0; i + 1 < symbols.length; i++) {
      const m = this.merges.get(symbols[i].c * this.stride + symbols[i + 1].c);
      if (m) heap.push({ pos: i, rank: m[0], newId: m[1] });
    }
    while (heap.size) {
      const top = heap.pop();
      const current = symbols[top.pos];
      if (current.gone || current.next === -1) continue;
      const right = symbols[current.next];
      const m = this.merges.get(current.c * this.stride + right.c);
      if (!m || m[1] !== top.newId) continue; // an expired entry
      current.c = top.newId;
      current.end = right.end;
      current.next = right.next;
      right.gone = true;
      if (right.next > -1 && right.next < symbols.length) symbols[right.next].prev = top.pos;
      if (current.prev >= 0) {
        const left = symbols[current.prev];
        const pm = this.merges.get(left.c * this.stride + current.c);
        if (pm) heap.push({ pos: current.prev, rank: pm[0], newId: pm[1] });
      }
      if (current.next > -1 && current.next < symbols.length) {
        const nm = this.merges.get(current.c * this.stride + symbols[current.next].c);
        if (nm) heap.push({ pos: top.pos, rank: nm[0], newId: nm[1] });
      }
    }
    return symbols.filter((s) => !s.gone).map((s) => ({ id: s.c, start: s.start, end: s.end }));
  }
}

// --- the tokenizer -----------------------------------------------------------------------------------------

export class Tokenizer {
  /** `spec`: the parsed tokenizer.json. */
  constructor(spec) {
    if (spec.normalizer != null) throw new Error("tokenizer.js: a normalizer is not supported (offsets would move)");
    if (spec.truncation != null || spec.padding != null) {
      throw new Error("tokenizer.js: truncation / padding in tokenizer.json are not supported");
    }
    if (!spec.model || spec.model.type !== "BPE") {
      throw new Error(`tokenizer.js: only a BPE model is supported, not ${JSON.stringify(spec.model?.type)}`);
    }
    this.model = new BPE(spec.model);
    this.preTokenize = buildPreTokenizer(spec.pre_tokenizer);
    this.addedTokens = new Map(); // first code point -> [{cps, id, content}] longest first
    this.idToAdded = new Map();
    for (const token of spec.added_tokens ?? []) {
      if (token.single_word || token.lstrip || token.rstrip) {
        throw new Error(`tokenizer.js: added token ${token.content}: single_word / lstrip / rstrip are not supported`);
      }
      const cps = codePoints(token.content);
      if (!cps.length) continue;
      const list = this.addedTokens.get(cps[0]) ?? [];
      list.push({ cps, id: token.id, content: token.content });
      list.sort((a, b) => b.cps.length - a.cps.length);
      this.addedTokens.set(cps[0], list);
      this.idToAdded.set(token.id, token.content);
    }
    this.template = this.buildTemplate(spec.post_processor);
  }

  static async fromURL(url, fetchOptions) {
    const response = await fetch(url, fetchOptions);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return new Tokenizer(await response.json());
  }

  buildTemplate(post) {
    if (post == null) return null;
    if (post.type !== "TemplateProcessing") {
      throw new Error(`tokenizer.js: unsupported post-processor ${JSON.stringify(post.type)}`);
    }
    return post.single.map((piece) => {
      if (piece.Sequence) return { sequence: true };
      const special = post.special_tokens[piece.SpecialToken.id];
      return { sequence: false, ids: special.ids, tokens: special.tokens };
    });
  }

  idToToken(id) {
    return this.model.vocabR.get(id) ?? this.idToAdded.get(id);
  }

  tokenToId(token) {
    const id = this.model.vocab.get(token);
    if (id !== undefined) return id;
    for (const list of this.addedTokens.values()) for (const t of list) if (t.content === token) return t.id;
    return undefined;
  }

  /** Encode without special tokens: {ids, tokens, offsets} (offsets: [start, end] in code points). */
  encodeText(text) {
    const cps = codePoints(text);
    const ids = [];
    const offsets = [];
    const modelPiece = (start, end) => {
      for (const [s, e] of this.preTokenize(cps, [[start, end]])) {
        for (const token of this.model.tokenize(cps.slice(s, e))) {
          ids.push(token.id);
          offsets.push([s + token.start, s + token.end]);
        }
      }
    };
    // Added tokens: leftmost-longest matches in the raw text split it before pre-tokenization.
    let last = 0;
    for (let i = 0; i < cps.length; ) {
      const candidates = this.addedTokens.get(cps[i]);
      const match = candidates?.find((t) => t.cps.every((c, k) => cps[i + k] === c));
      if (!match) {
        i++;
        continue;
      }
      if (last < i) modelPiece(last, i);
      ids.push(match.id);
      offsets.push([i, i + match.cps.length]);
      i += match.cps.length;
      last = i;
    }
    if (last < cps.length) modelPiece(last, cps.length);
    return { ids, offsets, tokens: ids.map((id) => this.idToToken(id)) };
  }

  /** Add the template's special tokens around an encoding (of `encodeText`, or a window of it). */
  withSpecialTokens(encoding) {
    if (!this.template) return { ...encoding, specialTokensMask: encoding.ids.map(() => 0) };
    const ids = [];
    const offsets = [];
    const tokens = [];
    const specialTokensMask = [];
    for (const piece of this.template) {
      if (piece.sequence) {
        ids.push(...encoding.ids);
        offsets.push(...encoding.offsets);
        tokens.push(...encoding.tokens);
        specialTokensMask.push(...encoding.ids.map(() => 0));
      } else {
        ids.push(...piece.ids);
        tokens.push(...piece.tokens);
        for (let k = 0; k < piece.ids.length; k++) {
          offsets.push([0, 0]);
          specialTokensMask.push(1);
        }
      }
    }
    return { ids, offsets, tokens, specialTokensMask };
  }

  /** Like Python's `tokenizer.encode(text)`: {ids, tokens, offsets, specialTokensMask}. */
  encode(text, { addSpecialTokens = true } = {}) {
    const encoding = this.encodeText(text);
    return addSpecialTokens ? this.withSpecialTokens(encoding) : { ...encoding, specialTokensMask: encoding.ids.map(() => 0) };
  }

  /** The number of special tokens the template adds around one sequence. */
  get numSpecialTokens() {
    return this.template ? this.template.filter((p) => !p.sequence).reduce((n, p) => n + p.ids.length, 0) : 0;
  }
}

export function loadTokenizer(spec) {
  return new Tokenizer(spec);
}
