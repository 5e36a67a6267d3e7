import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { Finding, FindingSeverity, SourceRange } from '../../core/analysis/findings';
import { explainedWasteJ } from '../../core/analysis/findings';
import type { RunLabel, TextChange } from './format';
import { diagnosticMessage, evidenceLines, findingKey, hoverMarkdown, rangeAfterChange, readmeFileName, readmeFragment } from './format';

/** A run whose findings are shown; `scriptPath` groups runs of the same script. */
export interface ShownRun extends RunLabel {
  scriptPath: string;
}

interface Located {
  finding: Finding;
  run: ShownRun;
  /** For a source finding that refers to telemetry findings: their waste (see `explainedWasteJ`). */
  explainedJ?: number;
}

export const DIAGNOSTIC_SOURCE = 'Joules';

/**
 * The "joules" diagnostics of the latest run of each script, and the findings behind them.
 *
 * A run's diagnostics replace those of the previous run of the same script (its imported modules
 * included). Editing a file drops the Joules diagnostics on the lines it touches (their numbers
 * describe the text that ran; the next run brings them back) and moves the others with their
 * lines, so applying one quick fix leaves the other findings of the file in place.
 */
export class FindingsDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('joules');
  /** script path -> file uri -> diagnostics of that script's latest run. */
  private readonly byScript = new Map<string, Map<string, vscode.Diagnostic[]>>();
  /** findingKey(uri, range, code) -> the finding: diagnostics carry no data of their own. */
  private readonly findings = new Map<string, Located>();
  private readonly disposables: vscode.Disposable[] = [this.collection];

  constructor(private readonly extensionUri: vscode.Uri) {
    this.disposables.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        // Save and dirty-flag events come with no content change: those keep the diagnostics.
        if (e.contentChanges.length > 0) this.applyChanges(e.document.uri, e.contentChanges.map((c) => ({ range: fromRange(c.range), text: c.text })));
      }),
    );
  }

  /** Shows the located findings of `run`, replacing the previous run of the same script. Returns how many were shown. */
  show(run: ShownRun, findings: Finding[]): number {
    this.clearScript(run.scriptPath);
    const files = new Map<string, vscode.Diagnostic[]>();
    for (const finding of findings) {
      if (finding.file === undefined || finding.range === undefined) continue;
      const uri = fileUri(finding.file);
      const explainedJ = finding.correlatedWith?.length ? explainedWasteJ(finding, findings) : undefined;
      const diagnostic = toDiagnostic(finding, run, this.extensionUri, explainedJ);
      const key = uri.toString();
      files.set(key, [...(files.get(key) ?? []), diagnostic]);
      this.findings.set(findingKey(key, finding.range, finding.code), { finding, run, ...(explainedJ !== undefined ? { explainedJ } : {}) });
    }
    this.byScript.set(run.scriptPath, files);
    for (const key of files.keys()) this.publish(key);
    return [...files.values()].reduce((a, d) => a + d.length, 0);
  }

  /** The finding behind a Joules diagnostic (as code actions receive it: a copy, so by range and code). */
  findingFor(uri: vscode.Uri, diagnostic: vscode.Diagnostic): Finding | undefined {
    if (diagnostic.source !== DIAGNOSTIC_SOURCE) return undefined;
    const code = typeof diagnostic.code === 'object' ? diagnostic.code.value : diagnostic.code;
    if (code === undefined) return undefined;
    return this.findings.get(findingKey(uri.toString(), fromRange(diagnostic.range), String(code)))?.finding;
  }

  /** Findings whose diagnostic lies on `line` of `uri`, with their run. */
  findingsOnLine(uri: vscode.Uri, line: number): Located[] {
    const key = uri.toString();
    const out: Located[] = [];
    for (const d of this.collection.get(uri) ?? []) {
      if (d.range.start.line > line || d.range.end.line < line) continue;
      const code = typeof d.code === 'object' ? d.code.value : d.code;
      const found = this.findings.get(findingKey(key, fromRange(d.range), String(code)));
      if (found) out.push(found);
    }
    return out;
  }

  /** Hover Markdown for the findings on a line, or undefined when it has none. */
  hoverFor(uri: vscode.Uri, line: number): vscode.MarkdownString | undefined {
    const found = this.findingsOnLine(uri, line);
    if (found.length === 0) return undefined;
    const md = new vscode.MarkdownString(found.map((f) => hoverMarkdown(f.finding, f.run, docUri(this.extensionUri, f.finding.code).toString(), undefined, f.explainedJ)).join('\n\n---\n\n'));
    return md;
  }

  /**
   * An edit of a file: diagnostics on the lines it touches go, those below it move with their lines
   * (re-keyed, so code actions still find their findings).
   */
  applyChanges(uri: vscode.Uri, changes: readonly TextChange[]): void {
    const key = uri.toString();
    let changed = false;
    for (const files of this.byScript.values()) {
      const list = files.get(key);
      if (!list) continue;
      const kept: vscode.Diagnostic[] = [];
      for (const d of list) {
        const code = typeof d.code === 'object' ? d.code.value : d.code;
        const oldKey = findingKey(key, fromRange(d.range), String(code));
        const located = this.findings.get(oldKey);
        let range: SourceRange | undefined = fromRange(d.range);
        // VS Code lists the changes of one edit from the end of the document up, so each applies to the text before it.
        for (const c of changes) range = range && rangeAfterChange(range, c);
        if (range && located) {
          const moved = { ...located, finding: { ...located.finding, range } };
          this.findings.delete(oldKey);
          this.findings.set(findingKey(key, range, String(code)), moved);
          kept.push(toDiagnostic(moved.finding, moved.run, this.extensionUri, moved.explainedJ));
        } else {
          this.findings.delete(oldKey);
        }
        changed = true;
      }
      files.set(key, kept);
    }
    if (changed) this.publish(key);
  }

  /** Drops a file's Joules diagnostics. */
  forgetFile(uri: vscode.Uri): void {
    const key = uri.toString();
    let had = false;
    for (const files of this.byScript.values()) had = files.delete(key) || had;
    if (!had) return;
    for (const k of [...this.findings.keys()]) if (k.startsWith(`${key}|`)) this.findings.delete(k);
    this.collection.delete(uri);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.byScript.clear();
    this.findings.clear();
  }

  private clearScript(scriptPath: string): void {
    const files = this.byScript.get(scriptPath);
    if (!files) return;
    this.byScript.delete(scriptPath);
    for (const key of files.keys()) {
      for (const k of [...this.findings.keys()]) if (k.startsWith(`${key}|`) && this.findings.get(k)?.run.scriptPath === scriptPath) this.findings.delete(k);
      this.publish(key);
    }
  }

  /** A file shared by two scripts (a common module) shows the diagnostics of both scripts' latest runs. */
  private publish(key: string): void {
    const all = [...this.byScript.values()].flatMap((files) => files.get(key) ?? []);
    const uri = vscode.Uri.parse(key);
    if (all.length > 0) this.collection.set(uri, all);
    else this.collection.delete(uri);
  }
}

/**
 * A finding's `file`: a path for a script and its modules, or a document URI for a notebook cell
 * (`vscode-notebook-cell:…`, see src/core/notebooks/cellFindings.ts). A Windows path's drive letter
 * is not a scheme.
 */
export function fileUri(file: string): vscode.Uri {
  return /^[a-z][a-z0-9+.-]+:/i.test(file) && !/^[a-z]:[\\/]/i.test(file) ? vscode.Uri.parse(file) : vscode.Uri.file(file);
}

/** The one conversion from a located finding to a VS Code diagnostic. */
export function toDiagnostic(finding: Finding, run: ShownRun, extensionUri: vscode.Uri, explainedJ?: number): vscode.Diagnostic {
  if (finding.file === undefined || finding.range === undefined) throw new Error(`finding ${finding.code} has no source location`);
  const range = toRange(finding.range);
  const d = new vscode.Diagnostic(range, diagnosticMessage(finding, run), toSeverity(finding.severity));
  d.source = DIAGNOSTIC_SOURCE;
  d.code = { value: finding.code, target: docUri(extensionUri, finding.code) };
  const here = new vscode.Location(fileUri(finding.file), range);
  const related = [
    ...(finding.related ?? []).map((r) => new vscode.DiagnosticRelatedInformation(new vscode.Location(fileUri(r.file), toRange(r.range)), r.message)),
    // Measured spans have no place in the source: they are listed as text on the finding's own line.
    ...evidenceLines(finding, explainedJ).map((line) => new vscode.DiagnosticRelatedInformation(here, line)),
  ];
  if (related.length > 0) d.relatedInformation = related;
  return d;
}

export function toSeverity(s: FindingSeverity): vscode.DiagnosticSeverity {
  switch (s) {
    case 'warning':
      return vscode.DiagnosticSeverity.Warning;
    case 'information':
      return vscode.DiagnosticSeverity.Information;
    case 'hint':
      return vscode.DiagnosticSeverity.Hint;
  }
}

const readmeNames = new Map<string, string>();

/**
 * The README section of a code, inside the installed extension (there is no public repository to
 * link). The installed VSIX holds `readme.md`, the source folder `README.md`: the name is looked up
 * once per extension folder.
 */
export function docUri(extensionUri: vscode.Uri, code: string): vscode.Uri {
  let name = readmeNames.get(extensionUri.toString());
  if (name === undefined) {
    name = extensionUri.scheme === 'file' ? readmeFileName((n) => fs.existsSync(vscode.Uri.joinPath(extensionUri, n).fsPath)) : 'README.md';
    readmeNames.set(extensionUri.toString(), name);
  }
  return vscode.Uri.joinPath(extensionUri, name).with({ fragment: readmeFragment(code) });
}

export function toRange(r: SourceRange): vscode.Range {
  return new vscode.Range(r.startLine, r.startCharacter, r.endLine, r.endCharacter);
}

function fromRange(r: vscode.Range): SourceRange {
  return { startLine: r.start.line, startCharacter: r.start.character, endLine: r.end.line, endCharacter: r.end.character };
}
