// The quorum expression language: a tiny strict grammar (`all(admin, witness) and 2 of officers`)
// parsed into an AST, and printed back in canonical form. Pure.
//
//   expr  := term ( ("and" term)+ | ("or" term)+ )?      and/or never mix without parentheses
//   term  := "(" expr ")" | "all" "(" role ("," role)* ")" | COUNT "of" role | role
//   role  := admin | witness | officer | auditor | custodian   (plural forms accepted)
//   COUNT := 1..99 without leading zeros
//
// `all(r, …)`: every person assigned role r in the ceremony approves (in that role).
// `k of r`: at least k distinct people approve in role r. A bare role means `1 of r`.
import { CeremonyError } from "../errors.js";
import { PLURAL, type Role, ROLE_WORDS } from "../roles.js";

export type QuorumExpr =
  | { op: "all"; roles: Role[] }
  | { op: "atLeast"; k: number; role: Role }
  | { op: "and"; terms: QuorumExpr[] }
  | { op: "or"; terms: QuorumExpr[] };

export const MAX_EXPRESSION_LENGTH = 256;
const MAX_DEPTH = 8;
const MAX_COUNT = 99;

type Tok = { t: "(" | ")" | "," | "word" | "int"; v: string; at: number };

function fail(msg: string, at?: number): never {
  throw new CeremonyError("bad-expression", at === undefined ? msg : `${msg} (at character ${at + 1})`);
}

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    if (c === "(" || c === ")" || c === ",") {
      out.push({ t: c, v: c, at: i++ });
      continue;
    }
    const word = /^[a-z]+/.exec(src.slice(i));
    if (word) {
      out.push({ t: "word", v: word[0], at: i });
      i += word[0].length;
      continue;
    }
    const num = /^[0-9]+/.exec(src.slice(i));
    if (num) {
      if (num[0].length > 1 && num[0][0] === "0") fail(`count "${num[0]}" has a leading zero`, i);
      out.push({ t: "int", v: num[0], at: i });
      i += num[0].length;
      continue;
    }
    fail(`unexpected character "${c}"`, i);
  }
  return out;
}

const KEYWORDS = new Set(["and", "or", "all", "of"]);

class Parser {
  private p = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly srcLength: number,
  ) {}

  private peek(): Tok | undefined {
    return this.toks[this.p];
  }

  private next(what: string): Tok {
    const t = this.toks[this.p++];
    if (!t) fail(`expected ${what} but the expression ended`, this.srcLength);
    return t;
  }

  private expect(t: Tok["t"], what: string): Tok {
    const tok = this.next(what);
    if (tok.t !== t) fail(`expected ${what}, found "${tok.v}"`, tok.at);
    return tok;
  }

  private role(): Role {
    const tok = this.next("a role");
    if (tok.t !== "word" || KEYWORDS.has(tok.v)) fail(`expected a role, found "${tok.v}"`, tok.at);
    const role = ROLE_WORDS[tok.v];
    if (!role) fail(`unknown role "${tok.v}" (roles: admin, witness, officers, auditor, custodians)`, tok.at);
    return role;
  }

  parseAll(): QuorumExpr {
    const e = this.expr(0);
    const rest = this.peek();
    if (rest) fail(`unexpected "${rest.v}"`, rest.at);
    return e;
  }

  private expr(depth: number): QuorumExpr {
    if (depth > MAX_DEPTH) fail(`expression nests deeper than ${MAX_DEPTH} levels`);
    const first = this.term(depth);
    const op = this.peek();
    if (op?.t !== "word" || (op.v !== "and" && op.v !== "or")) return first;
    const terms = [first];
    const which = op.v;
    while (true) {
      const o = this.peek();
      if (o?.t !== "word" || (o.v !== "and" && o.v !== "or")) break;
      if (o.v !== which) fail(`"and" and "or" cannot be mixed without parentheses`, o.at);
      this.p++;
      terms.push(this.term(depth));
    }
    return which === "and" ? { op: "and", terms } : { op: "or", terms };
  }

  private term(depth: number): QuorumExpr {
    const tok = this.next("a requirement");
    if (tok.t === "(") {
      const e = this.expr(depth + 1);
      this.expect(")", `")"`);
      return e;
    }
    if (tok.t === "int") {
      const k = Number(tok.v);
      if (k < 1 || k > MAX_COUNT) fail(`count must be 1..${MAX_COUNT}, found ${tok.v}`, tok.at);
      const of = this.next(`"of"`);
      if (of.t !== "word" || of.v !== "of") fail(`expected "of" after ${tok.v}, found "${of.v}"`, of.at);
      return { op: "atLeast", k, role: this.role() };
    }
    if (tok.t === "word" && tok.v === "all") {
      this.expect("(", `"(" after all`);
      const roles: Role[] = [this.role()];
      while (this.peek()?.t === ",") {
        this.p++;
        const r = this.role();
        if (roles.includes(r)) fail(`role "${r}" is listed twice in all(…)`, this.toks[this.p - 1]!.at);
        roles.push(r);
      }
      this.expect(")", `")" closing all(…)`);
      return { op: "all", roles };
    }
    if (tok.t === "word" && !KEYWORDS.has(tok.v)) {
      this.p--;
      return { op: "atLeast", k: 1, role: this.role() };
    }
    return fail(`expected a requirement, found "${tok.v}"`, tok.at);
  }
}

/** Parses a quorum expression; throws CeremonyError("bad-expression") naming the first problem. */
export function parseQuorum(src: string): QuorumExpr {
  if (typeof src !== "string") fail("expression must be a string");
  if (src.length > MAX_EXPRESSION_LENGTH) fail(`expression is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  const toks = lex(src);
  if (toks.length === 0) fail("expression is empty");
  return new Parser(toks, src.length).parseAll();
}

/** Canonical text of an expression; `parseQuorum(formatQuorum(e))` equals `e`. */
export function formatQuorum(e: QuorumExpr): string {
  switch (e.op) {
    case "all":
      return `all(${e.roles.join(", ")})`;
    case "atLeast":
      return e.k === 1 ? e.role : `${e.k} of ${PLURAL[e.role]}`;
    case "and":
    case "or":
      return e.terms
        .map((t) => (t.op === "and" || t.op === "or" ? `(${formatQuorum(t)})` : formatQuorum(t)))
        .join(` ${e.op} `);
  }
}

/** The roles an expression mentions (who could possibly be asked to approve). */
export function rolesOf(e: QuorumExpr): Set<Role> {
  const out = new Set<Role>();
  const walk = (x: QuorumExpr) => {
    if (x.op === "all") for (const r of x.roles) out.add(r);
    else if (x.op === "atLeast") out.add(x.role);
    else for (const t of x.terms) walk(t);
  };
  walk(e);
  return out;
}
