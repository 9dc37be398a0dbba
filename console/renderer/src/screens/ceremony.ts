// The ceremony walk-through: the steps in order; for the current one what will happen, the decoded
// certificate or CRL in large type with the SHA-256 approvals bind to, the quorum and its live
// evaluation, approvals and shares made on officers' own tokens, execution with progress, the result
// with the HSM's key attributes, failures with the witness's exception; then closing and sealing.
import type { CeremonyView, Role, StepView } from "../../../common/views.js";
import { ROLE_TITLES } from "../../../common/views.js";
import type { App } from "../app.js";
import { formatTime, h } from "../dom.js";
import {
  badge,
  button,
  checkList,
  hashBlock,
  keyAttributesTable,
  section,
  selectField,
  takeTokenPin,
  tbsCard,
  textField,
  tokenPinFields,
} from "../widgets.js";

const HINTS: Record<string, string> = {
  "key.generate": "The key is generated inside the HSM. RSA-4096 takes seconds to minutes; P-384 is quick.",
  "token.init": "Initialising the token, making its checkpoint key and splitting its PIN among the officers.",
  "token.unlock": "Rebuilding the PIN from the opened shares and logging in.",
  "cert.root": "Signing inside the HSM, then checking the signature.",
  "cert.subca": "Signing inside the HSM, then checking the signature.",
  "cert.cross": "Signing inside the HSM, then checking the signature.",
  "crl.issue": "Signing inside the HSM, then checking the signature.",
  "backup.wrap": "Wrapping the key inside the HSM and splitting the key-encryption key.",
};

function tokenOf(app: App, person: string): string | undefined {
  return app.ui.state?.registry.participants.find((p) => p.id === person)?.tokenLabel;
}

function setCeremony(app: App, c: CeremonyView): void {
  app.ui.state = { ...app.ui.state!, ceremony: c };
}

function stepList(app: App, c: CeremonyView, selected: StepView): HTMLElement {
  return h(
    "nav",
    { class: "steps", "aria-label": "Steps of the ceremony" },
    h(
      "ol",
      null,
      c.steps.map((s) =>
        h(
          "li",
          null,
          h(
            "button",
            {
              id: `step-${s.id}`,
              type: "button",
              class: `step-link s-${s.status}${s.id === selected.id ? " selected" : ""}`,
              "aria-current": s.id === selected.id ? "step" : "false",
              onClick: () => {
                app.ui.selectedStep = s.id;
                app.render();
              },
            },
            h("span", { class: "step-no" }, String(s.index + 1)),
            h("span", { class: "step-title" }, s.title),
            badge(s.status),
          ),
        ),
      ),
    ),
  );
}

function quorumView(s: StepView): HTMLElement {
  const approvedBy = new Map(s.approvals.map((a) => [a.person, a]));
  return h(
    "section",
    { class: "quorum", "aria-labelledby": `h-quorum-${s.id}` },
    h("h3", { id: `h-quorum-${s.id}` }, "Who must approve"),
    h("p", { class: "expr" }, h("code", null, s.requires.expression)),
    h("p", null, s.requires.description),
    h(
      "table",
      { class: "approvers" },
      h("caption", null, "Eligible approvers"),
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ["Person", "May approve as", "Approval"].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        null,
        s.requires.eligible.map((e) => {
          const a = approvedBy.get(e.person);
          return h(
            "tr",
            { class: a ? "approved" : "" },
            h("th", { scope: "row" }, e.name),
            h("td", null, e.roles.map((r) => ROLE_TITLES[r]).join(", ")),
            h(
              "td",
              null,
              a
                ? [badge("done", "approved"), ` as ${ROLE_TITLES[a.role]} at ${formatTime(a.time).slice(11)}`]
                : badge("waiting", "not yet"),
            ),
          );
        }),
      ),
    ),
    h(
      "div",
      { id: `quorum-status-${s.id}`, class: `quorum-status ${s.quorum.satisfied ? "met" : "unmet"}`, role: "status" },
      s.quorum.satisfied
        ? h("strong", null, "✓ Quorum met")
        : [h("strong", null, "Still needed: "), s.quorum.unmet.join("; ")],
    ),
    s.rejections.length
      ? h(
          "div",
          { class: "rejections" },
          h("h4", null, "Refused approvals"),
          h(
            "ul",
            null,
            s.rejections.map((r) =>
              h(
                "li",
                null,
                `${formatTime(r.time).slice(11)} — ${r.person ?? "unknown"}: `,
                h("strong", null, r.reason),
                ` (${r.detail})`,
              ),
            ),
          ),
        )
      : null,
  );
}

function approvalForm(app: App, s: StepView): HTMLElement | null {
  const st = app.ui.state!;
  const c = st.ceremony!;
  const done = new Set(s.approvals.map((a) => a.person));
  const candidates = s.requires.eligible.filter((e) => !done.has(e.person));
  if (!candidates.length) return null;
  const form = `approve-${s.id}`;
  const present = new Set(c.participants.filter((p) => p.present).map((p) => p.id));
  const fallback = candidates.find((e) => present.has(e.person))?.person ?? candidates[0]!.person;
  const person = app.field(form, "person", fallback);
  const who = candidates.find((e) => e.person === person) ?? candidates[0]!;
  const approve = () => {
    const role = app.field(form, "role") as Role;
    const tp = takeTokenPin(app, form);
    void app.act(`${who.name} signs the approval on token ${tp.tokenLabel}`, async () => {
      const r = await app.api.approveStep({ stepId: s.id, person: who.person, role, ...tp });
      setCeremony(app, r.ceremony);
      if (!r.accepted) app.flash("error", "The approval was refused", `${r.reason}: ${r.detail}`);
      else app.flash("ok", "Approval accepted", `${who.name} approved as ${ROLE_TITLES[role]}.`);
    });
  };
  return h(
    "section",
    { class: "approve", "aria-labelledby": `h-approve-${s.id}` },
    h("h3", { id: `h-approve-${s.id}` }, "Approve with your token"),
    h(
      "p",
      { class: "lead" },
      s.quorum.satisfied
        ? "The quorum is met: further approvals are recorded too, but the step does not need them."
        : "Your token signs a statement naming this ceremony, this step, the hash of its inputs and the SHA-256 above. The engine signs nothing else.",
    ),
    h(
      "div",
      { class: "form-row" },
      selectField(
        app,
        form,
        "person",
        "Approver",
        candidates.map((e) => ({
          value: e.person,
          label: `${e.name}${present.has(e.person) ? "" : " (not checked in)"}`,
        })),
        { fallback, clears: ["token", "pin", "role"] },
      ),
      selectField(
        app,
        form,
        "role",
        "As",
        who.roles.map((r) => ({ value: r, label: ROLE_TITLES[r] })),
      ),
      ...tokenPinFields(app, form, st.tokens, tokenOf(app, who.person), approve, who.person),
      h(
        "div",
        { class: "actions" },
        button("Approve with my token", approve, { id: `approve-submit-${s.id}`, kind: "primary" }),
      ),
    ),
  );
}

function sharesView(app: App, s: StepView): HTMLElement | null {
  const sh = s.prepared?.shares;
  if (!sh) return null;
  const st = app.ui.state!;
  const names = new Map(st.registry.participants.map((p) => [p.id, p.name]));
  const open = sh.holders.filter((x) => !sh.contributed.includes(x));
  const form = `share-${s.id}`;
  const person = app.field(form, "person", open[0] ?? "");
  const contribute = () => {
    const tp = takeTokenPin(app, form);
    const p = app.field(form, "person");
    void app.act(
      `${names.get(p) ?? p} opens their share on token ${tp.tokenLabel}`,
      async () => {
        setCeremony(app, await app.api.openShare({ stepId: s.id, person: p, ...tp }));
      },
      { ok: () => "Share opened (it stays in the console's memory only until the step runs)." },
    );
  };
  return h(
    "section",
    { class: "shares", "aria-labelledby": `h-shares-${s.id}` },
    h("h3", { id: `h-shares-${s.id}` }, `Shares: ${sh.contributed.length} of ${sh.threshold} needed are open`),
    h(
      "p",
      { class: "lead" },
      `Purpose: ${sh.purpose}. Each share is encrypted to one holder's token and opened there.`,
    ),
    h(
      "ul",
      { class: "holders" },
      sh.holders.map((x) =>
        h(
          "li",
          null,
          names.get(x) ?? x,
          " ",
          sh.contributed.includes(x) ? badge("done", "opened") : badge("waiting", "not opened"),
        ),
      ),
    ),
    s.status === "collecting" && open.length && sh.contributed.length < sh.holders.length
      ? h(
          "div",
          { class: "form-row" },
          selectField(
            app,
            form,
            "person",
            "Share holder",
            open.map((x) => ({ value: x, label: names.get(x) ?? x })),
            { clears: ["token", "pin", "role"] },
          ),
          ...tokenPinFields(app, form, st.tokens, tokenOf(app, person), contribute, person),
          h(
            "div",
            { class: "actions" },
            button("Open my share on my token", contribute, { id: `share-submit-${s.id}` }),
          ),
        )
      : null,
  );
}

function exceptionForm(app: App, s: StepView): HTMLElement {
  const st = app.ui.state!;
  const c = st.ceremony!;
  const witnesses = c.participants.filter((p) => p.roles.includes("witness"));
  const form = `exception-${s.id}`;
  const person = app.field(form, "person", witnesses[0]?.id ?? "");
  const record = () => {
    const note = app.field(form, "note");
    const tp = takeTokenPin(app, form);
    void app.act(
      "Recording the witness's exception",
      async () => {
        setCeremony(
          app,
          await app.api.recordException({ stepId: s.id, person: app.field(form, "person"), note, ...tp }),
        );
        app.clearField(form, "note");
      },
      { ok: () => "The exception is in the transcript, signed by the witness." },
    );
  };
  const noteId = `${form}-note`;
  return h(
    "div",
    { class: "exception-form" },
    h("h4", null, "Witness: record an exception"),
    h(
      "div",
      { class: "form-row" },
      selectField(
        app,
        form,
        "person",
        "Witness",
        witnesses.map((w) => ({ value: w.id, label: w.name })),
        { clears: ["token", "pin", "role"] },
      ),
      h(
        "div",
        { class: "field wide" },
        h("label", { for: noteId }, "What happened and what was decided"),
        h("textarea", {
          id: noteId,
          rows: "3",
          value: app.field(form, "note"),
          onInput: (e: Event) => app.setField(form, "note", (e.target as HTMLTextAreaElement).value),
        }),
      ),
      ...tokenPinFields(app, form, st.tokens, tokenOf(app, person), record, person),
      h(
        "div",
        { class: "actions" },
        button("Record exception", record, { id: `exception-submit-${s.id}`, kind: "danger" }),
      ),
    ),
  );
}

function stepDetail(app: App, c: CeremonyView, s: StepView): HTMLElement {
  const p = s.prepared;
  const running = c.phase === "running";
  const prepare = () =>
    void app.act(`Preparing step ${s.index + 1}: building the exact bytes and running the checks`, async () => {
      setCeremony(app, await app.api.prepareStep({ stepId: s.id }));
    });
  const sharesReady = !p?.shares || p.shares.contributed.length >= p.shares.threshold;
  const canRun = s.status === "collecting" && s.quorum.satisfied && sharesReady;
  const execute = () =>
    void app.act(
      `Running step ${s.index + 1}: ${s.title}`,
      async () => {
        setCeremony(app, await app.api.executeStep({ stepId: s.id }));
      },
      { hint: HINTS[s.action] ?? "Working in the HSM." },
    );
  const whyId = `run-why-${s.id}`;
  return h(
    "article",
    { class: "step-detail", "aria-labelledby": `h-step-${s.id}` },
    h(
      "header",
      null,
      h("h2", { id: `h-step-${s.id}` }, `Step ${s.index + 1} of ${c.steps.length}: ${s.title}`),
      badge(s.status),
      h("p", { class: "meta" }, h("code", null, s.action), ` · step id `, h("code", null, s.id)),
    ),
    h(
      "section",
      { class: "plan" },
      h("h3", null, "What will happen"),
      h(
        "ul",
        null,
        s.plan.map((x) => h("li", null, x)),
      ),
    ),
    s.status === "waiting" ? h("p", { class: "hint" }, "This step waits for the previous steps.") : null,
    s.failure
      ? h(
          "section",
          { class: "failure", "aria-labelledby": `h-fail-${s.id}` },
          h("h3", { id: `h-fail-${s.id}` }, s.status === "failed" ? "This step failed" : "This step was refused"),
          h("p", null, h("strong", null, `${s.failure.kind}: `), s.failure.message),
          s.exceptions.length
            ? h(
                "ul",
                { class: "exceptions" },
                s.exceptions.map((x) =>
                  h("li", null, `${formatTime(x.time)} — exception recorded by ${x.name}: “${x.note}” (${x.input})`),
                ),
              )
            : null,
          running ? exceptionForm(app, s) : null,
        )
      : null,
    s.status === "ready" && running
      ? h(
          "div",
          { class: "actions" },
          button(s.failure ? "Prepare again" : "Prepare this step", prepare, {
            id: `prepare-${s.id}`,
            kind: "primary",
          }),
          h("p", { class: "hint" }, "Builds the exact bytes to be signed and runs every check before any approval."),
        )
      : null,
    p?.tbs ? tbsCard(p.tbs, `h-tbs-${s.id}`) : null,
    p
      ? h(
          "section",
          { class: "inputs" },
          p.tbs
            ? null
            : h(
                "p",
                { class: "hint" },
                "No certificate, CRL or request is signed in this step: approvals bind to its inputs.",
              ),
          hashBlock("SHA-256 of the step's resolved inputs", p.inputsHash),
          h("details", null, h("summary", null, "Resolved inputs"), h("pre", null, p.inputs)),
          p.proposers.length
            ? h("p", null, `Supplied by ${p.proposers.join(", ")} (they cannot approve this step).`)
            : null,
        )
      : null,
    p ? checkList("Checks before signing (all passed)", p.checks) : null,
    p || s.status === "ready" || s.status === "waiting" ? quorumView(s) : null,
    s.status === "collecting" && running ? approvalForm(app, s) : null,
    sharesView(app, s),
    s.status === "collecting" && running
      ? h(
          "div",
          { class: "actions run" },
          button("Run this step", execute, {
            id: `execute-${s.id}`,
            kind: "primary",
            disabled: !canRun,
            describedBy: whyId,
          }),
          h(
            "p",
            { id: whyId, class: canRun ? "hint" : "hint blocked" },
            canRun
              ? "The quorum is met. Running asks the HSM to sign only the bytes approved above."
              : !s.quorum.satisfied
                ? `Blocked: the approvals do not meet "${s.requires.expression}" yet (${s.quorum.unmet.join("; ")}).`
                : `Blocked: ${p?.shares?.contributed.length ?? 0} of ${p?.shares?.threshold ?? 0} shares are open.`,
          ),
        )
      : null,
    s.result
      ? h(
          "section",
          { class: "result", "aria-labelledby": `h-result-${s.id}` },
          h("h3", { id: `h-result-${s.id}` }, "Result"),
          s.result.keyAttributes.length ? keyAttributesTable(s.result.keyAttributes) : null,
          checkList("Checks after signing", s.result.checks),
          s.result.outputs.length
            ? h(
                "table",
                { class: "outputs" },
                h("caption", null, "Files written to the evidence bundle"),
                h(
                  "thead",
                  null,
                  h("tr", null, h("th", { scope: "col" }, "File"), h("th", { scope: "col" }, "SHA-256")),
                ),
                h(
                  "tbody",
                  null,
                  s.result.outputs.map((o) =>
                    h("tr", null, h("th", { scope: "row" }, o.path), h("td", null, h("code", null, o.sha256))),
                  ),
                ),
              )
            : null,
          h("details", null, h("summary", null, "Summary"), h("pre", null, s.result.summary)),
        )
      : null,
  );
}

function inputsSection(app: App, c: CeremonyView): HTMLElement | null {
  if (!c.inputs.length) return null;
  const form = "input";
  const provide = () => {
    const name = app.field(form, "name");
    void app.act(`Reading input ${name}`, async () => {
      setCeremony(
        app,
        await app.api.provideInput({ name, person: app.field(form, "person"), path: app.field(form, "path").trim() }),
      );
    });
  };
  const open = c.inputs.filter((i) => !i.provided);
  return section(
    "h-inputs",
    "Documents supplied during the ceremony",
    h(
      "ul",
      null,
      c.inputs.map((i) =>
        h(
          "li",
          null,
          h("code", null, i.name),
          " ",
          i.provided
            ? [badge("done", "supplied"), ` by ${i.provided.person}, SHA-256 ${i.provided.sha256}`]
            : badge("waiting", "not yet"),
        ),
      ),
    ),
    open.length && c.phase === "running"
      ? h(
          "div",
          { class: "form-row" },
          selectField(
            app,
            form,
            "name",
            "Input",
            open.map((i) => ({ value: i.name, label: i.name })),
          ),
          selectField(
            app,
            form,
            "person",
            "Supplied by",
            c.participants.map((p) => ({ value: p.id, label: p.name })),
          ),
          textField(app, form, "path", "File (absolute path)", {
            wide: true,
            placeholder: "/media/officer/usb/subca.csr",
          }),
          h(
            "div",
            { class: "actions" },
            app.mode === "electron"
              ? button(
                  "Choose…",
                  () =>
                    void app.act("Choosing the file", async () => {
                      const r = await app.api.chooseDirectory({ purpose: "input" });
                      if (r.path) app.setField(form, "path", r.path);
                    }),
                  { id: "input-choose" },
                )
              : null,
            button("Supply", provide, { id: "input-submit" }),
          ),
        )
      : null,
  );
}

function closingSection(app: App, c: CeremonyView): HTMLElement {
  const st = app.ui.state!;
  const allDone = c.steps.every((s) => s.status === "done");
  if (c.phase === "running") {
    const finish = () =>
      void app.act("Closing the ceremony: final checkpoint signed in the HSM", async () => {
        setCeremony(app, await app.api.finishCeremony({ note: app.field("finish", "note") }));
      });
    const content = [
      h(
        "p",
        { class: allDone ? "lead" : "lead warn" },
        allDone
          ? "Every step is done. Closing appends the final transcript entry and a checkpoint signed by the ceremony-log key."
          : "Not every step is done. Closing now ends the ceremony as incomplete; the transcript says so.",
      ),
      h("div", { class: "form-row" }, textField(app, "finish", "note", "Closing note (optional)", { wide: true })),
      h(
        "div",
        { class: "actions" },
        button(allDone ? "Close the ceremony" : "Close the ceremony as incomplete", finish, {
          id: "finish-submit",
          kind: allDone ? "primary" : "danger",
        }),
      ),
    ];
    const troubled = c.steps.some((s) => s.failure !== null);
    if (allDone || troubled) return section("h-close", "Close the ceremony", ...content);
    // mid-ceremony, ending early is there but out of the way
    return h(
      "details",
      {
        class: "card close-early",
        open: app.field("finish", "open") === "1",
        onToggle: (e: Event) => app.setField("finish", "open", (e.target as HTMLDetailsElement).open ? "1" : ""),
      },
      h("summary", { id: "close-early" }, "End the ceremony early…"),
      ...content,
    );
  }
  const f = c.final!;
  const cosigned = new Set(f.cosigned.map((x) => x.person));
  const open = f.needed.filter((n) => !cosigned.has(n.person));
  const form = "cosign";
  const person = app.field(form, "person", open[0]?.person ?? "");
  const who = open.find((n) => n.person === person) ?? open[0];
  const cosign = () => {
    if (!who) return;
    const tp = takeTokenPin(app, form);
    void app.act(`${who.name} cosigns the final checkpoint`, async () => {
      setCeremony(app, await app.api.cosign({ person: who.person, role: who.role as "witness" | "auditor", ...tp }));
    });
  };
  const seal = () =>
    void app.act(
      "Sealing the evidence bundle",
      async () => {
        setCeremony(app, await app.api.sealCeremony({}));
      },
      { ok: () => "The evidence bundle is sealed. Export it from the Evidence screen." },
    );
  return section(
    "h-close",
    c.phase === "sealed" ? "Sealed" : "Cosign and seal",
    hashBlock(`Final checkpoint: ${f.size} transcript entries, head`, f.head),
    h(
      "ul",
      { class: "holders" },
      f.needed.map((n) =>
        h(
          "li",
          null,
          `${n.name} (${ROLE_TITLES[n.role]}) `,
          cosigned.has(n.person) ? badge("done", "cosigned") : badge("waiting", "not yet"),
        ),
      ),
    ),
    c.phase === "finished" && who
      ? h(
          "div",
          { class: "form-row" },
          selectField(
            app,
            form,
            "person",
            "Cosigner",
            open.map((n) => ({ value: n.person, label: `${n.name} (${ROLE_TITLES[n.role]})` })),
            { clears: ["token", "pin", "role"] },
          ),
          ...tokenPinFields(app, form, st.tokens, tokenOf(app, who.person), cosign, who.person),
          h(
            "div",
            { class: "actions" },
            button("Cosign with my token", cosign, { id: "cosign-submit", kind: "primary" }),
          ),
        )
      : null,
    c.phase === "finished"
      ? h(
          "div",
          { class: "actions" },
          button("Seal the evidence bundle", seal, {
            id: "seal-submit",
            kind: "primary",
            disabled: open.length > 0,
            describedBy: "seal-why",
          }),
          h(
            "p",
            { id: "seal-why", class: "hint" },
            open.length ? `Waiting for ${open.map((n) => n.name).join(", ")} to cosign.` : "Everyone has cosigned.",
          ),
        )
      : null,
    c.sealed
      ? h(
          "div",
          { class: "sealed" },
          h(
            "p",
            null,
            h("strong", null, c.sealed.completed ? "✓ Complete ceremony, sealed." : "Incomplete ceremony, sealed."),
            ` Bundle: `,
            h("code", null, c.sealed.dir),
          ),
          h(
            "div",
            { class: "actions" },
            button("Export the evidence bundle", () => app.go("evidence"), { id: "goto-evidence", kind: "primary" }),
            button(
              "Dismiss this ceremony",
              () => {
                void app.act("Dismissing the sealed ceremony", async () => {
                  app.ui.state = await app.api.dismissCeremony({});
                });
              },
              { id: "dismiss-ceremony" },
            ),
          ),
        )
      : null,
  );
}

function transcriptSection(c: CeremonyView): HTMLElement {
  return h(
    "details",
    { class: "card transcript" },
    h("summary", null, `Transcript: ${c.transcriptSize} entries (latest shown)`),
    h(
      "table",
      null,
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ["#", "Time", "Who", "Action", "Step"].map((x) => h("th", { scope: "col" }, x)),
        ),
      ),
      h(
        "tbody",
        null,
        c.transcript.map((e) =>
          h(
            "tr",
            null,
            h("td", null, String(e.seq)),
            h("td", null, formatTime(e.time)),
            h("td", null, `${e.person} (${e.role})`),
            h("td", null, e.action),
            h("td", null, e.step ?? "—"),
          ),
        ),
      ),
    ),
  );
}

export function ceremonyScreen(app: App): HTMLElement[] {
  const c = app.ui.state!.ceremony;
  if (!c)
    return [
      section(
        "h-noceremony",
        "No ceremony is open",
        h("p", null, "Start one from a reviewed, signed script."),
        button("Go to scripts", () => app.go("scripts"), { id: "goto-scripts", kind: "primary" }),
      ),
    ];
  const current = c.steps.find((s) => s.status !== "done") ?? c.steps[c.steps.length - 1]!;
  const selected = c.steps.find((s) => s.id === app.ui.selectedStep) ?? current;
  const absent = c.participants.filter((p) => !p.present);
  return [
    h(
      "section",
      { class: "card ceremony-head", "aria-labelledby": "h-ceremony" },
      h("h2", { id: "h-ceremony" }, c.title),
      h("p", { class: "meta" }, `Ceremony ${c.ceremonyId} · ${c.phase} · bundle `, h("code", null, c.bundleDir)),
      hashBlock("Script SHA-256", c.scriptHash),
      h(
        "ul",
        { class: "chips", "aria-label": "Participants" },
        c.participants.map((p) =>
          h(
            "li",
            { class: p.present ? "chip present" : "chip absent" },
            `${p.name} — ${p.roles.map((r) => ROLE_TITLES[r]).join(", ")}${p.present ? "" : " (not checked in)"}`,
          ),
        ),
      ),
      absent.length
        ? h(
            "p",
            { class: "hint" },
            `Not checked in: ${absent.map((p) => p.name).join(", ")}. Check in on the Officers screen.`,
          )
        : null,
    ),
    h("div", { class: "walk" }, stepList(app, c, selected), stepDetail(app, c, selected)),
    inputsSection(app, c),
    closingSection(app, c),
    transcriptSection(c),
  ].filter((x): x is HTMLElement => x !== null);
}
