/**
 * Colours and fonts from the VS Code theme. VS Code sets `--vscode-*` variables on <html> and a
 * `vscode-light` / `vscode-dark` / `vscode-high-contrast` class on <body>, and changes both when
 * the user switches theme, without reloading the page; canvas charts cannot use CSS variables,
 * so the palette is read again on every change.
 */

export type ThemeKind = 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';

export interface Palette {
  kind: ThemeKind;
  /** One colour per GPU / per compared run, in order. */
  series: string[];
  foreground: string;
  /** Axis lines and grid. */
  grid: string;
  background: string;
  powerLimit: string;
  total: string;
  warning: string;
  error: string;
  info: string;
  fontFamily: string;
  fontSizePx: number;
  lineWidth: number;
}

// Fallbacks are VS Code's Default Dark Modern / Light Modern values, used only outside VS Code.
const darkDefaults: Record<string, string> = {
  '--vscode-charts-blue': '#3794ff',
  '--vscode-charts-orange': '#d18616',
  '--vscode-charts-green': '#89d185',
  '--vscode-charts-purple': '#b180d7',
  '--vscode-charts-yellow': '#cca700',
  '--vscode-charts-red': '#f14c4c',
  '--vscode-terminal-ansiCyan': '#11a8cd',
  '--vscode-terminal-ansiMagenta': '#bc3fbc',
  '--vscode-terminal-ansiBrightGreen': '#23d18b',
  '--vscode-foreground': '#cccccc',
  '--vscode-charts-lines': 'rgba(204, 204, 204, 0.5)',
  '--vscode-editor-background': '#1f1f1f',
  '--vscode-editorWarning-foreground': '#cca700',
  '--vscode-editorError-foreground': '#f14c4c',
  '--vscode-editorInfo-foreground': '#3794ff',
};
const lightDefaults: Record<string, string> = {
  ...darkDefaults,
  '--vscode-charts-blue': '#1a85ff',
  '--vscode-charts-green': '#388a34',
  '--vscode-charts-purple': '#652d90',
  '--vscode-charts-yellow': '#bf8803',
  '--vscode-charts-red': '#e51400',
  '--vscode-terminal-ansiCyan': '#0598bc',
  '--vscode-terminal-ansiMagenta': '#bc05bc',
  '--vscode-terminal-ansiBrightGreen': '#14ce14',
  '--vscode-foreground': '#616161',
  '--vscode-charts-lines': 'rgba(97, 97, 97, 0.5)',
  '--vscode-editor-background': '#ffffff',
  '--vscode-editorWarning-foreground': '#bf8803',
  '--vscode-editorError-foreground': '#e51400',
  '--vscode-editorInfo-foreground': '#1a85ff',
};

export function themeKind(body: HTMLElement = document.body): ThemeKind {
  const c = body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  if (c.contains('vscode-light')) return 'light';
  return 'dark';
}

export function readPalette(body: HTMLElement = document.body): Palette {
  const kind = themeKind(body);
  const style = getComputedStyle(body);
  const defaults = kind === 'light' || kind === 'high-contrast-light' ? lightDefaults : darkDefaults;
  const v = (name: string): string => style.getPropertyValue(name).trim() || defaults[name] || '';
  const highContrast = kind === 'high-contrast' || kind === 'high-contrast-light';
  return {
    kind,
    series: [
      '--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple',
      '--vscode-charts-yellow', '--vscode-terminal-ansiCyan', '--vscode-terminal-ansiMagenta', '--vscode-terminal-ansiBrightGreen',
    ].map(v),
    foreground: v('--vscode-foreground'),
    grid: v('--vscode-charts-lines'),
    background: v('--vscode-editor-background'),
    powerLimit: v('--vscode-charts-red'),
    total: v('--vscode-foreground'),
    warning: v('--vscode-editorWarning-foreground'),
    error: v('--vscode-editorError-foreground'),
    info: v('--vscode-editorInfo-foreground'),
    fontFamily: style.getPropertyValue('--vscode-font-family').trim() || 'system-ui, sans-serif',
    fontSizePx: Number.parseFloat(style.getPropertyValue('--vscode-font-size')) || 13,
    // 1 px lines are Skia "hairlines", much cheaper to draw than 1.5 px (a 6-chart redraw went from
    // ~59 to ~34 ms in software rendering); high-contrast themes get heavier strokes (WCAG 1.4.11).
    lineWidth: highContrast ? 2 : 1,
  };
}

/** Calls `onChange` after VS Code changes the theme (body class or the variables on <html>). */
export function watchTheme(onChange: () => void): () => void {
  let pending = false;
  const observer = new MutationObserver(() => {
    if (pending) return;
    pending = true;
    // Coalesce the class change and the variable change VS Code makes back to back.
    queueMicrotask(() => {
      pending = false;
      onChange();
    });
  });
  observer.observe(document.body, { attributes: true, attributeFilter: ['class', 'style'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['class', 'style'] });
  return () => observer.disconnect();
}
