/**
 * node:https for the etcd gateway (etcd-gateway.ts), in a module of its own: the gateway
 * imports it only for an etcd that speaks TLS, so a plain-HTTP status read never loads node's
 * TLS. (The bundle keeps `import('node:https')` as a real dynamic import, which the code-cached
 * script keel runs in cannot do; a bundled module is loaded lazily instead.)
 */
export { request as httpsRequest } from 'node:https';
