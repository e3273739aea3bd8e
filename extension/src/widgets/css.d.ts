// CSS imports are compiled into the bundle by the build (see injectStyle.ts).
declare module "*.css";
