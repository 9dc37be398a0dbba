// A tiny DOM builder for the renderer (no framework, no innerHTML: Trusted Types forbid it): h() for
// HTML elements, s() for SVG, and text helpers. Browser code only.

export type Child = Node | string | number | null | undefined | false | Child[];
export type Props = Record<string, unknown>;

const BOOLEAN = new Set(["disabled", "checked", "selected", "required", "hidden", "open", "readOnly", "multiple"]);

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

function apply(el: Element, props: Props | null | undefined): void {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) {
      if (BOOLEAN.has(k)) (el as unknown as Record<string, boolean>)[k] = false;
      continue;
    }
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
    } else if (k === "class") {
      el.setAttribute("class", String(v));
    } else if (k === "for") {
      el.setAttribute("for", String(v));
    } else if (BOOLEAN.has(k)) {
      (el as unknown as Record<string, boolean>)[k] = Boolean(v);
    } else if (k === "value" && "value" in el) {
      (el as HTMLInputElement).value = String(v);
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, props);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag: string, props?: Props | null, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, props);
  append(el, children);
  return el;
}

/** A SHA-256 (or other hex) in groups of four, for reading aloud and comparing. */
export function groupHex(hex: string, group = 4): string {
  return (hex.match(new RegExp(`.{1,${group}}`, "g")) ?? []).join(" ");
}

export function shortHex(hex: string): string {
  return `${hex.slice(0, 8)}…${hex.slice(-4)}`;
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`;
}

export function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 10);
}
