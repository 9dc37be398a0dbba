// Evidence: export the sealed bundle to removable media (the copy is verified again there) and verify
// any bundle offline, naming the first thing wrong.
import type { VerifyView } from "../../../common/views.js";
import type { App } from "../app.js";
import { h } from "../dom.js";
import { badge, button, hashBlock, section, selectField, textField } from "../widgets.js";

export function verifyResult(v: VerifyView, id: string): HTMLElement {
  return h(
    "div",
    { id, class: `verify ${v.ok ? "ok" : "bad"}`, role: "status" },
    h("p", { class: "verdict" }, v.ok ? "✓ The bundle verifies" : "✗ The bundle does NOT verify"),
    v.problem ? h("p", { class: "problem" }, h("strong", null, "First problem: "), v.problem) : null,
    h("p", null, h("code", null, v.path)),
    h(
      "p",
      { class: "hint" },
      v.pins.registryHash || v.pins.logKeyId
        ? `Checked against the pinned ${[v.pins.registryHash ? "registry" : null, v.pins.logKeyId ? "ceremony-log key" : null].filter(Boolean).join(" and ")}.`
        : "Checked against itself only: pin the registry hash and the ceremony-log key recorded at the bootstrap ceremony for a full check.",
    ),
    v.ceremonyId
      ? h(
          "p",
          null,
          `Ceremony ${v.ceremonyId} · ${v.entries ?? "?"} transcript entries · ${v.completed ? "complete" : "incomplete"}`,
        )
      : null,
    v.scriptHash ? hashBlock("Script SHA-256", v.scriptHash) : null,
    v.head ? hashBlock("Transcript head", v.head) : null,
    v.steps.length
      ? h(
          "table",
          { class: "vsteps" },
          h("caption", null, "Steps as the verifier sees them"),
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ["Step", "Action", "Executed", "Approved by"].map((x) => h("th", { scope: "col" }, x)),
            ),
          ),
          h(
            "tbody",
            null,
            v.steps.map((s) =>
              h(
                "tr",
                null,
                h("th", { scope: "row" }, s.id),
                h("td", null, s.action),
                h("td", null, s.executed ? badge("done", "yes") : badge("waiting", "no")),
                h("td", null, s.approvedBy.join(", ") || "—"),
              ),
            ),
          ),
        )
      : null,
    v.checked.length
      ? h(
          "details",
          null,
          h("summary", null, `What was checked (${v.checked.length})`),
          h(
            "ul",
            null,
            v.checked.map((c) => h("li", null, c)),
          ),
        )
      : null,
  );
}

export function evidenceScreen(app: App): HTMLElement[] {
  const st = app.ui.state!;
  const c = st.ceremony;
  const exportTo = () => {
    const typed = app.field("export", "path").trim();
    const destination = typed || app.field("export", "media");
    void app.act(
      `Copying the evidence bundle to ${destination} and verifying the copy`,
      async () => {
        const r = await app.api.exportBundle({ destination });
        app.ui.lastExport = r;
        return r;
      },
      {
        ok: (e) =>
          e.verify.ok
            ? `Exported to ${e.path}; the copy verifies.`
            : `Exported to ${e.path}, but the copy does NOT verify: ${e.verify.problem}`,
      },
    );
  };
  const choose = (purpose: "export" | "verify", form: string) =>
    void app.act("Choosing a directory", async () => {
      const r = await app.api.chooseDirectory({ purpose });
      if (r.path) app.setField(form, "path", r.path);
      else if (r.note) app.flash("info", "Type the path", r.note);
    });
  const verify = () => {
    const path = app.field("verify", "path").trim();
    const registryHash = app.field("verify", "registryHash").trim().toLowerCase();
    const logKeyId = app.field("verify", "logKeyId").trim().toLowerCase();
    void app.act(`Verifying ${path}`, async () => {
      app.ui.lastVerify = await app.api.verifyBundle({
        path,
        ...(registryHash ? { registryHash } : {}),
        ...(logKeyId ? { logKeyId } : {}),
      });
    });
  };
  const e = app.ui.lastExport;
  return [
    section(
      "h-export",
      "Export the evidence bundle",
      c?.sealed
        ? [
            h(
              "p",
              { class: "lead" },
              "The sealed bundle is copied into a new directory on the medium; nothing is overwritten. The copy is verified again on the medium.",
            ),
            h("p", null, "Bundle: ", h("code", null, c.sealed.dir)),
            h(
              "div",
              { class: "form-row" },
              st.media.length
                ? selectField(
                    app,
                    "export",
                    "media",
                    "Removable medium",
                    st.media.map((m) => ({ value: m, label: m })),
                  )
                : h(
                    "p",
                    { class: "hint" },
                    "No removable medium is mounted under /media or /run/media: type the directory.",
                  ),
              textField(app, "export", "path", "Or a directory (absolute path)", { wide: true, onEnter: exportTo }),
              h(
                "div",
                { class: "actions" },
                st.mode === "electron"
                  ? button("Choose…", () => choose("export", "export"), { id: "export-choose" })
                  : null,
                button("Export and verify the copy", exportTo, { id: "export-submit", kind: "primary" }),
              ),
            ),
          ]
        : h("p", { class: "hint" }, "Nothing to export yet: a ceremony's bundle can be exported once it is sealed."),
      e
        ? h(
            "div",
            { class: "export-result" },
            h(
              "p",
              null,
              h("strong", null, "Exported: "),
              h("code", null, e.path),
              ` — ${e.files} files, ${e.bytes} bytes`,
            ),
            verifyResult(e.verify, "export-verify"),
          )
        : null,
    ),
    section(
      "h-verify",
      "Verify a bundle",
      h(
        "p",
        { class: "lead" },
        "Checks registry proofs, script signatures, the transcript chain, checkpoints and cosignatures, every file's hash, the quorum of every step and the signed certificates. Offline; no HSM needed.",
      ),
      h(
        "div",
        { class: "form-row" },
        textField(app, "verify", "path", "Bundle directory (absolute path)", { wide: true, onEnter: verify }),
      ),
      h(
        "div",
        { class: "form-row" },
        textField(app, "verify", "registryHash", "Pin: registry SHA-256 (optional)", {
          wide: true,
          ...(st.registry.hash ? { hint: `This console's registry: ${st.registry.hash}` } : {}),
        }),
        textField(app, "verify", "logKeyId", "Pin: ceremony-log key SHA-256 (optional)", { wide: true }),
        h(
          "div",
          { class: "actions" },
          st.mode === "electron" ? button("Choose…", () => choose("verify", "verify"), { id: "verify-choose" }) : null,
          button("Verify", verify, { id: "verify-submit", kind: "primary" }),
        ),
      ),
      app.ui.lastVerify ? verifyResult(app.ui.lastVerify, "verify-result") : null,
    ),
  ];
}
