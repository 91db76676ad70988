/** "NeoX: Toggle completions" (the enabled setting, so it survives reloads) and "NeoX: Snooze completions". */
import * as vscode from 'vscode';
import { settings, updateSetting } from '../config';
import type { InlineCompletionTracker } from '../inline-completions';

export async function toggleCompletions(): Promise<boolean> {
  const enabled = !settings().enabled;
  await updateSetting('enabled', enabled);
  void vscode.window.setStatusBarMessage(`NeoX Complete: completions ${enabled ? 'on' : 'off'}`, 3000);
  return enabled;
}

const SNOOZE_CHOICES = [
  { label: '15 minutes', ms: 15 * 60_000 },
  { label: '1 hour', ms: 60 * 60_000 },
  { label: '4 hours', ms: 4 * 60 * 60_000 },
  { label: 'Resume now', ms: 0 },
];

/** `minutes` skips the picker (for keybindings and tests); 0 resumes. */
export async function snoozeCompletions(inline: InlineCompletionTracker, minutes?: number): Promise<void> {
  let ms = minutes !== undefined ? minutes * 60_000 : undefined;
  if (ms === undefined) {
    const pick = await vscode.window.showQuickPick(SNOOZE_CHOICES, { title: 'Snooze NeoX completions for' });
    if (!pick) return;
    ms = pick.ms;
  }
  await inline.snooze(ms);
}
