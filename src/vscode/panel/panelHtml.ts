/**
 * The energy panel's HTML shell. Pure (no `vscode` import) so tests serve the very same page.
 * Everything is bundled and loaded from the extension (`cspSource`); the only script and style
 * that may run are the ones carrying this load's nonce.
 */
export interface PanelHtmlOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  /** Fresh per load, at least 128 random bits, base64 or hex. */
  nonce: string;
  /** `webview.asWebviewUri(dist/webview/panel.js)`, as a string. */
  scriptUri: string;
  /** `webview.asWebviewUri(dist/webview/panel.css)`, as a string. */
  styleUri: string;
}

const nonceShape = /^[A-Za-z0-9+/=_-]{16,128}$/;

function attr(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The Content-Security-Policy the panel runs under. */
export function panelCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
  ].join('; ');
}

export function panelHtml(o: PanelHtmlOptions): string {
  // A nonce or source that could close the attribute would defeat the policy; refuse it.
  if (!nonceShape.test(o.nonce)) throw new Error('panelHtml: nonce must be 16-128 base64/hex characters');
  // VS Code 1.139's webview.cspSource is `'self' https://*.vscode-cdn.net`: accept source tokens
  // (the 'self' keyword, schemes, hosts with wildcards), nothing that could end the directive.
  if (!o.cspSource.split(' ').filter(Boolean).every((t) => t === "'self'" || /^[A-Za-z0-9+.*:/_-]+$/.test(t))) {
    throw new Error('panelHtml: unexpected characters in cspSource');
  }
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(panelCsp(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(o.styleUri)}" nonce="${attr(o.nonce)}">
<title>Joules: Energy</title>
</head>
<body>
<main id="app" aria-busy="true"><p class="placeholder">Loading the energy panel…</p></main>
<script nonce="${attr(o.nonce)}" src="${attr(o.scriptUri)}"></script>
</body>
</html>
`;
}
