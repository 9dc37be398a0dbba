// Test helper for the hostile-input suites: fast-check arbitraries that turn valid DER / text into
// malformed and mutated forms (byte mutations, structure-aware DER tree edits, random DER trees).
import fc from "fast-check";

// ---------- DER trees ----------

export type DerNode = { tag: number; children: DerNode[] } | { tag: number; content: Buffer };

function encLen(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function encodeDer(n: DerNode): Buffer {
  const body = "children" in n ? Buffer.concat(n.children.map(encodeDer)) : n.content;
  return Buffer.concat([Buffer.from([n.tag]), encLen(body.length), body]);
}

/** Decodes well-formed DER into a tree (constructed tags recursively); throws on bad framing. */
export function decodeDer(buf: Buffer): DerNode {
  const [node, end] = decodeAt(buf, 0, buf.length, 0);
  if (end !== buf.length) throw new Error("trailing bytes");
  return node;
}

function decodeAt(buf: Buffer, pos: number, limit: number, depth: number): [DerNode, number] {
  if (depth > 40 || pos + 2 > limit) throw new Error("bad DER");
  const tag = buf[pos]!;
  let p = pos + 1;
  let len = buf[p++]!;
  if (len & 0x80) {
    const k = len & 0x7f;
    if (k === 0 || k > 4 || p + k > limit) throw new Error("bad DER length");
    len = 0;
    for (let i = 0; i < k; i++) len = len * 256 + buf[p++]!;
  }
  const end = p + len;
  if (end > limit) throw new Error("bad DER length");
  if (!(tag & 0x20)) return [{ tag, content: Buffer.from(buf.subarray(p, end)) }, end];
  const children: DerNode[] = [];
  while (p < end) {
    const [c, e] = decodeAt(buf, p, end, depth + 1);
    children.push(c);
    p = e;
  }
  return [{ tag, children }, end];
}

/** Every path (list of child indexes) in a tree, root first. */
function paths(n: DerNode, prefix: number[] = [], out: number[][] = []): number[][] {
  out.push(prefix);
  if ("children" in n) for (let i = 0; i < n.children.length; i++) paths(n.children[i]!, [...prefix, i], out);
  return out;
}

function replaceAt(n: DerNode, path: number[], f: (n: DerNode) => DerNode[]): DerNode[] {
  if (path.length === 0) return f(n);
  if (!("children" in n)) return [n];
  const [i, ...rest] = path as [number, ...number[]];
  const children = n.children.flatMap((c, j) => (j === i ? replaceAt(c, rest, f) : [c]));
  return [{ tag: n.tag, children }];
}

const COMMON_TAGS = [
  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x16, 0x17, 0x18, 0x30, 0x31, 0x80, 0x81, 0x82, 0x87, 0xa0, 0xa1,
  0xa2, 0xa3,
];

/** A random DER tree (well-framed, semantically arbitrary). */
export const arbDerNode: fc.Arbitrary<DerNode> = fc.letrec<{ node: DerNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({
      tag: fc.constantFrom(...COMMON_TAGS.filter((t) => !(t & 0x20))),
      content: fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a)),
    }),
    fc.record({
      tag: fc.constantFrom(0x30, 0x31, 0xa0, 0xa1, 0xa2, 0xa3),
      children: fc.array(tie("node"), { maxLength: 5 }),
    }),
  ),
})).node;

export type TreeEdit =
  | { op: "replace"; at: number; with: DerNode }
  | { op: "delete"; at: number }
  | { op: "duplicate"; at: number }
  | { op: "retag"; at: number; tag: number }
  | { op: "content"; at: number; bytes: Buffer }
  | { op: "truncateContent"; at: number; keep: number }
  | { op: "wrap"; at: number; tag: number }
  | { op: "hoist"; at: number };

export const arbTreeEdit: fc.Arbitrary<TreeEdit> = fc.oneof(
  fc.record({ op: fc.constant("replace" as const), at: fc.nat(), with: arbDerNode }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("retag" as const), at: fc.nat(), tag: fc.constantFrom(...COMMON_TAGS) }),
  fc.record({
    op: fc.constant("content" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)),
  }),
  fc.record({ op: fc.constant("truncateContent" as const), at: fc.nat(), keep: fc.nat() }),
  fc.record({ op: fc.constant("wrap" as const), at: fc.nat(), tag: fc.constantFrom(0x30, 0x31, 0x04, 0xa0) }),
  fc.record({ op: fc.constant("hoist" as const), at: fc.nat() }),
);

/** Applies a structure-aware edit to a DER tree; the result is re-encoded with correct lengths. */
export function applyTreeEdit(root: DerNode, e: TreeEdit): DerNode {
  const all = paths(root);
  const path = all[e.at % all.length]!;
  const out = replaceAt(root, path, (n): DerNode[] => {
    switch (e.op) {
      case "replace":
        return [e.with];
      case "delete":
        return [];
      case "duplicate":
        return [n, n];
      case "retag":
        // keep the node's shape: a primitive gets its encoding as content when retagged constructed
        if ((e.tag & 0x20) === 0)
          return [{ tag: e.tag, content: "content" in n ? n.content : encodeDer(n).subarray(2) }];
        return [{ tag: e.tag, children: "children" in n ? n.children : [] }];
      case "content":
        return [{ tag: n.tag & ~0x20, content: e.bytes }];
      case "truncateContent":
        if ("children" in n) return [{ tag: n.tag, children: n.children.slice(0, e.keep % (n.children.length + 1)) }];
        return [{ tag: n.tag, content: n.content.subarray(0, e.keep % (n.content.length + 1)) }];
      case "wrap": {
        if (e.tag & 0x20) return [{ tag: e.tag, children: [n] }];
        return [{ tag: e.tag, content: encodeDer(n) }];
      }
      case "hoist":
        return "children" in n ? n.children : [n];
    }
  });
  return out[0] ?? { tag: 0x30, children: [] };
}

// ---------- byte mutations ----------

export type ByteEdit =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; value: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; len: number }
  | { op: "duplicate"; at: number; len: number }
  | { op: "lengthByte"; at: number; value: number };

export const arbByteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x7f, 0x80, 0x81, 0xff) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 32 }) }),
  fc.record({
    op: fc.constant("lengthByte" as const),
    at: fc.nat(),
    value: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x85, 0x89, 0xff),
  }),
);

export function applyByteEdit(buf: Buffer, e: ByteEdit): Buffer {
  if (buf.length === 0) return e.op === "insert" ? Buffer.from(e.bytes) : buf;
  const at = e.at % buf.length;
  const b = Buffer.from(buf);
  switch (e.op) {
    case "flip":
      b[at] = b[at]! ^ (1 << e.bit);
      return b;
    case "set":
    case "lengthByte":
      b[at] = e.value;
      return b;
    case "truncate":
      return b.subarray(0, at);
    case "insert":
      return Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
    case "delete":
      return Buffer.concat([b.subarray(0, at), b.subarray(at + e.len)]);
    case "duplicate":
      return Buffer.concat([b.subarray(0, at + e.len), b.subarray(at)]);
  }
}

/**
 * Malformed and mutated forms of the given valid DER samples: random bytes, random DER trees,
 * byte-level mutation chains and structure-aware tree edits (with re-encoded lengths).
 */
export function arbMutatedDer(samples: Buffer[]): fc.Arbitrary<Buffer> {
  const sample = fc.constantFrom(...samples);
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: arbDerNode.map(encodeDer) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(sample, fc.array(arbByteEdit, { minLength: 1, maxLength: 4 }))
        .map(([s, edits]) => edits.reduce(applyByteEdit, s)),
    },
    {
      weight: 4,
      arbitrary: fc
        .tuple(sample, fc.array(arbTreeEdit, { minLength: 1, maxLength: 3 }))
        .map(([s, edits]) => encodeDer(edits.reduce(applyTreeEdit, decodeDer(s)))),
    },
  );
}

// ---------- responses ----------

/** Text that must never reach a client: stack frames, JS error names, internal paths. */
export const INTERNALS =
  /\bat [\w.<>]+ \(|\.ts:\d+|node_modules|TypeError|RangeError|ReferenceError|SyntaxError|Cannot read propert|is not a function|undefined is not (?:iterable|an object|a function)|SQLITE_|CKR_|\/work\//;

/** The number of fast-check runs for the hostile-input suites (PLANTROOT_FUZZ_RUNS multiplies them). */
export function runs(n: number): number {
  const k = Number(process.env.PLANTROOT_FUZZ_RUNS ?? "1");
  return Math.max(1, Math.round(n * (Number.isFinite(k) && k > 0 ? k : 1)));
}
