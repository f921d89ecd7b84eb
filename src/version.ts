/** keel's version: injected by the bundler from KEEL_VERSION or package.json at build time. */
declare const __KEEL_VERSION__: string | undefined;
export const version: string = typeof __KEEL_VERSION__ === 'string' ? __KEEL_VERSION__ : '0.0.0-dev';
