/**
 * "NeoX: Download model": a GPT-NeoX-family checkpoint from the Hugging Face Hub into the Hugging Face
 * cache, through the server (neox/downloadModel), with a cancellable progress notification fed by
 * neox/downloadProgress; cancelling sends $/cancelRequest, which stops the transfer (partial files are
 * kept and resumed next time). Then "Use this model" sets neoxComplete.modelPath to the Hub id.
 *
 * When the settings select a Hub id that is not downloaded, the server says so (neox/modelNotDownloaded)
 * and the user is asked first: nothing is downloaded without their agreement.
 */
import * as vscode from 'vscode';
import {
  DownloadModelRequest,
  DownloadProgressNotification,
  ModelNotDownloadedNotification,
  type DownloadModelResult,
  type DownloadProgressParams,
} from '../../protocol/index';
import { settings, updateSetting } from '../config';
import type { NeoxClient } from '../neox-client';
import { downloadDoneMessage, downloadFraction, downloadProgressMessage, progressIncrement, validateHubId } from './download-text';

export const DOWNLOAD_MODEL_COMMAND = 'neoxComplete.downloadModel';

/** Progress listeners by downloadId (one notification handler for all the downloads running). */
const listeners = new Map<string, (p: DownloadProgressParams) => void>();
/** Hub ids the user was asked about in this session (asked once; the command is always there). */
const offered = new Set<string>();
let nextId = 0;

/** Routes neox/downloadProgress and answers neox/modelNotDownloaded; call once, before the client starts. */
export function registerDownloads(neox: NeoxClient): vscode.Disposable {
  const progress = neox.client.onNotification(DownloadProgressNotification, (p) => {
    if (p.downloadId) listeners.get(p.downloadId)?.(p);
  });
  const missing = neox.client.onNotification(ModelNotDownloadedNotification, (p) => void offerDownload(p.ref, p.message));
  return vscode.Disposable.from(progress, missing);
}

async function offerDownload(ref: string, message: string): Promise<void> {
  if (offered.has(ref)) return;
  offered.add(ref);
  const download = 'Download';
  const pick = await vscode.window.showWarningMessage(`NeoX Complete: ${message}. Download ${ref} from Hugging Face now?`, download, 'Not now');
  if (pick === download) await vscode.commands.executeCommand(DOWNLOAD_MODEL_COMMAND, ref);
}

export async function downloadModel(neox: NeoxClient, repoArg?: string): Promise<DownloadModelResult | undefined> {
  const repo =
    typeof repoArg === 'string' && repoArg.trim()
      ? repoArg.trim()
      : await vscode.window.showInputBox({
          title: 'NeoX: Download model from Hugging Face',
          prompt: 'A GPT-NeoX-family model on the Hugging Face Hub (neoxComplete.hubUrl, else HF_ENDPOINT, else huggingface.co): ORG/NAME or ORG/NAME@REVISION',
          placeHolder: 'EleutherAI/pythia-1.4b',
          ignoreFocusOut: true,
          validateInput: validateHubId,
        });
  if (!repo) return undefined;
  const problem = validateHubId(repo);
  if (problem) {
    void vscode.window.showErrorMessage(`NeoX Complete: "${repo}": ${problem}`);
    return undefined;
  }
  const client = await neox.ready();
  const downloadId = `download-${Date.now()}-${++nextId}`;
  let cancelled = false;
  let result: DownloadModelResult | undefined;
  try {
    result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Downloading ${repo}`, cancellable: true },
      async (progress, token) => {
        let reported = 0;
        let file: string | undefined;
        listeners.set(downloadId, (p) => {
          if (p.file && (p.event === 'start' || p.event === 'resume')) file = p.file;
          const step = progressIncrement(reported, downloadFraction(p));
          reported = step.reported;
          progress.report({ message: downloadProgressMessage(p, file), ...(step.increment ? { increment: step.increment } : {}) });
        });
        token.onCancellationRequested(() => (cancelled = true));
        try {
          return await client.sendRequest(DownloadModelRequest, { repo, downloadId }, token);
        } finally {
          listeners.delete(downloadId);
        }
      },
    );
  } catch (e) {
    if (cancelled) {
      void vscode.window.showInformationMessage(`NeoX Complete: download of ${repo} cancelled. What was downloaded is kept; run the command again to resume.`);
      return undefined;
    }
    const message = e instanceof Error ? e.message : String(e);
    neox.output.error(`download ${repo}: ${message}`);
    void vscode.window.showErrorMessage(`NeoX Complete: ${message}`, 'Show Logs').then((a) => a && neox.output.show());
    return undefined;
  }
  if (!result || cancelled) {
    if (cancelled) void vscode.window.showInformationMessage(`NeoX Complete: download of ${repo} cancelled. What was downloaded is kept; run the command again to resume.`);
    return undefined;
  }
  neox.output.info(`downloaded ${repo} to ${result.snapshotDir}`);
  const current = settings();
  if (current.backend === 'local' && current.modelPath === repo) {
    // The settings already select it: the server loads it now.
    void vscode.window.showInformationMessage(`NeoX Complete: ${downloadDoneMessage(result)} Loading it now.`);
    return result;
  }
  const use = 'Use this model';
  if ((await vscode.window.showInformationMessage(`NeoX Complete: ${downloadDoneMessage(result)}`, use)) === use) {
    await updateSetting('backend', 'local');
    await updateSetting('modelPath', repo);
  }
  return result;
}
