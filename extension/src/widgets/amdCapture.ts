// anywidget's npm build is an AMD module (its last statement is
// `define(["@jupyter-widgets/base"], factory)`), not one that exports the
// factory. Importing this module first installs a global `define` that only
// keeps the factory; `takeAmdFactory` restores what was there before. The
// function has no `amd` property, so UMD wrappers of other modules keep
// ignoring it.

type Factory = (...dependencies: unknown[]) => unknown;

const scope = globalThis as { define?: unknown };
const previous = scope.define;
let captured: Factory | undefined;

scope.define = (...args: unknown[]): void => {
  const factory = args[args.length - 1];
  if (typeof factory === "function") captured = factory as Factory;
};

export function takeAmdFactory(): Factory | undefined {
  if (previous === undefined) delete scope.define;
  else scope.define = previous;
  return captured;
}
