// The temporary workspaces of the end-to-end test and VS Code's user settings:
// a trusted folder with examples/tour.py (outputs cached by `sessions run`),
// where small notebooks come later (rich outputs, a slow cell to interrupt,
// widgets), and an untrusted folder with its own copy of the tour and cache.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

import { PYTHON, ROOT, VENV_BIN, check } from "./harness";

/** Rich outputs, each rendered by one of VS Code's built-in renderers. */
export const RICH_NOTEBOOK = `# %% Table
class Stations:
    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{n}</td><td>{km}</td></tr>" for n, km in [("Harbour", 3.1), ("Lakeside", 14.2)])
        return f"<table><tr><th>station</th><th>km</th></tr>{rows}</table>"


Stations()

# %% Plot
import matplotlib.pyplot as plt

plt.figure(figsize=(3.2, 1.5))
plt.plot([1, 2, 3, 4], [3.1, 7.4, 2.2, 14.2], marker="o")
plt.title("km per trip")
plt.show()

# %% JSON
from IPython.display import JSON

JSON({"station": "Harbour", "total_km": round(3.1 + 14.2, 1)})

# %% Error
def check_speed(kmh: float) -> None:
    if kmh > 40:
        raise ValueError(f"implausible speed: {kmh} km/h")


check_speed(99.5)
`;

/** Texts the rich cells render (the test looks for them inside outputs only; 17.3 is computed). */
export const RICH_EXPECTED = { tableCell: "Lakeside", json: "17.3", errorName: "ValueError", frame: "check_speed" };

/** Its last line prints "woke up", a text the KeyboardInterrupt traceback (which quotes the source) does not hold. */
export const SLOW_NOTEBOOK = `# %% Slow
import time

print("sleeping for a minute", flush=True)
time.sleep(60)
print("woke", "up")
`;

/**
 * Widgets (the widgets scenario): ipywidgets controls (one slider shown by two
 * outputs), a bound slider and its reader, interact (an Output widget), a
 * tqdm.auto bar, an anywidget counter, and a widget-state output (what an
 * embedding tool writes) that a widget view no kernel knows is shown from.
 * Each cell's first line is distinct, so the test can find the cell.
 */
export const WIDGETS_NOTEBOOK = `# %% Slider
import ipywidgets as widgets

slider = widgets.IntSlider(value=3, min=0, max=10, description="plain")
slider

# %% Value
print("value", slider.value)

# %% Bound
import sessions

b = sessions.bind(widgets.IntSlider(value=1, max=10, description="bound"))
b

# %% Bound reader
print("bound", b.value * 10)

# %% Interact
from ipywidgets import interact


@interact(n=(0, 10))
def square(n=4):
    print("square", n * n)

# %% Progress
import time

from tqdm.auto import tqdm

for i in tqdm(range(50)):
    time.sleep(0.02)

# %% Counter
import anywidget
import traitlets


class Counter(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const button = document.createElement("button");
      button.className = "e2e-counter";
      const show = () => { button.textContent = "count is " + model.get("count"); };
      button.addEventListener("click", () => {
        model.set("count", model.get("count") + 1);
        model.save_changes();
      });
      model.on("change:count", show);
      show();
      el.appendChild(button);
    }
    export default { render };
    """
    count = traitlets.Int(0).tag(sync=True)


counter = Counter()
counter

# %% Count
print("kernel count", counter.count)

# %% Same slider again
slider

# %% Embedded state
from IPython.display import display

slider_model = {"value": 7, "max": 10, "description": "embedded"}
model = {"model_name": "IntSliderModel", "model_module": "@jupyter-widgets/controls",
         "model_module_version": "2.0.0", "state": slider_model}
embedded = {"version_major": 2, "version_minor": 0, "state": {"e2e-embedded": model}}
view = {"version_major": 2, "version_minor": 0, "model_id": "e2e-embedded"}
display({"application/vnd.jupyter.widget-view+json": view, "text/plain": "embedded slider"}, raw=True)
display({"application/vnd.jupyter.widget-state+json": embedded, "text/plain": "widget state"}, raw=True)
`;

/**
 * Checkpoints (the checkpoints scenario): a cell whose values are saved
 * (`checkpoint=true`: it is quick, so the 2 s default would skip it) and a
 * reader, run first in a terminal.
 */
export const CHECKPOINT_NOTEBOOK = `# %% Load checkpoint=true
table = {i: i * 2 for i in range(100)}

# %% Report
print("checkpointed total", sum(table.values()))
`;

export interface Workspace {
  folder: string;
  /** tour.py in the folder, and its text before the test touched it. */
  notebook: string;
  original: string;
}

/** A folder with examples/tour.py whose outputs `sessions run` cached, as a user would have. */
function tourFolder(folder: string): Workspace {
  fs.mkdirSync(folder, { recursive: true });
  const notebook = path.join(folder, "tour.py");
  fs.copyFileSync(path.join(ROOT, "examples", "tour.py"), notebook);
  execFileSync(path.join(VENV_BIN, "sessions"), ["run", notebook], { cwd: folder, stdio: "pipe" });
  return { folder, notebook, original: fs.readFileSync(notebook, "utf8") };
}

export function trustedWorkspace(tmp: string): Workspace {
  const workspace = tourFolder(path.join(tmp, "workspace"));
  check(
    fs.existsSync(path.join(workspace.folder, "tour.sessions.toml")),
    "sessions run cached the outputs in the sidecar",
  );
  return workspace;
}

/** Adds a notebook to the workspace when its scenario starts (so earlier screenshots do not show it). */
export function addNotebook({ folder }: Workspace, name: string, text: string): void {
  fs.writeFileSync(path.join(folder, name), text);
}

export function untrustedWorkspace(tmp: string): Workspace {
  return tourFolder(path.join(tmp, "untrusted"));
}

/**
 * VS Code user settings; `trust` turns workspace trust on (off: every folder
 * is trusted); `serverPython` runs the language server elsewhere than .venv.
 */
export function writeSettings(
  userDataDir: string,
  {
    trust,
    serverPython = PYTHON,
    extra = {},
  }: { trust: boolean; serverPython?: string; extra?: Record<string, unknown> },
): void {
  const settings = {
    ...extra,
    "security.workspace.trust.enabled": trust,
    "security.workspace.trust.startupPrompt": "always",
    "sessions.server.python": serverPython,
    "sessions.python": PYTHON,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.welcomePage.walkthroughs.openOnInstall": false,
    "extensions.ignoreRecommendations": true,
    "telemetry.telemetryLevel": "off",
    "chat.disableAIFeatures": true,
    "editor.codeLens": true,
    "notebook.output.textLineLimit": 60,
    "window.zoomLevel": -1,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    // The DOM renderer keeps the terminal's text in the page, where the test reads it.
    "terminal.integrated.gpuAcceleration": "off",
    "terminal.integrated.enablePersistentSessions": false,
  };
  fs.mkdirSync(path.join(userDataDir, "User"), { recursive: true });
  fs.writeFileSync(path.join(userDataDir, "User", "settings.json"), JSON.stringify(settings, null, 2));
}

/** `len(trips)` after running the tour as a plain script: the value the kernel console must show. */
export function tripsAfterTour(notebook: string): number {
  const script = [
    "import contextlib, io, sys",
    "namespace = {}",
    "with contextlib.redirect_stdout(io.StringIO()):",
    "    exec(compile(open(sys.argv[1]).read(), sys.argv[1], 'exec'), namespace)",
    "print(len(namespace['trips']))",
  ].join("\n");
  return Number(execFileSync(PYTHON, ["-c", script, notebook], { encoding: "utf8" }).trim());
}
