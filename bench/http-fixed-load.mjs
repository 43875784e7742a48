// Exactly N keep-alive GETs (Host: bench.local) over C connections, one request in flight per connection:
// a fixed request count for instruction counts under callgrind (bench/README.md, "HTTP plane per request").
// Usage: node bench/http-fixed-load.mjs PORT N C
import { connect } from 'node:net';

const [port, N, C] = process.argv.slice(2).map(Number);
const req = Buffer.from('GET / HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: load\r\n\r\n');
let sent = 0,
  done = 0,
  bad = 0;
const t0 = process.hrtime.bigint();
await new Promise((resolve) => {
  for (let i = 0; i < C; i++) {
    const s = connect(port, '127.0.0.1');
    let acc = '';
    const next = () => {
      if (sent < N) {
        sent++;
        s.write(req);
      } else s.end();
    };
    s.on('connect', next);
    s.on('data', (d) => {
      acc += d.toString('latin1');
      let k;
      while ((k = acc.indexOf('hello from backend\n')) >= 0) {
        if (!acc.startsWith('HTTP/1.1 200')) bad++;
        acc = acc.slice(k + 19);
        done++;
        if (done === N) resolve();
        next();
      }
    });
    s.on('error', (e) => {
      console.error(e.message);
      bad++;
    });
  }
});
console.log(`done=${done} bad=${bad} ms=${Number(process.hrtime.bigint() - t0) / 1e6}`);
process.exit(0);
