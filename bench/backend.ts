/**
 * Benchmark backend: `hello from backend\n` for GET, echoes the byte count for POST; `/64k` answers
 * 64 KiB. Usage: npx tsx bench/backend.ts [port=18080]
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 18080);
const small = Buffer.from('hello from backend\n');
const big = Buffer.alloc(64 * 1024, 120);
const server = createServer((req, res) => {
  if (req.method === 'POST') {
    let n = 0;
    req.on('data', (d: Buffer) => {
      n += d.length;
    });
    req.on('end', () => res.end(`${n}\n`));
    return;
  }
  const body = req.url === '/64k' ? big : small;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
