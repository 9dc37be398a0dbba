// Scripts: reviewed ceremony scripts with their hash, the author's and reviewers' signatures (checked
// against the registry), the dry run reviewers signed, signing on one's token, and starting the day.
import type { ScriptPackageView } from "../../../common/views.js";
import type { App } from "../app.js";
import { formatTime, h } from "../dom.js";
import { badge, button, hashBlock, section, selectField, takeTokenPin, tokenPinFields } from "../widgets.js";

function dryRunDetails(p: ScriptPackageView): HTMLElement | null {
  if (!p.dryRun) return null;
  return h(
    "details",
    { class: "dry-run" },
    h("summary", null, `Dry run of ${formatTime(p.dryRun.time)} — what the reviewers saw`),
    hashBlock("Dry-run report SHA-256", p.dryRun.hash),
    h(
      "ol",
      null,
      p.dryRun.steps.map((d) =>
        h(
          "li",
          null,
          h("strong", null, d.id),
          ` (${d.action}) `,
          badge(d.status),
          d.note ? h("span", { class: "hint" }, ` ${d.note}`) : null,
          d.tbs
            ? h(
                "dl",
                { class: "mini" },
                d.tbs.lines.map((l) => [h("dt", null, l.label), h("dd", null, l.value)]),
              )
            : null,
        ),
      ),
    ),
  );
}

function packageCard(app: App, p: ScriptPackageView): HTMLElement {
  const st = app.ui.state!;
  const form = `sign-${p.id}`;
  const unsigned = p.signatures.filter((s) => s.status !== "signed");
  const signer = st.registry.participants.find((x) => x.id === app.field(form, "person", unsigned[0]?.person ?? ""));
  const sign = () => {
    const person = app.field(form, "person");
    const tp = takeTokenPin(app, form);
    void app.act(
      `Signing the script and its dry run on token ${tp.tokenLabel}`,
      async () => {
        await app.api.signScript({ packageId: p.id, person, ...tp });
        await app.refresh();
      },
      { ok: () => "Signature recorded." },
    );
  };
  const start = () =>
    void app.act(`Opening ceremony ${p.ceremonyId}`, async () => {
      const c = await app.api.startCeremony({ packageId: p.id });
      app.ui.state = { ...app.ui.state!, ceremony: c };
      app.ui.selectedStep = c.steps[0]?.id ?? null;
      app.ui.screen = "ceremony";
    });
  const dry = () =>
    void app.act(
      "Dry run against throw-away SoftHSM tokens",
      async () => {
        await app.api.dryRunScript({ packageId: p.id });
        await app.refresh();
      },
      { hint: "Every step runs on scratch tokens; key generation can take a while." },
    );
  const headId = `h-pkg-${p.id}`;
  const blockedId = `start-why-${p.id}`;
  const ceremonyOpen = st.ceremony !== null && st.ceremony.phase !== "sealed";
  return h(
    "section",
    { class: "card", "aria-labelledby": headId },
    h("h2", { id: headId }, p.title),
    h("p", { class: "meta" }, `Ceremony ${p.ceremonyId} · package ${p.id} · ${p.steps.length} steps`),
    p.problem ? h("p", { class: "problem", role: "note" }, h("strong", null, "Cannot be used: "), p.problem) : null,
    hashBlock("Script SHA-256", p.scriptHash, { large: true, id: `script-hash-${p.id}` }),
    h(
      "table",
      { class: "sigs" },
      h("caption", null, "Author and reviewer signatures (over the script and its dry-run report)"),
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ["Person", "As", "Status", "When / why"].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        null,
        p.signatures.map((s) =>
          h(
            "tr",
            null,
            h("th", { scope: "row" }, s.name),
            h("td", null, s.capacity),
            h("td", null, badge(s.status)),
            h("td", null, s.detail ?? (s.time ? formatTime(s.time) : "—")),
          ),
        ),
      ),
    ),
    h(
      "details",
      { class: "steps-preview" },
      h("summary", null, "Steps of this script"),
      h(
        "ol",
        null,
        p.steps.map((s) =>
          h("li", null, h("strong", null, s.title), ` — ${s.action}; requires `, h("code", null, s.requires)),
        ),
      ),
    ),
    dryRunDetails(p),
    !p.problem && !p.dryRun
      ? h("div", { class: "actions" }, button("Run the dry run", dry, { id: `dry-${p.id}`, kind: "secondary" }))
      : null,
    !p.problem && p.dryRun && unsigned.length
      ? h(
          "div",
          { class: "form-row" },
          selectField(
            app,
            form,
            "person",
            "Signer",
            unsigned.map((s) => ({ value: s.person, label: `${s.name} (${s.capacity})` })),
            { clears: ["token", "pin", "role"] },
          ),
          ...tokenPinFields(app, form, st.tokens, signer?.tokenLabel, sign, signer?.id),
          h(
            "div",
            { class: "actions" },
            button("Sign script and dry run", sign, { id: `sign-${p.id}`, kind: "primary" }),
          ),
        )
      : null,
    h(
      "div",
      { class: "actions start" },
      button("Start this ceremony", start, {
        id: `start-${p.id}`,
        kind: "primary",
        disabled: !p.ready || ceremonyOpen,
        describedBy: blockedId,
      }),
      h(
        "p",
        { id: blockedId, class: "hint" },
        p.ready
          ? ceremonyOpen
            ? "Another ceremony is open: seal it first."
            : "Signed and dry-run: ready for the day."
          : `Not ready: ${[p.problem, ...p.missing].filter(Boolean).join("; ")}.`,
      ),
    ),
  );
}

export function scriptsScreen(app: App): HTMLElement[] {
  const st = app.ui.state!;
  if (!st.scripts.length)
    return [
      section(
        "h-noscripts",
        "No scripts",
        h("p", null, `Put a reviewed script package (a directory with script.json) into ${st.dataDir}/scripts.`),
      ),
    ];
  return st.scripts.map((p) => packageCard(app, p));
}
