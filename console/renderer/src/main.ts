// The console renderer's entry: connects to the main process (preload bridge or loopback host),
// draws the frame (header, navigation, progress, messages) and the current screen. Browser code only.
import { connect } from "./api.js";
import { App, type Screen } from "./app.js";
import { h } from "./dom.js";
import { ceremonyScreen } from "./screens/ceremony.js";
import { evidenceScreen } from "./screens/evidence.js";
import { inventoryScreen } from "./screens/inventory.js";
import { officersScreen } from "./screens/officers.js";
import { scriptsScreen } from "./screens/scripts.js";
import { busyView, flashView } from "./widgets.js";

const SCREENS: Array<{ id: Screen; label: string; title: string }> = [
  { id: "officers", label: "Officers", title: "Officers and presence" },
  { id: "scripts", label: "Scripts", title: "Reviewed ceremony scripts" },
  { id: "ceremony", label: "Ceremony", title: "Ceremony" },
  { id: "evidence", label: "Evidence", title: "Evidence bundle" },
  { id: "inventory", label: "Inventory", title: "Certificates and revocation" },
];

function screenBody(app: App): HTMLElement[] {
  switch (app.ui.screen) {
    case "officers":
      return officersScreen(app);
    case "scripts":
      return scriptsScreen(app);
    case "ceremony":
      return ceremonyScreen(app);
    case "evidence":
      return evidenceScreen(app);
    case "inventory":
      return inventoryScreen(app);
  }
}

function frame(app: App): HTMLElement {
  const st = app.ui.state;
  const c = st?.ceremony;
  const meta = SCREENS.find((x) => x.id === app.ui.screen)!;
  return h(
    "div",
    { class: "frame" },
    h("a", { class: "skip", href: "#main" }, "Skip to content"),
    h(
      "header",
      { class: "top" },
      h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }, "▲"), " Plantroot console"),
      h(
        "div",
        { class: "top-info" },
        st?.registry.name ?? "no registry yet",
        c ? ` · ceremony ${c.ceremonyId} (${c.phase})` : "",
      ),
      h("div", { class: `mode m-${app.mode}` }, app.mode === "host" ? "Loopback host — dry-run mode" : "Electron"),
    ),
    h(
      "nav",
      { class: "side", "aria-label": "Screens" },
      h(
        "ul",
        null,
        SCREENS.map((x) =>
          h(
            "li",
            null,
            h(
              "button",
              {
                id: `nav-${x.id}`,
                type: "button",
                class: `nav${x.id === app.ui.screen ? " current" : ""}`,
                "aria-current": x.id === app.ui.screen ? "page" : "false",
                onClick: () => app.go(x.id),
              },
              x.label,
              x.id === "ceremony" && c
                ? h(
                    "span",
                    { class: "nav-note" },
                    `${c.steps.filter((s) => s.status === "done").length}/${c.steps.length}`,
                  )
                : null,
            ),
          ),
        ),
      ),
    ),
    h(
      "main",
      { id: "main", tabindex: "-1" },
      h("h1", { id: "screen-title", tabindex: "-1" }, meta.title),
      busyView(app),
      flashView(app),
      app.ui.fatal
        ? h(
            "div",
            { class: "flash f-error", role: "alert" },
            h("strong", null, "The console cannot start"),
            h("span", { class: "flash-text" }, app.ui.fatal),
          )
        : null,
      st ? screenBody(app) : null,
    ),
  );
}

async function boot(): Promise<void> {
  const root = document.getElementById("root")!;
  const conn = connect();
  const app = new App(conn.api, conn.mode);
  app.onRender(() => {
    root.replaceChildren(frame(app));
  });
  if (conn.problem) {
    app.ui.fatal = conn.problem;
    app.render();
    return;
  }
  app.render();
  await app.act("Loading", () => app.refresh());
  if (!app.ui.state && !app.ui.fatal) app.ui.fatal = app.ui.flash?.text ?? "the console state could not be loaded";
  if (app.ui.state?.ceremony && app.ui.state.ceremony.phase !== "sealed") app.ui.screen = "ceremony";
  app.render();
}

void boot();
