import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';

/**
 * Captures the first TLS record a real Node client sends (its ClientHello) by letting tls.connect
 * talk to a plain TCP server that never answers.
 */
export async function captureHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const got = new Promise<Buffer>((resolve, reject) => {
      server.on('connection', (s) => {
        // only our own client's connection (another test file may dial a port it believes dead)
        if (s.remotePort !== c.localPort) return void s.destroy();
        let buf = Buffer.alloc(0);
        s.on('error', () => {});
        s.on('data', (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
            resolve(buf.subarray(0, 5 + buf.readUInt16BE(3)));
            s.destroy();
          }
        });
        s.on('close', () => reject(new Error('closed before a whole record')));
      });
    });
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
    c.on('error', () => {});
    const hello = await got;
    c.destroy();
    return hello;
  } finally {
    server.close();
  }
}

/** Re-frames a single-record hello into records of the given fragment sizes (last takes the rest). */
export function reframe(hello: Buffer, sizes: number[]): Buffer {
  const body = hello.subarray(5);
  const parts: Buffer[] = [];
  let off = 0;
  for (let i = 0; off < body.length; i++) {
    const n = i < sizes.length ? Math.min(sizes[i]!, body.length - off) : body.length - off;
    const h = Buffer.from([0x16, hello[1]!, hello[2]!, n >> 8, n & 0xff]);
    parts.push(h, body.subarray(off, off + n));
    off += n;
  }
  return Buffer.concat(parts);
}

/** ALPN names that push the hello past the given size. */
export function bigAlpn(minBytes: number): string[] {
  const names: string[] = [];
  for (let i = 0; names.length * 60 < minBytes; i++) names.push(`proto-${i}-${'x'.repeat(50)}`);
  return names;
}

/**
 * A TLS connection whose first flight (the ClientHello record) is mangled on the wire: sent one
 * byte per write, or re-framed into several records. Everything after it passes unchanged.
 */
export function mangledTlsConnect(
  port: number,
  servername: string,
  ca: string,
  mode: 'bytewise' | { reframe: number[] },
  extra: tls.ConnectionOptions = {},
): tls.TLSSocket {
  const raw = net.connect({ port, host: '127.0.0.1', noDelay: true });
  raw.on('error', () => {});
  let first = true;
  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      if (!first) return void raw.write(chunk, cb);
      first = false;
      if (mode === 'bytewise') {
        let i = 0;
        const next = () => {
          if (i >= chunk.length) return cb();
          raw.write(chunk.subarray(i, ++i), () => setImmediate(next));
        };
        next();
      } else {
        raw.write(mode.reframe.length === 0 ? chunk : reframe(chunk, mode.reframe), cb);
      }
    },
    final(cb) {
      raw.end(cb);
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  raw.on('data', (c) => wire.push(c));
  raw.on('end', () => wire.push(null));
  raw.on('close', () => wire.destroy());
  return tls.connect({ socket: wire, servername, ca, ...extra });
}

/** A minimal TLS 1.3-style ClientHello carrying `name` as its server_name (one record, re-framed by the caller). */
export function helloWithSni(name: string): Buffer {
  const host = Buffer.from(name, 'latin1');
  const sniList = Buffer.concat([Buffer.from([0]), u16(host.length), host]);
  const ext = Buffer.concat([u16(0), u16(sniList.length + 2), u16(sniList.length), sniList]);
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 1), // random
    Buffer.from([0]), // session id
    u16(2),
    Buffer.from([0x13, 0x01]), // TLS_AES_128_GCM_SHA256
    Buffer.from([1, 0]), // compression: null
    u16(ext.length),
    ext,
  ]);
  const hs = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 3, 1]), u16(hs.length), hs]);
}

function u16(n: number): Buffer {
  return Buffer.from([n >> 8, n & 0xff]);
}
