// Ports of maaza.tasks.filter.spans used by filter.js: constrainedTags (the most probable valid BIO tag
// sequence, no span edge inside a word: gluedBoundaries), decodeBio (BIO tags -> character spans, trimmed of
// whitespace) and mergeOverlapping (the spans of overlapping windows -> one set). Offsets are Unicode code
// points, as Python's str indexes them. No dependencies beyond tokenizer.js's codePoints.

import { codePoints, isPunctuation, isWhitespace } from "./tokenizer.js";

// Python's str.isspace() (CPython 3.11, unicodedata 14), as inclusive [start, end] code point ranges: the
// characters of bidirectional class WS, B or S or category Zs. Not the tokenizer's whitespace (that one lacks
// U+001C..U+001F) and not JS's \s (which has U+FEFF); tests/web checks it against Python over every code point.
const PYTHON_SPACE = [
  0x9, 0xd, 0x1c, 0x20, 0x85, 0x85, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f,
  0x205f, 0x205f, 0x3000, 0x3000,
];
export const SPACE_TABLE = PYTHON_SPACE;

/** Python's `chr(cp).isspace()`. */
export function isPythonSpace(cp) {
  for (let k = 0; k < PYTHON_SPACE.length; k += 2) {
    if (cp < PYTHON_SPACE[k]) return false;
    if (cp <= PYTHON_SPACE[k + 1]) return true;
  }
  return false;
}

/** maaza.tasks.filter.spans.is_word_character: neither whitespace nor punctuation to the tokenizer (the
 * classes tokenizer.js carries, probed from `tokenizers` itself, not the JS engine's Unicode version). */
export function isWordChar(cp) {
  return !isWhitespace(cp) && !isPunctuation(cp);
}

/** maaza.tasks.filter.spans.glued_boundaries: per token, true when no span edge may fall before it (a piece of
 * the same character as the previous token, or touching it with word characters on both sides). `cps`: the
 * text's code points; zero-width tokens are never glued and do not glue their neighbours. */
export function gluedBoundaries(offsets, cps) {
  const glued = [];
  let previous = null;
  for (const [start, end] of offsets) {
    if (end <= start) {
      glued.push(false);
      continue;
    }
    if (previous === null) glued.push(false);
    else if (start < previous[1]) glued.push(true);
    else glued.push(start === previous[1] && isWordChar(cps[start]) && isWordChar(cps[start - 1]));
    previous = [start, end];
  }
  return glued;
}

const NEVER = -1e30;

/** maaza.tasks.filter.spans.constrained_tags: Viterbi over `tags` (names, "O" / "B-X" / "I-X") with I-X only
 * after B-X or I-X (never first) and, at a glued boundary, O after O or I-X after X. `logProbs`: one array of
 * per-tag log-probabilities per token. Returns tag indices; ties go to the lower index, as numpy's argmax. */
export function constrainedTags(logProbs, glued, tags) {
  const count = tags.length;
  if (logProbs.length === 0) return [];
  const label = tags.map((t) => (t === "O" ? null : t.slice(t.indexOf("-") + 1)));
  const inside = tags.map((t) => t.startsWith("I-"));
  const outside = tags.indexOf("O");
  const free = [];
  const stuck = [];
  for (let a = 0; a < count; a++) {
    free.push(new Array(count).fill(0));
    stuck.push(new Array(count).fill(NEVER));
    for (let b = 0; b < count; b++) {
      const continues = label[a] !== null && label[a] === label[b] && inside[b];
      if (inside[b] && !continues) free[a][b] = NEVER;
      if ((a === outside && b === outside) || continues) stuck[a][b] = 0;
    }
  }
  let score = tags.map((_, b) => (inside[b] ? NEVER : 0) + logProbs[0][b]);
  const back = [];
  for (let i = 1; i < logProbs.length; i++) {
    const table = glued[i] ? stuck : free;
    const best = new Array(count);
    const next = new Array(count);
    for (let b = 0; b < count; b++) {
      let arg = 0;
      let value = score[0] + table[0][b];
      for (let a = 1; a < count; a++) {
        const candidate = score[a] + table[a][b];
        if (candidate > value) {
          value = candidate;
          arg = a;
        }
      }
      best[b] = arg;
      next[b] = value + logProbs[i][b];
    }
    back.push(best);
    score = next;
  }
  let last = 0;
  for (let b = 1; b < count; b++) if (score[b] > score[last]) last = b;
  const path = [last];
  for (let i = back.length - 1; i >= 0; i--) path.push(back[i][path[path.length - 1]]);
  return path.reverse();
}

/** maaza.tasks.filter.spans.decode_bio: tags (strings) + offsets + chosen-tag probabilities -> spans
 * [{start, end, label, score}]. Tokens with a zero-width offset ([CLS], [SEP]: [0, 0]) are skipped and do not
 * break a span. With `text` (a string, or its code points as `codePoints` gives them), each span is trimmed of
 * the whitespace at its ends (a token carries the whitespace before its word) and a whitespace-only span is
 * dropped; its score stays the mean over all its tokens, as in Python. */
export function decodeBio(offsets, tags, scores, text = null) {
  const cps = typeof text === "string" ? codePoints(text) : text;
  const spans = [];
  let current = null; // {label, start, end, values}
  const close = () => {
    if (!current) return;
    let { start, end } = current;
    if (cps) {
      while (start < end && isPythonSpace(cps[start])) start++;
      while (end > start && isPythonSpace(cps[end - 1])) end--;
      if (start === end) return;
    }
    const mean = current.values.reduce((a, b) => a + b, 0) / current.values.length;
    spans.push({ start, end, label: current.label, score: mean });
  };
  for (let i = 0; i < offsets.length; i++) {
    const [start, end] = offsets[i];
    if (end <= start) continue;
    const tag = tags[i];
    if (tag === "O") {
      close();
      current = null;
      continue;
    }
    const dash = tag.indexOf("-");
    const prefix = tag.slice(0, dash);
    const label = tag.slice(dash + 1);
    if (prefix === "I" && current && current.label === label) {
      current.end = end;
      current.values.push(scores[i]);
    } else {
      close();
      current = { label, start, end, values: [scores[i]] };
    }
  }
  close();
  return spans;
}

const compareSpans = (a, b) => a.start - b.start || a.end - b.end || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0);
const overlaps = (a, b) => a.start < b.end && b.start < a.end;

/** maaza.tasks.filter.spans.merge_overlapping: same-label overlapping spans -> their union (the higher score);
 * then among overlapping spans of different labels the higher score wins, then the longer, then the earlier. */
export function mergeOverlapping(spans) {
  const byLabel = new Map();
  for (const span of spans) {
    if (!byLabel.has(span.label)) byLabel.set(span.label, []);
    byLabel.get(span.label).push(span);
  }
  const unions = [];
  for (const [label, members] of byLabel) {
    members.sort(compareSpans);
    let { start, end, score } = members[0];
    for (const span of members.slice(1)) {
      if (span.start < end) {
        end = Math.max(end, span.end);
        score = Math.max(score, span.score);
      } else {
        unions.push({ start, end, label, score });
        ({ start, end, score } = span);
      }
    }
    unions.push({ start, end, label, score });
  }
  // Python: sorted(unions, key=(score, length, -start), reverse=True); Array.sort is stable too.
  const ranked = unions.slice().sort((a, b) => b.score - a.score || b.end - b.start - (a.end - a.start) || a.start - b.start);
  const kept = [];
  for (const span of ranked) if (!kept.some((other) => overlaps(span, other))) kept.push(span);
  return kept.sort(compareSpans);
}

