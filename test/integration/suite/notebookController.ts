// A notebook controller for the integration suite: runs each cell on a kernel process it starts
// (the stand-in gpu_kernel.py / cpu_kernel.py, or a real IPython kernel through
// ipykernel_bridge.py), timing the execution like any controller does (start, end). Joules only
// sees what the notebook API shows: the execution summaries and the processes on the GPUs.
import { spawn } from 'child_process';
import type { ChildProcessWithoutNullStreams } from 'child_process';
import * as readline from 'readline';
import * as vscode from 'vscode';
import { EXTENSION_ID, waitFor } from './support';

interface Reply {
  id?: number;
  ok?: boolean;
  output?: string;
  ready?: boolean;
  kernel_pid?: number | null;
}

export class TestKernel implements vscode.Disposable {
  readonly controller: vscode.NotebookController;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private nextId = 1;
  private order = 0;
  readonly ready: Promise<Reply>;

  constructor(
    readonly id: string,
    command: string,
    args: string[],
    cwd: string,
  ) {
    this.child = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const lines = readline.createInterface({ input: this.child.stdout });
    let markReady: (r: Reply) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      this.child.once('exit', (code) => reject(new Error(`kernel ${id} exited (${code}): ${stderr}`)));
    });
    lines.on('line', (line) => {
      let r: Reply;
      try {
        r = JSON.parse(line) as Reply;
      } catch {
        return;
      }
      if (r.ready) markReady(r);
      if (r.id !== undefined) this.waiting.get(r.id)?.(r);
    });
    // The stand-in kernels are ready at once; the bridge says when its kernel is.
    if (!args.some((a) => a.endsWith('ipykernel_bridge.py'))) markReady({ ready: true });
    this.controller = vscode.notebooks.createNotebookController(id, 'jupyter-notebook', `Joules test kernel (${id})`);
    this.controller.supportedLanguages = ['python'];
    this.controller.executeHandler = async (cells) => {
      for (const cell of cells) await this.execute(cell);
    };
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private async execute(cell: vscode.NotebookCell): Promise<void> {
    const exec = this.controller.createNotebookCellExecution(cell);
    exec.executionOrder = ++this.order;
    exec.start(Date.now());
    const reply = await this.send(cell.document.getText());
    // Only output there is: each output is a round trip to the renderer, which would lengthen the
    // short cells the tests time.
    if (reply.output) await exec.replaceOutput(new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.text(reply.output)]));
    exec.end(reply.ok === true, Date.now());
  }

  private send(code: string): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin.write(JSON.stringify({ id, code }) + '\n');
    });
  }

  /**
   * Makes this controller the notebook's kernel. `extension`: the extension whose host runs the
   * tests (Joules' own folder in the integration suite, the fixture extension in the VSIX smoke suite).
   */
  async select(editor: vscode.NotebookEditor, extension = EXTENSION_ID): Promise<void> {
    await vscode.commands.executeCommand('notebook.selectKernel', { notebookEditor: editor, id: this.id, extension });
  }

  dispose(): void {
    this.controller.dispose();
    this.child.stdin.end();
    this.child.kill();
  }
}

/** Writes a notebook of code cells and opens it in an editor. */
export async function openNotebook(file: string, cells: string[]): Promise<vscode.NotebookEditor> {
  const data = new vscode.NotebookData(cells.map((c) => new vscode.NotebookCellData(vscode.NotebookCellKind.Code, c, 'python')));
  const bytes = Buffer.from(
    JSON.stringify({
      cells: data.cells.map((c) => ({ cell_type: 'code', source: c.value, metadata: {}, outputs: [], execution_count: null })),
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
      nbformat: 4,
      nbformat_minor: 5,
    }),
  );
  await vscode.workspace.fs.writeFile(vscode.Uri.file(file), bytes);
  // Opened as a user opens it (not through openNotebookDocument, whose reference would keep the
  // document open after its editor is closed).
  await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(file), 'jupyter-notebook');
  return waitFor('the notebook editor', () => vscode.window.visibleNotebookEditors.find((e) => e.notebook.uri.fsPath === file));
}

/** Runs cells [start, end) and waits for their execution summaries. */
export async function runCells(editor: vscode.NotebookEditor, start: number, end: number): Promise<void> {
  await vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start, end }], document: editor.notebook.uri });
}
