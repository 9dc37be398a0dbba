// Reusable pieces of the console's screens: labelled form fields bound to the app's form state, the
// token + PIN pair, buttons, status badges, progress and message banners, the large to-be-signed view,
// HSM key attributes and check lists.
import type { CheckView, KeyAttributesView, TbsView, TokenView } from "../../common/views.js";
import type { App } from "./app.js";
import { type Child, groupHex, h } from "./dom.js";

export function fieldId(form: string, name: string): string {
  return `${form}-${name}`;
}

export function textField(
  app: App,
  form: string,
  name: string,
  label: string,
  opts: {
    type?: string;
    hint?: string;
    autocomplete?: string;
    placeholder?: string;
    wide?: boolean;
    onEnter?: () => void;
  } = {},
): HTMLElement {
  const id = fieldId(form, name);
  const hintId = opts.hint ? `${id}-hint` : undefined;
  return h(
    "div",
    { class: `field${opts.wide ? " wide" : ""}` },
    h("label", { for: id }, label),
    h("input", {
      id,
      name,
      type: opts.type ?? "text",
      value: app.field(form, name),
      autocomplete: opts.autocomplete ?? "off",
      spellcheck: "false",
      ...(opts.placeholder ? { placeholder: opts.placeholder } : {}),
      ...(hintId ? { "aria-describedby": hintId } : {}),
      onInput: (e: Event) => app.setField(form, name, (e.target as HTMLInputElement).value),
      onKeydown: (e: KeyboardEvent) => {
        if (e.key === "Enter" && opts.onEnter) {
          e.preventDefault();
          opts.onEnter();
        }
      },
    }),
    opts.hint ? h("p", { class: "hint", id: hintId }, opts.hint) : null,
  );
}

export function selectField(
  app: App,
  form: string,
  name: string,
  label: string,
  options: Array<{ value: string; label: string }>,
  opts: { fallback?: string; hint?: string; onChange?: () => void; clears?: string[] } = {},
): HTMLElement {
  const id = fieldId(form, name);
  let current = app.field(form, name, opts.fallback ?? options[0]?.value ?? "");
  if (!options.some((o) => o.value === current)) current = opts.fallback ?? options[0]?.value ?? "";
  app.setField(form, name, current);
  const hintId = opts.hint ? `${id}-hint` : undefined;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h(
      "select",
      {
        id,
        name,
        ...(hintId ? { "aria-describedby": hintId } : {}),
        onChange: (e: Event) => {
          app.setField(form, name, (e.target as HTMLSelectElement).value);
          // a different person: their own token and roles, not the previous person's
          for (const f of opts.clears ?? []) app.clearField(form, f);
          if (opts.onChange) opts.onChange();
          else app.render();
        },
      },
      options.length === 0 ? h("option", { value: "" }, "— none —") : null,
      options.map((o) => h("option", { value: o.value, selected: o.value === current }, o.label)),
    ),
    opts.hint ? h("p", { class: "hint", id: hintId }, opts.hint) : null,
  );
}

/** The officer's token and PIN: the token is opened in the main process, never here. */
export function tokenPinFields(
  app: App,
  form: string,
  tokens: TokenView[],
  preferred: string | undefined,
  onEnter: () => void,
  /** whose token this is: when the person changes, the choice goes back to their enrolled token */
  owner?: string,
): Child[] {
  if (owner !== undefined && app.field(form, "tokenFor") !== owner) {
    app.clearField(form, "token");
    app.clearField(form, "pin");
    app.setField(form, "tokenFor", owner);
  }
  const fallback = preferred && tokens.some((t) => t.label === preferred) ? preferred : tokens[0]?.label;
  return [
    selectField(
      app,
      form,
      "token",
      "Token",
      tokens.map((t) => ({ value: t.label, label: `${t.label} (serial ${t.serial})` })),
      { fallback: fallback ?? "", hint: "Insert your token and select it." },
    ),
    textField(app, form, "pin", "PIN", {
      type: "password",
      autocomplete: "off",
      hint: "Typed by the token holder only. It is used once and not kept.",
      onEnter,
    }),
  ];
}

/** Reads token + PIN of a form and clears the PIN immediately. */
export function takeTokenPin(app: App, form: string): { tokenLabel: string; pin: string } {
  const tokenLabel = app.field(form, "token");
  const pin = app.field(form, "pin");
  app.clearField(form, "pin");
  const el = document.getElementById(fieldId(form, "pin")) as HTMLInputElement | null;
  if (el) el.value = "";
  return { tokenLabel, pin };
}

export function button(
  label: string,
  onClick: () => void,
  opts: {
    id: string;
    kind?: "primary" | "secondary" | "danger";
    disabled?: boolean;
    describedBy?: string;
    /** accessible name when the visible label is short ("Check out" → "Check out Alice Admin") */
    ariaLabel?: string;
    small?: boolean;
  },
): HTMLButtonElement {
  return h(
    "button",
    {
      id: opts.id,
      type: "button",
      class: `btn ${opts.kind ?? "secondary"}${opts.small ? " small" : ""}`,
      disabled: opts.disabled ?? false,
      ...(opts.describedBy ? { "aria-describedby": opts.describedBy } : {}),
      ...(opts.ariaLabel ? { "aria-label": opts.ariaLabel } : {}),
      onClick: () => onClick(),
    },
    label,
  );
}

const STATUS_TEXT: Record<string, string> = {
  waiting: "waiting",
  ready: "ready",
  collecting: "collecting approvals",
  done: "done",
  failed: "failed",
  signed: "signed",
  missing: "missing",
  invalid: "invalid",
  revoked: "revoked",
  cancelled: "cancelled",
  good: "good",
  unknown: "unknown",
  simulated: "simulated",
  "not-simulated": "not simulated",
};

export function badge(status: string, text?: string): HTMLElement {
  return h("span", { class: `badge b-${status}` }, text ?? STATUS_TEXT[status] ?? status);
}

export function flashView(app: App): HTMLElement | null {
  const f = app.ui.flash;
  if (!f) return null;
  return h(
    "div",
    {
      id: "flash",
      class: `flash f-${f.kind}`,
      role: f.kind === "error" ? "alert" : "status",
      tabindex: "-1",
    },
    h("strong", null, f.title),
    h("span", { class: "flash-text" }, f.text),
    button(
      "Dismiss",
      () => {
        app.ui.flash = null;
        app.render();
      },
      { id: "flash-dismiss" },
    ),
  );
}

export function busyView(app: App): HTMLElement {
  const b = app.ui.busy;
  return h(
    "div",
    { id: "busy", class: `busy${b ? " on" : ""}`, role: "status", "aria-live": "polite" },
    b
      ? [
          h("span", { class: "spinner", "aria-hidden": "true" }),
          h("span", { class: "busy-label" }, `${b.label}…`),
          h("span", { id: "busy-elapsed", class: "busy-elapsed" }, `${((Date.now() - b.started) / 1000).toFixed(0)} s`),
          b.hint ? h("span", { class: "busy-hint" }, b.hint) : null,
        ]
      : null,
  );
}

export function hashBlock(label: string, hex: string | null, opts: { large?: boolean; id?: string } = {}): HTMLElement {
  return h(
    "div",
    { class: `hash${opts.large ? " large" : ""}`, ...(opts.id ? { id: opts.id } : {}) },
    h("span", { class: "hash-label" }, label),
    h("code", { class: "hash-value" }, hex ? groupHex(hex) : "—"),
  );
}

const KIND_TITLE: Record<TbsView["kind"], string> = {
  certificate: "Certificate to be signed",
  crl: "Certificate revocation list to be signed",
  csr: "Certificate request to be signed",
};

/** The decoded to-be-signed structure in large type, and the SHA-256 approvals bind to. */
export function tbsCard(tbs: TbsView, headingId: string): HTMLElement {
  return h(
    "section",
    { class: "tbs", "aria-labelledby": headingId },
    h("h3", { id: headingId }, KIND_TITLE[tbs.kind]),
    h(
      "dl",
      { class: "tbs-lines" },
      tbs.lines.map((l) => [
        h("dt", null, l.label, l.critical ? h("span", { class: "critical" }, " critical") : null),
        h("dd", null, l.value),
      ]),
    ),
    hashBlock("SHA-256 of the exact bytes to be signed", tbs.sha256, { large: true }),
  );
}

function yesNo(v: boolean): HTMLElement {
  return h("span", { class: v ? "yes" : "no" }, v ? "yes" : "no");
}

/** What the HSM itself says about the keys a step made or used. */
export function keyAttributesTable(keys: KeyAttributesView[]): HTMLElement {
  return h(
    "table",
    { class: "keys" },
    h("caption", null, "Key attributes read back from the HSM"),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ["Key", "Type", "Never extractable", "Extractable", "Sensitive", "Always sensitive", "Made on the token"].map(
          (c) => h("th", { scope: "col" }, c),
        ),
      ),
    ),
    h(
      "tbody",
      null,
      keys.map((k) =>
        h(
          "tr",
          null,
          h("th", { scope: "row" }, k.label),
          h("td", null, k.keyType),
          h("td", null, k.neverExtractable ? h("strong", { class: "yes" }, "NEVER EXTRACTABLE") : yesNo(false)),
          h("td", null, k.extractable ? h("span", { class: "warn" }, "yes (wrapped backup only)") : yesNo(false)),
          h("td", null, yesNo(k.sensitive)),
          h("td", null, yesNo(k.alwaysSensitive)),
          h("td", null, yesNo(k.local)),
        ),
      ),
    ),
  );
}

export function checkList(title: string, checks: CheckView[]): HTMLElement | null {
  if (!checks.length) return null;
  return h(
    "div",
    { class: "checks" },
    h("h4", null, title),
    h(
      "ul",
      null,
      checks.map((c) =>
        h(
          "li",
          { class: c.ok ? "ok" : "bad" },
          h("span", { class: "mark", "aria-hidden": "true" }, c.ok ? "✓" : "✗"),
          h("strong", null, c.name),
          ` — ${c.detail}`,
        ),
      ),
    ),
  );
}

export function section(id: string, title: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}
