// Inventory: the SubCA's own expiry, CRL and OCSP status, issued certificates on an expiry timeline
// (soonest first) with an accessible table, and revocations that run only after a quorum approved.
import type { CertificateView, InventoryView, RevocationRequestView, Role } from "../../../common/views.js";
import { ROLE_TITLES } from "../../../common/views.js";
import type { App } from "../app.js";
import { formatDate, formatTime, h, s } from "../dom.js";
import { badge, button, hashBlock, section, selectField, takeTokenPin, tokenPinFields } from "../widgets.js";

const DAY = 86400_000;

function urgency(days: number, revoked: boolean): string {
  if (revoked) return "revoked";
  if (days < 0) return "expired";
  if (days <= 7) return "critical";
  if (days <= 30) return "soon";
  return "fine";
}

/** Horizontal bars from today to each certificate's notAfter, soonest first. */
function timeline(inv: InventoryView): SVGElement {
  const certs = inv.certificates.slice(0, 40);
  const now = Date.parse(inv.now);
  const maxDays = Math.max(30, ...certs.map((c) => c.daysLeft), inv.subCa ? Math.min(inv.subCa.daysLeft, 3650) : 0);
  const rowH = 26;
  const labelW = 260;
  const width = 980;
  const plotW = width - labelW - 190;
  const rows = [
    ...(inv.subCa
      ? [
          {
            label: "SubCA (this CA)",
            days: inv.subCa.daysLeft,
            cls: urgency(inv.subCa.daysLeft, false),
            end: inv.subCa.notAfter,
          },
        ]
      : []),
    ...certs.map((c) => ({
      label: (c.identifiers[0] ?? c.serial).replace(/^(dns|ip):/, ""),
      days: c.daysLeft,
      cls: urgency(c.daysLeft, c.revoked !== null),
      end: c.notAfter,
    })),
  ].sort((a, b) => a.days - b.days);
  const height = 40 + rows.length * rowH;
  // a square-root time axis: the next weeks stay readable next to a SubCA that lives for years
  const x = (days: number) => labelW + Math.sqrt(Math.max(0, Math.min(1, days / maxDays))) * plotW;
  const ticks = [0, 7, 30, 90, 365, 730, 1825, 3650].filter((t) => t <= maxDays);
  const summary = rows.length
    ? `Expiry timeline: ${rows.length} certificates; soonest ${rows.find((r) => r.cls !== "revoked")?.label ?? "—"}`
    : "Expiry timeline: no certificates";
  return s(
    "svg",
    { class: "timeline", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": summary, width: "100%" },
    ticks.map((t) => [
      s("line", { x1: x(t), x2: x(t), y1: 20, y2: height - 6, class: t === 0 ? "axis now" : "axis" }),
      s(
        "text",
        { x: x(t), y: 14, class: "tick", "text-anchor": "middle" },
        t === 0 ? "today" : t < 365 ? `${t} d` : `${t / 365} y`,
      ),
    ]),
    s("rect", { x: x(0), y: 20, width: x(30) - x(0), height: height - 26, class: "zone" }),
    rows.map((r, i) => {
      const y = 28 + i * rowH;
      return [
        s(
          "text",
          { x: labelW - 8, y: y + 13, class: "label", "text-anchor": "end" },
          r.label.length > 34 ? `${r.label.slice(0, 33)}…` : r.label,
        ),
        s("rect", { x: x(0), y, width: Math.max(3, x(r.days) - x(0)), height: rowH - 8, rx: 3, class: `bar ${r.cls}` }),
        s(
          "text",
          { x: Math.max(x(r.days), x(0)) + 6, y: y + 13, class: "days" },
          r.cls === "revoked" ? "revoked" : `${r.days} d · ${formatDate(r.end)}`,
        ),
      ];
    }),
    s(
      "title",
      null,
      `${summary}; the shaded zone is the next 30 days (${new Date(now + 30 * DAY).toISOString().slice(0, 10)})`,
    ),
  );
}

function revocationCard(app: App, r: RevocationRequestView): HTMLElement {
  const st = app.ui.state!;
  const form = `rev-${r.id}`;
  const done = new Set(r.approvals.map((a) => a.person));
  const present = new Set(st.registry.participants.filter((p) => p.present).map((p) => p.id));
  const eligible = r.requires.eligible.filter((e) => !done.has(e.person));
  const person = app.field(
    form,
    "person",
    eligible.find((e) => present.has(e.person))?.person ?? eligible[0]?.person ?? "",
  );
  const who = eligible.find((e) => e.person === person) ?? eligible[0];
  const tokenLabel = st.registry.participants.find((p) => p.id === who?.person)?.tokenLabel;
  const approve = () => {
    if (!who) return;
    const role = app.field(form, "role") as Role;
    const tp = takeTokenPin(app, form);
    void app.act(
      `${who.name} approves the revocation on token ${tp.tokenLabel}`,
      async () => {
        app.ui.inventory = await app.api.approveRevocation({ requestId: r.id, person: who.person, role, ...tp });
      },
      { ok: () => `${who.name}'s approval is recorded.` },
    );
  };
  const revoke = () =>
    void app.act(
      `Revoking ${r.serial}: the CA records it and signs a new CRL`,
      async () => {
        app.ui.inventory = await app.api.executeRevocation({ requestId: r.id });
      },
      { ok: () => `Certificate ${r.serial} is revoked; CRL and OCSP say so now.` },
    );
  const cancel = () =>
    void app.act("Cancelling the revocation request", async () => {
      app.ui.inventory = await app.api.cancelRevocation({ requestId: r.id });
    });
  const why = `rev-why-${r.id}`;
  return h(
    "section",
    { class: "card revocation", "aria-labelledby": `h-${form}` },
    h("h3", { id: `h-${form}` }, `Revoke ${r.serial} (${r.reason})`, " ", badge(r.status)),
    h("p", null, "Requires ", h("code", null, r.requires.expression), ` — ${r.requires.description}`),
    h(
      "ul",
      { class: "holders" },
      r.approvals.map((a) =>
        h("li", null, `${a.name} approved as ${ROLE_TITLES[a.role]} at ${formatTime(a.time).slice(11)}`),
      ),
    ),
    h(
      "div",
      { id: `rev-quorum-${r.id}`, class: `quorum-status ${r.quorum.satisfied ? "met" : "unmet"}`, role: "status" },
      r.quorum.satisfied
        ? h("strong", null, "✓ Quorum met")
        : [h("strong", null, "Still needed: "), r.quorum.unmet.join("; ")],
    ),
    r.status === "collecting" && who
      ? h(
          "div",
          { class: "form-row" },
          selectField(
            app,
            form,
            "person",
            "Approver",
            eligible.map((e) => ({
              value: e.person,
              label: `${e.name}${present.has(e.person) ? "" : " (not checked in)"}`,
            })),
            { clears: ["token", "pin", "role"] },
          ),
          selectField(
            app,
            form,
            "role",
            "As",
            who.roles.map((x) => ({ value: x, label: ROLE_TITLES[x] })),
          ),
          ...tokenPinFields(app, form, st.tokens, tokenLabel, approve, who.person),
          h(
            "div",
            { class: "actions" },
            button("Approve revocation with my token", approve, { id: `rev-approve-${r.id}`, kind: "primary" }),
          ),
        )
      : null,
    r.status === "collecting"
      ? h(
          "div",
          { class: "actions" },
          button("Revoke now", revoke, {
            id: `rev-execute-${r.id}`,
            kind: "danger",
            disabled: !r.quorum.satisfied,
            describedBy: why,
          }),
          button("Cancel request", cancel, { id: `rev-cancel-${r.id}` }),
          h(
            "p",
            { id: why, class: r.quorum.satisfied ? "hint" : "hint blocked" },
            r.quorum.satisfied ? "The approvals are complete." : "Blocked until the quorum has approved.",
          ),
        )
      : null,
  );
}

function certRow(app: App, inv: InventoryView, c: CertificateView): HTMLElement {
  const form = `req-${c.serial}`;
  const request = () =>
    void app.act(`Requesting revocation of ${c.serial}`, async () => {
      app.ui.inventory = await app.api.requestRevocation({
        serial: c.serial,
        reason: app.field(form, "reason", "unspecified"),
      });
    });
  const pending = inv.revocations.some((r) => r.serial === c.serial && r.status === "collecting");
  const u = urgency(c.daysLeft, c.revoked !== null);
  return h(
    "tr",
    { class: c.revoked ? "u-revoked" : "" },
    h("th", { scope: "row" }, h("code", null, c.serial)),
    h("td", null, c.identifiers.map((i) => i.replace(/^(dns|ip):/, "")).join(", ")),
    h("td", { class: "nowrap" }, c.profile),
    h("td", { class: "nowrap" }, formatDate(c.notAfter)),
    h("td", { class: `nowrap left u-${u}` }, c.revoked ? "—" : `${c.daysLeft} d`),
    h("td", null, badge(c.ocsp)),
    h(
      "td",
      null,
      !c.revoked && !pending && inv.source?.canRevoke
        ? h(
            "div",
            { class: "row-actions" },
            selectField(
              app,
              form,
              "reason",
              `Reason for ${c.serial}`,
              inv.reasons.map((r) => ({ value: r, label: r })),
              { onChange: () => undefined },
            ),
            button("Request revocation", request, { id: `req-${c.serial}`, small: true }),
          )
        : c.revoked
          ? `revoked ${formatDate(c.revoked.at)} (${c.revoked.reason})`
          : pending
            ? "approval pending"
            : "",
    ),
  );
}

export function inventoryScreen(app: App): HTMLElement[] {
  const inv = app.ui.inventory;
  if (!inv) return [section("h-inv", "Inventory", h("p", null, "Reading the inventory…"))];
  if (!inv.source)
    return [
      section(
        "h-inv",
        "Inventory",
        h("p", null, "The console was started without the appliance's store (--appliance-db)."),
      ),
    ];
  const sub = inv.subCa;
  return [
    h(
      "div",
      { class: "cards3" },
      section(
        "h-subca",
        "This SubCA",
        sub
          ? [
              h("p", { class: `big u-${urgency(sub.daysLeft, false)}` }, `${sub.daysLeft} days left`),
              h("p", null, `Expires ${formatTime(sub.notAfter)}`),
              h("p", { class: "meta" }, sub.subject),
              h("p", { class: "meta" }, `issued by ${sub.issuer}`),
              hashBlock("Certificate SHA-256", sub.sha256),
            ]
          : h("p", { class: "hint" }, "The SubCA certificate is unknown (start the console with --appliance-config)."),
      ),
      section(
        "h-crl",
        "CRL",
        inv.crl
          ? [
              h("p", { class: `big ${inv.crl.fresh ? "u-fine" : "u-critical"}` }, `#${inv.crl.number}`),
              h("p", null, inv.crl.fresh ? "current" : "OVERDUE: next update has passed"),
              h("p", null, `this update ${formatTime(inv.crl.thisUpdate)}`),
              h("p", null, `next update ${formatTime(inv.crl.nextUpdate)}`),
              h("p", null, `${inv.crl.entries} revoked ${inv.crl.entries === 1 ? "entry" : "entries"}`),
            ]
          : h("p", { class: "hint" }, "No CRL has been issued yet."),
      ),
      section(
        "h-ocsp",
        "OCSP",
        h("p", { class: "big u-fine" }, `${inv.ocsp.good} good`),
        h("p", null, `${inv.ocsp.revoked} revoked`),
        h(
          "p",
          null,
          inv.ocsp.lifetimeSeconds
            ? `responses valid ${inv.ocsp.lifetimeSeconds / 3600} h, signed by the SubCA key`
            : "",
        ),
      ),
    ),
    section(
      "h-timeline",
      "Expiry, soonest first",
      timeline(inv),
      h(
        "p",
        { class: "hint" },
        "Red: 7 days or less. Amber: 30 days or less. The shaded band is the next 30 days. The time axis is compressed (square root) so that the next weeks stay readable.",
      ),
    ),
    inv.revocations.length
      ? section(
          "h-revocations",
          "Revocations",
          inv.revocations.map((r) => revocationCard(app, r)),
        )
      : null,
    section(
      "h-certs",
      `Issued certificates (${inv.certificates.length})`,
      inv.source.canRevoke ? null : h("p", { class: "hint" }, `Revocation is not available: ${inv.source.why}`),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "certs" },
          h("caption", null, "Issued certificates, soonest expiry first"),
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ["Serial", "Names", "Profile", "Expires", "Left", "OCSP", ""].map((x) => h("th", { scope: "col" }, x)),
            ),
          ),
          h(
            "tbody",
            null,
            inv.certificates.map((c) => certRow(app, inv, c)),
          ),
        ),
      ),
    ),
  ].filter((x): x is HTMLElement => x !== null);
}
