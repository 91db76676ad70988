/**
 * "NeoX: Select model / backend": the models the server knows (ListModelsRequest) plus choices to
 * browse for a local checkpoint folder or point at a remote server, then the curated catalogue under
 * "Download from Hugging Face" (memory and fit on this machine in each row: model-row.ts), and the LoRA
 * adapters of neoxComplete.adapters, one (or none) chosen for the workspace (neoxComplete.adapter, a
 * workspace setting). Writes the settings; the server picks them up live.
 */
import * as vscode from 'vscode';
import { ListModelsRequest, type BackendKind, type HubModelListing } from '../../protocol/index';
import { settings, updateSetting, updateWorkspaceSetting } from '../config';
import type { NeoxClient } from '../neox-client';
import { adapterPickRows, hubPickAction, modelPickRow } from './model-row';

type Pick = vscode.QuickPickItem & { action: () => Promise<void> };

export async function selectModel(neox: NeoxClient): Promise<void> {
  const current = settings();
  const items: Pick[] = [];
  const hubItems: Pick[] = [];
  const adapterItems: Pick[] = [];
  let listedEmbedded = false;
  try {
    const { models, adapters } = await (await neox.ready()).sendRequest(ListModelsRequest);
    // The adapter is chosen per workspace; the list of adapters is the user's.
    for (const { adapter, ...row } of adapterPickRows(adapters ?? [])) adapterItems.push({ ...row, action: () => updateWorkspaceSetting('adapter', adapter) });
    for (const m of models) {
      if (m.hub) {
        const hub = m.hub;
        hubItems.push({ ...modelPickRow(m), action: () => pickHubModel(hub) });
        continue;
      }
      listedEmbedded ||= !!m.embedded;
      items.push({
        ...modelPickRow(m),
        action: async () => {
          await updateSetting('backend', m.backend);
          // The embedded model is modelPath '': its folder inside the extension changes with each update.
          if (m.backend === 'local') await updateSetting('modelPath', m.embedded ? '' : m.id);
          else await updateSetting('remoteModel', m.id);
        },
      });
    }
  } catch (e) {
    neox.output.warn(`listing models failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (items.length) items.push({ label: '', kind: vscode.QuickPickItemKind.Separator, action: async () => undefined });
  items.push(
    {
      label: '$(folder-opened) Local checkpoint folder…',
      description: 'local',
      detail: 'A Hugging Face GPT-NeoX folder (config.json, *.safetensors, tokenizer.json)',
      action: async () => {
        const picked = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, openLabel: 'Use this model' });
        if (!picked?.[0]) return;
        await updateSetting('backend', 'local');
        await updateSetting('modelPath', picked[0].fsPath);
      },
    },
    // The server lists the built-in model as a row of its own; this one is for when listing failed.
    ...(listedEmbedded
      ? []
      : [
          {
            label: '$(home) Built-in neox-code-23m',
            description: 'local',
            action: async () => {
              await updateSetting('backend', 'local');
              await updateSetting('modelPath', '');
            },
          },
        ]),
    ...(['openai', 'tgi'] as BackendKind[]).map<Pick>((backend) => ({
      label: `$(cloud) Remote ${backend === 'openai' ? 'OpenAI-compatible server (vLLM, neox serve)' : 'Text Generation Inference server'}…`,
      description: backend,
      action: async () => {
        const url = await vscode.window.showInputBox({
          title: 'Remote server URL',
          value: current.remoteUrl || 'http://127.0.0.1:8000',
          validateInput: (v) => (/^https?:\/\/\S+$/.test(v.trim()) ? undefined : 'An http(s):// URL'),
        });
        if (!url) return;
        const model = await vscode.window.showInputBox({ title: 'Model name on that server (empty: the server default)', value: current.remoteModel });
        if (model === undefined) return;
        await updateSetting('backend', backend);
        await updateSetting('remoteUrl', url.trim());
        await updateSetting('remoteModel', model.trim());
      },
    })),
  );
  if (adapterItems.length > 1) items.push({ label: 'LoRA adapter for this workspace (local model)', kind: vscode.QuickPickItemKind.Separator, action: async () => undefined }, ...adapterItems);
  if (hubItems.length) items.push({ label: 'Download from Hugging Face', kind: vscode.QuickPickItemKind.Separator, action: async () => undefined }, ...hubItems);
  const pick = await vscode.window.showQuickPick(items, { title: 'NeoX: Select model / backend', matchOnDescription: true });
  await pick?.action();
}

/** A catalogue model: use it when it is in the Hugging Face cache, else download it (or say how). */
async function pickHubModel(hub: HubModelListing): Promise<void> {
  const action = hubPickAction({ hub }, await vscode.commands.getCommands(true));
  if (action.kind === 'download') {
    await vscode.commands.executeCommand(action.command, action.repo);
    return;
  }
  if (action.kind === 'pull') {
    const copy = 'Copy command';
    if ((await vscode.window.showInformationMessage(action.message, copy)) === copy) await vscode.env.clipboard.writeText(action.shellCommand);
    return;
  }
  if (action.warning && (await vscode.window.showWarningMessage(action.warning, 'Use anyway')) !== 'Use anyway') return;
  await updateSetting('backend', 'local');
  if (action.quantization) {
    await updateSetting('quantization', action.quantization);
    void vscode.window.showInformationMessage(`${hub.repo}: quantization set to ${action.quantization}, the most precise that fits this machine's memory.`);
  }
  await updateSetting('modelPath', action.modelPath);
}
