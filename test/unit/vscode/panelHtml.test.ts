import * as assert from 'node:assert/strict';
import { panelHtml } from '../../../src/vscode/panel/panelHtml';

const base = { nonce: 'abcdefghijklmnop1234', scriptUri: 'https://x/panel.js', styleUri: 'https://x/panel.css' };

describe('panel HTML', () => {
  it('accepts the cspSource VS Code 1.139 gives webviews', () => {
    const html = panelHtml({ ...base, cspSource: "'self' https://*.vscode-cdn.net" });
    assert.match(html, /style-src 'self' https:\/\/\*\.vscode-cdn\.net 'nonce-abcdefghijklmnop1234'/);
    assert.match(html, /default-src 'none'/);
  });

  it('refuses a cspSource that would add its own directives', () => {
    assert.throws(() => panelHtml({ ...base, cspSource: "https://x; script-src 'unsafe-inline'" }), /unexpected characters/);
    assert.throws(() => panelHtml({ ...base, cspSource: 'https://x" onload="alert(1)' }), /unexpected characters/);
  });
});
