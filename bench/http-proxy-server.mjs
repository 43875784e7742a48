// http-proxy with a keep-alive agent, for bench/http-proxy-compare.ts only (not part of the product).
//   node bench/http-proxy-server.mjs <listen port> <upstream url>
import http from 'node:http';
import httpProxy from 'http-proxy';

const [port, target] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ target, agent, xfwd: true });
proxy.on('error', (_err, _req, res) => {
  if (res && 'writeHead' in res && !res.headersSent) res.writeHead(502);
  res?.end();
});
http
  .createServer((req, res) => proxy.web(req, res))
  .listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
