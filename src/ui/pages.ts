import type { Config } from '../config/types.ts';

/**
 * Server-rendered HTML shells. They hold no data: every Consul-derived string is fetched by the
 * page's script and placed with textContent. The few configured values that do appear (title,
 * base path, link settings) are escaped, because config can come from Consul KV too.
 */

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PageOptions {
  readonly base: string;
  readonly access: 'ro' | 'rw';
  readonly version: string;
}

function shell(cfg: Config, o: PageOptions, page: string, main: string, extra: Record<string, string> = {}): string {
  const title = cfg.str('ui.title');
  const e = escapeHtml;
  const data: Record<string, string> = {
    base: o.base,
    page,
    access: o.access,
    color: cfg.str('ui.color'),
    version: o.version,
    srcLink: String(cfg.bool('ui.routingtable.source.linkenabled')),
    srcNewtab: String(cfg.bool('ui.routingtable.source.newtab')),
    srcScheme: cfg.str('ui.routingtable.source.scheme'),
    srcHost: cfg.str('ui.routingtable.source.host'),
    srcPort: cfg.str('ui.routingtable.source.port'),
    ...extra,
  };
  const attrs = Object.entries(data)
    .map(([k, v]) => ` data-${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}="${e(v)}"`)
    .join('');
  const b = e(o.base);
  const manualLink = o.access === 'rw' ? `<a href="${b}/manual" id="nav-manual">Overrides</a>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fabio-ts${title ? ` - ${e(title)}` : ''}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${b}/assets/uplot.css">
<link rel="stylesheet" href="${b}/assets/app.css">
</head>
<body${attrs}>
<nav id="nav">
<a class="brand" href="${b}/routes"><img src="${b}/assets/logo.svg" alt="" width="24" height="24">fabio-ts</a>
<span class="nav-title">${e(title)}</span>
<span class="nav-links">
<a href="${b}/routes#routes">Routes</a>
<a href="${b}/routes#explain">Explain</a>
<a href="${b}/routes#history">History</a>
<a href="${b}/routes#warnings">Warnings <span id="warn-count" class="badge"></span></a>
<a href="${b}/routes#traffic">Traffic</a>
<a href="${b}/routes#map">Map</a>
${manualLink}
</span>
<span class="nav-version">${e(o.version)}</span>
</nav>
<main>
${main}
</main>
<script src="${b}/assets/uplot.js"></script>
<script type="module" src="${b}/assets/app.js"></script>
</body>
</html>
`;
}

export function routesPage(cfg: Config, o: PageOptions): string {
  const overrides =
    o.access === 'rw'
      ? '<select id="overrides" aria-label="Overrides"><option value="">Overrides…</option></select>'
      : '';
  return shell(
    cfg,
    o,
    'routes',
    `<section id="view-routes" class="view">
<div class="toolbar"><input id="filter" type="search" placeholder="Filter routes (space-separated words)" autocomplete="off">
<span id="live" class="live" title="live updates">●</span><span id="route-count"></span>${overrides}</div>
<div class="scroll"><table id="routes" class="grid"><thead><tr><th>#</th><th>Service</th><th>Source</th><th>Dest</th><th>Options</th><th>Weight</th></tr></thead><tbody></tbody></table></div>
<p id="routes-empty" class="empty" hidden>No routes.</p>
</section>
<section id="view-explain" class="view" hidden>
<h2>Explain a request</h2>
<form id="explain-form" class="explain-form">
<label>URL <input id="explain-url" type="text" value="http://example.com/" spellcheck="false"></label>
<label>Headers (one <code>Name: value</code> per line) <textarea id="explain-headers" rows="3" spellcheck="false"></textarea></label>
<button type="submit">Explain</button>
</form>
<p id="explain-against" class="hint">Against the live table. <button id="explain-live" type="button" class="link" hidden>use the live table</button></p>
<p id="explain-result" class="result"></p>
<div id="explain-decision" hidden>
<h3>Targets of the chosen route</h3>
<div class="scroll"><table id="explain-targets" class="grid"><thead><tr><th>Service</th><th>Target</th><th>Weight</th><th>Share</th><th class="share-cell"></th><th></th></tr></thead><tbody></tbody></table></div>
<h3>Candidate routes in matching order</h3>
<div class="scroll"><table id="explain-candidates" class="grid"><thead><tr><th>#</th><th>Route</th><th>Outcome</th><th>Why</th></tr></thead><tbody></tbody></table></div>
</div>
<h3>Steps</h3>
<ol id="explain-steps" class="steps"></ol>
</section>
<section id="view-history" class="view" hidden>
<h2>Table changes</h2>
<div class="scroll"><table id="history" class="grid"><thead><tr><th>Time</th><th>Cause</th><th>Index</th><th>Table</th><th>Change</th></tr></thead><tbody></tbody></table></div>
</section>
<section id="view-warnings" class="view" hidden>
<h2>Warnings</h2>
<div class="scroll"><table id="warnings" class="grid"><thead><tr><th>Kind</th><th>Service</th><th>Line</th><th>Message</th></tr></thead><tbody></tbody></table></div>
</section>
<section id="view-map" class="view" hidden>
<h2>Route map</h2>
<div class="toolbar"><input id="map-filter" type="search" placeholder="Search hosts, paths, services, targets" autocomplete="off"><label class="hint">Zoom <input id="map-zoom" type="range" min="50" max="200" step="10" value="100"></label><span id="map-count" class="hint"></span></div>
<p class="hint">Host → path → targets. Bar widths are the targets' weights; colour is their request or connection rate over the last 5 minutes (grey: none); ⊘ striped: ejected by outlier detection.</p>
<div id="map"></div>
</section>
<section id="view-traffic" class="view" hidden>
<h2>Traffic</h2>
<div class="toolbar"><span class="seg" id="traffic-window" role="group" aria-label="Window"><button type="button" data-w="5m">5 min</button><button type="button" data-w="1h">1 hour</button><button type="button" data-w="24h">24 hours</button></span>
<input id="traffic-filter" type="search" placeholder="Filter (service, host, path)" autocomplete="off"></div>
<p class="hint" id="traffic-hint"></p>
<div class="scroll"><table id="traffic" class="grid"><thead><tr><th>Service</th><th>Route / target</th><th>Proto</th><th title="requests or connections per second">rate/s</th><th title="HTTP 5xx and failed requests; TCP dial failures">errors</th><th>p50</th><th>p99</th><th title="open TCP connections">active</th><th title="TCP bytes client→upstream / upstream→client">in / out</th></tr></thead><tbody></tbody></table></div>
<div id="traffic-charts" class="charts"></div>
</section>`,
  );
}

export function manualPage(cfg: Config, o: PageOptions, sub: string): string {
  return shell(
    cfg,
    o,
    'manual',
    `<section id="view-manual" class="view">
<h2>Manual overrides <code id="manual-key"></code></h2>
<div class="toolbar"><select id="overrides" aria-label="Overrides"></select></div>
<textarea id="manual-value" rows="20" spellcheck="false"></textarea>
<input id="manual-version" type="hidden" value="">
<div class="buttons"><button id="manual-save" type="button">Save</button> <button id="manual-help" type="button">Help</button>
<span id="manual-status" role="status"></span></div>
<pre id="manual-helptext" class="help" hidden></pre>
<section id="manual-preview" class="preview" aria-live="polite">
<h3>What this change does <span id="preview-summary" class="hint"></span></h3>
<ul id="preview-errors" class="preview-errors"></ul>
<div class="scroll"><table id="preview-diff" class="grid"><thead><tr><th></th><th>Service</th><th>Source</th><th>Dest</th><th>Weight</th></tr></thead><tbody></tbody></table></div>
</section>
</section>`,
    { sub },
  );
}
