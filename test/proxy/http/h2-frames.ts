import { connect as tlsConnect } from 'node:tls';

/**
 * Test helper: a raw HTTP/2 client over TLS that writes frames itself, so every HEADERS and
 * RST_STREAM really goes out (node:http2's client cancels a still-pending stream locally and
 * never sends it).
 */

/** One 9-byte HTTP/2 frame header + payload. */
export function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

// HPACK: :method GET (static 2), :scheme https (7), :path / (4), :authority a.test (literal, name 1).
const REQUEST_BLOCK = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, 0x06]), Buffer.from('a.test')]);
const CANCEL = Buffer.from([0, 0, 0, 8]);

/**
 * One TLS h2 connection that sends HEADERS (END_STREAM) then RST_STREAM(CANCEL) for stream after
 * stream until `end` or until the proxy closes it; answers SETTINGS, counts GOAWAY.
 */
export function rapidResetConnection(
  port: number,
  ca: string,
  end: number,
  stats: { resets: number; goaways: number; goawayCodes?: number[] },
): Promise<void> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'a.test', ALPNProtocols: ['h2'] });
    s.on('error', () => {});
    // Bounded even if the proxy stops reading (then 'drain' never comes).
    const stop = setTimeout(() => s.destroy(), Math.max(0, end - Date.now()));
    s.on('close', () => {
      clearTimeout(stop);
      resolve();
    });
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3];
        const flags = buf[4] ?? 0;
        if (type === 4 && (flags & 1) === 0) s.write(frame(4, 1, 0, Buffer.alloc(0)));
        if (type === 7) {
          stats.goaways++;
          stats.goawayCodes?.push(buf.readUInt32BE(13));
        }
        buf = buf.subarray(9 + len);
      }
    });
    s.once('secureConnect', () => {
      s.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0))]));
      let id = 1;
      const burst = () => {
        if (s.destroyed || !s.writable) return;
        if (Date.now() >= end) return void s.destroy();
        const frames: Buffer[] = [];
        for (let i = 0; i < 50; i++, id += 2) {
          frames.push(frame(1, 0x5, id, REQUEST_BLOCK), frame(3, 0, id, CANCEL));
          stats.resets++;
        }
        if (s.write(Buffer.concat(frames))) setImmediate(burst);
        else s.once('drain', burst);
      };
      burst();
    });
  });
}
