// The bundle's CSS (the widget packages' styles, Font Awesome with its fonts as
// data URLs, Sessions' theme) is compiled into the JavaScript by the build
// (scripts/bundle-widgets.mjs) as calls to this: the renderer is one ES module
// file, and outputs live in the webview's own document, so a <style> in its
// head styles them all.

export function injectStyle(css: string): void {
  const style = document.createElement("style");
  style.dataset.sessionsWidgets = "";
  style.textContent = css;
  document.head.appendChild(style);
}
