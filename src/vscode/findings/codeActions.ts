import * as vscode from 'vscode';
import type { QuickFix } from '../../core/analysis/findings';
import type { PythonParser } from '../../core/analysis/pythonParser';
import { defaultNumWorkers, quickFixesFor } from '../../core/analysis/quickFixes';
import type { QuickFixOptions } from '../../core/analysis/quickFixes';
import type { FindingsDiagnostics } from './diagnostics';
import { DIAGNOSTIC_SOURCE, toRange } from './diagnostics';

/**
 * Quick fixes for Joules diagnostics in Python files. The edits are computed on the document's
 * current text and re-parsed by `quickFixesFor`, so a fix that would break the file is not offered.
 */
export class FindingsCodeActions implements vscode.CodeActionProvider {
  static readonly providedCodeActionKinds = [vscode.CodeActionKind.QuickFix];

  constructor(
    private readonly diagnostics: FindingsDiagnostics,
    private readonly parser: () => Promise<PythonParser>,
    private readonly options: () => QuickFixOptions = () => ({ numWorkers: defaultNumWorkers() }),
  ) {}

  async provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): Promise<vscode.CodeAction[]> {
    // Most severe first: its first fix is the preferred one (what Ctrl+. / auto-fix applies).
    const ours = context.diagnostics.filter((d) => d.source === DIAGNOSTIC_SOURCE).sort((a, b) => a.severity - b.severity);
    if (ours.length === 0) return [];
    if (context.only && !vscode.CodeActionKind.QuickFix.intersects(context.only)) return [];
    const parser = await this.parser();
    const text = document.getText();
    const options = this.options();
    // Findings on one call share fixes (the full DataLoader fix answers three of them): one action each.
    const byFix = new Map<string, { fix: QuickFix; diagnostics: vscode.Diagnostic[] }>();
    for (const diagnostic of ours) {
      const finding = this.diagnostics.findingFor(document.uri, diagnostic);
      if (!finding) continue;
      for (const fix of quickFixesFor(finding, text, parser, options)) {
        const key = JSON.stringify(fix);
        const entry = byFix.get(key);
        if (entry) entry.diagnostics.push(diagnostic);
        else byFix.set(key, { fix, diagnostics: [diagnostic] });
      }
    }
    // The preferred fix (Shift+Alt+. applies it unseen) is the first one known to be safe.
    const entries = [...byFix.values()];
    const preferred = entries.find((e) => e.fix.review === undefined);
    return entries.map((e) => toCodeAction(document.uri, e.fix, e.diagnostics, e === preferred));
  }
}

/** The one conversion from a plain-data quick fix to a VS Code code action. */
export function toCodeAction(uri: vscode.Uri, fix: QuickFix, diagnostics: vscode.Diagnostic[], preferred: boolean): vscode.CodeAction {
  // A fix held for review says why in its title: the lightbulb is the only place the user sees it.
  const action = new vscode.CodeAction(fix.review === undefined ? fix.title : `${fix.title} (check first: ${fix.review})`, vscode.CodeActionKind.QuickFix);
  const edit = new vscode.WorkspaceEdit();
  for (const e of fix.edits) edit.replace(uri, toRange(e.range), e.newText);
  action.edit = edit;
  action.diagnostics = diagnostics;
  action.isPreferred = preferred;
  return action;
}
