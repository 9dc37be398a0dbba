// Officers: who is enrolled (token, roles), who is present, check-in with one's own token, and
// enrollment of a new participant (their approval key is made on their token in the main process).
import { ROLE_TITLES, ROLES, type Role } from "../../../common/views.js";
import type { App } from "../app.js";
import { formatTime, h, shortHex } from "../dom.js";
import { badge, button, hashBlock, section, selectField, takeTokenPin, textField, tokenPinFields } from "../widgets.js";

export function officersScreen(app: App): HTMLElement[] {
  const st = app.ui.state!;
  const reg = st.registry;
  const people = reg.participants;

  const checkIn = () => {
    const person = app.field("checkin", "person");
    const tp = takeTokenPin(app, "checkin");
    const name = people.find((p) => p.id === person)?.name ?? person;
    void app.act(
      `Checking ${name}'s token`,
      async () => {
        const r = await app.api.checkIn({ person, ...tp });
        app.ui.state = { ...app.ui.state!, registry: r };
        app.clearField("checkin", "person");
        app.clearField("checkin", "token");
      },
      { ok: () => `${name} is checked in.` },
    );
  };

  const enroll = () => {
    const roles = ROLES.filter((r) => app.field("enroll", `role-${r}`) === "1");
    const tp = takeTokenPin(app, "enroll");
    const id = app.field("enroll", "id").trim();
    const name = app.field("enroll", "name").trim();
    const registryName = app.field("enroll", "registryName").trim();
    void app.act(
      `Enrolling ${name || id}: making the approval key on token ${tp.tokenLabel}`,
      async () => {
        const r = await app.api.enrollParticipant({
          id,
          name,
          roles,
          ...tp,
          ...(reg.name === null && registryName ? { registryName } : {}),
        });
        app.ui.state = { ...app.ui.state!, registry: r };
        for (const f of ["id", "name", ...ROLES.map((x) => `role-${x}`)]) app.clearField("enroll", f);
        await app.refresh();
      },
      { ok: () => `${name} is enrolled. The registry changed: scripts must name its new hash.` },
    );
  };

  const presentTable = h(
    "table",
    { class: "people" },
    h("caption", null, `${people.length} enrolled, ${people.filter((p) => p.present).length} present`),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ["Name", "ID", "Roles", "Token", "Approval key", "Present", ""].map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    h(
      "tbody",
      null,
      people.map((p) =>
        h(
          "tr",
          null,
          h("th", { scope: "row" }, p.name),
          h("td", null, h("code", null, p.id)),
          h("td", null, p.roles.map((r) => ROLE_TITLES[r]).join(", ")),
          h("td", null, `${p.tokenLabel} (${p.tokenSerial})`),
          h("td", null, h("code", { title: p.keyId }, shortHex(p.keyId))),
          h(
            "td",
            null,
            p.present
              ? badge("done", `present since ${formatTime(p.present.since).slice(11, 16)}`)
              : badge("waiting", "not present"),
          ),
          h(
            "td",
            null,
            p.present
              ? button(
                  "Check out",
                  () => {
                    void app.act(`Checking out ${p.name}`, async () => {
                      const r = await app.api.checkOut({ person: p.id });
                      app.ui.state = { ...app.ui.state!, registry: r };
                    });
                  },
                  { id: `checkout-${p.id}`, ariaLabel: `Check out ${p.name}`, small: true },
                )
              : null,
          ),
        ),
      ),
    ),
  );

  const notPresent = people.filter((p) => !p.present);
  const chosen = people.find((p) => p.id === app.field("checkin", "person", notPresent[0]?.id ?? people[0]?.id ?? ""));
  const enrolledTokens = new Set(people.map((p) => p.tokenLabel));
  const freeTokens = st.tokens.filter((t) => !enrolledTokens.has(t.label));

  return [
    section(
      "h-present",
      "Who is here",
      people.length
        ? presentTable
        : h("p", { class: "empty" }, "Nobody is enrolled yet. Enroll the participants below."),
      reg.hash ? hashBlock("Participant registry SHA-256 (scripts pin this)", reg.hash, { id: "registry-hash" }) : null,
    ),
    people.length
      ? section(
          "h-checkin",
          "Check in",
          h("p", { class: "lead" }, "Each participant proves their presence with their own token and PIN."),
          h(
            "div",
            { class: "form-row" },
            selectField(
              app,
              "checkin",
              "person",
              "Person",
              people.map((p) => ({ value: p.id, label: `${p.name}${p.present ? " (present)" : ""}` })),
              { fallback: notPresent[0]?.id ?? people[0]?.id ?? "", clears: ["token", "pin"] },
            ),
            ...tokenPinFields(app, "checkin", st.tokens, chosen?.tokenLabel, checkIn, chosen?.id),
            h(
              "div",
              { class: "actions" },
              button("Check in with my token", checkIn, { id: "checkin-submit", kind: "primary" }),
            ),
          ),
        )
      : null,
    section(
      "h-enroll",
      "Enroll a participant",
      h(
        "p",
        { class: "lead" },
        "Enrollment makes the person's approval key (and, for officers and custodians, their share key) on their own token. The key never leaves the token.",
      ),
      h(
        "div",
        { class: "form-row" },
        reg.name === null
          ? textField(app, "enroll", "registryName", "PKI name", { placeholder: "Plant Nord PKI" })
          : null,
        textField(app, "enroll", "id", "ID", { hint: "lower-case letters, digits, '-'", placeholder: "carol" }),
        textField(app, "enroll", "name", "Full name", { placeholder: "Carol Officer" }),
      ),
      h(
        "fieldset",
        { class: "roles" },
        h("legend", null, "Roles"),
        ROLES.map((r: Role) => {
          const id = `enroll-role-${r}`;
          return h(
            "label",
            { class: "check", for: id },
            h("input", {
              id,
              type: "checkbox",
              checked: app.field("enroll", `role-${r}`) === "1",
              onChange: (e: Event) =>
                app.setField("enroll", `role-${r}`, (e.target as HTMLInputElement).checked ? "1" : ""),
            }),
            ` ${ROLE_TITLES[r]}`,
          );
        }),
      ),
      h(
        "div",
        { class: "form-row" },
        ...tokenPinFields(app, "enroll", freeTokens, undefined, enroll),
        h("div", { class: "actions" }, button("Enroll", enroll, { id: "enroll-submit", kind: "primary" })),
      ),
    ),
    reg.attendance.length
      ? section(
          "h-attendance",
          "Attendance at this console",
          h(
            "ul",
            { class: "log" },
            reg.attendance.map((a) =>
              h(
                "li",
                null,
                `${formatTime(a.time)} — ${people.find((p) => p.id === a.person)?.name ?? a.person} ${a.event === "in" ? "checked in" : "checked out"}`,
              ),
            ),
          ),
        )
      : null,
  ].filter((x): x is HTMLElement => x !== null);
}
