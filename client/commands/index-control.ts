/** "NeoX: Pause or resume workspace indexing": neox/indexControl, told by the status the server last sent. */
import * as vscode from 'vscode';
import { IndexControlRequest, type IndexStatus } from '../../protocol/index';
import { indexLine } from '../index-text';
import type { NeoxClient } from '../neox-client';

export async function toggleIndexing(neox: NeoxClient, current: IndexStatus | undefined): Promise<IndexStatus> {
  const client = await neox.ready();
  const after = await client.sendRequest(IndexControlRequest, { action: current?.state === 'paused' ? 'resume' : 'pause' });
  void vscode.window.setStatusBarMessage(`NeoX: ${indexLine(after) ?? 'no workspace index'}`, 3000);
  return after;
}
