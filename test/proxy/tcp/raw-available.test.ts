import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawTcp } from '../../../src/proxy/tcp/raw-handle.ts';
import { rawTcpExemption, rawTcpSkip, tcpModes } from '../../helpers/support.ts';

// The relay and tcp-dynamic tests run their cases on bare handles only when the feature detection
// finds them. Without this test a Node whose process.binding changed would drop those cases silently.
test('bare-handle TCP path is available on a supported Node (Linux, Node 20/22)', {
  skip: rawTcpExemption ?? false,
}, () => {
  assert.notEqual(rawTcp, undefined, `raw-handle.ts feature detection found nothing on Node ${process.version}`);
  assert.deepEqual(tcpModes(), ['raw', 'net']);
  assert.equal(rawTcpSkip(), undefined);
});
