import type { serviceRouteCommands as ServiceRouteCommands } from '../src/routes/index.ts';

/**
 * The route lines the Consul backend emits for S services × I instances (one
 * `urlprefix-svcN.example.com/pK` tag each), unsorted: bench/lookup.ts --catalog and
 * bench/cold-build.ts. `commands` is serviceRouteCommands of src/ or of the compiled dist/.
 */
export function catalogLines(services: number, instances: number, commands: typeof ServiceRouteCommands): string[] {
  const lines: string[] = [];
  for (let s = 0; s < services; s++) {
    for (let i = 0; i < instances; i++) {
      const out = commands({
        service: `svc${s}`,
        addr: `10.${(s >> 8) & 255}.${s & 255}.${i + 1}`,
        port: 8000 + i,
        tags: [`urlprefix-svc${s}.example.com/p${s % 7}`, 'bulk'],
        tagPrefix: 'urlprefix-',
        env: { DC: 'dc1' },
      });
      for (const l of out.lines) lines.push(l);
    }
  }
  return lines;
}
