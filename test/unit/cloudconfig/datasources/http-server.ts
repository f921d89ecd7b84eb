// A real HTTP server on 127.0.0.1 for the HTTP datasources' tests: routes map a path to a
// body, a status, or a function deciding per request (to fail a few times, then answer).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Route = string | { status: number; body?: string } | ((hits: number) => { status: number; body?: string });

export interface TestServer {
  url: string;
  hits: Map<string, number>;
  close(): Promise<void>;
}

export async function serve(routes: Record<string, Route>): Promise<TestServer> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const count = (hits.get(path) ?? 0) + 1;
    hits.set(path, count);
    const route = routes[path];
    const answer = route === undefined ? { status: 404, body: 'not found' } : typeof route === 'string' ? { status: 200, body: route } : typeof route === 'function' ? route(count) : route;
    res.writeHead(answer.status, { 'content-type': 'text/plain' });
    res.end(answer.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A loopback URL where nothing listens: a server is opened, its port noted, and closed. */
export async function deadUrl(): Promise<string> {
  const s = await serve({});
  await s.close();
  return s.url;
}
