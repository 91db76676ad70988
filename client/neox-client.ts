/**
 * The extension's one connection to the language server: starts it, wires the server -> client
 * notifications (stream deltas, status) and client -> server secrets, and gives commands a
 * `ready()` client. Restarting after a crash is in server-connection.ts.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { GetStatusRequest, SetSecretsNotification, StatusNotification, StreamNotification } from '../protocol/index';
import { API_KEY_SECRET, HF_TOKEN_SECRET, openSettings } from './config';
import type { InlineCompletionTracker } from './inline-completions';
import { createLanguageClient } from './server-connection';
import type { StatusBar } from './status-bar';
import { StreamRouter } from './streams';

export class NeoxClient implements vscode.Disposable {
  readonly streams = new StreamRouter();
  readonly client: LanguageClient;
  private starting?: Promise<void>;

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly output: vscode.LogOutputChannel,
    readonly statusBar: StatusBar,
    inline: InlineCompletionTracker,
  ) {
    this.client = createLanguageClient({
      context,
      output,
      middleware: inline.middleware,
      onReady: (c) => void this.onServerReady(c),
    });
    inline.attach(this.client);
    this.client.onNotification(StreamNotification, (p) => this.streams.dispatch(p));
    this.client.onNotification(StatusNotification, (p) => statusBar.update(p));
  }

  start(): Promise<void> {
    this.starting ??= this.client.start().catch((e: unknown) => {
      this.starting = undefined;
      // A state, not an event: shown as the engine's error, withdrawn when a restart brings the server's status.
      this.statusBar.update({ ...this.statusBar.current, state: 'error', message: `the language server did not start: ${e instanceof Error ? e.message : String(e)}` });
      throw e;
    });
    return this.starting;
  }

  async ready(): Promise<LanguageClient> {
    await this.start();
    return this.client;
  }

  async restart(): Promise<void> {
    if (this.client.isRunning()) await this.client.restart();
    else {
      this.starting = undefined;
      await this.start();
    }
  }

  /** Sends the API key and the Hugging Face token (from SecretStorage, never settings) to the server. */
  async sendSecrets(): Promise<void> {
    if (!this.client.isRunning()) return;
    const apiKey = await this.context.secrets.get(API_KEY_SECRET);
    const hfToken = await this.context.secrets.get(HF_TOKEN_SECRET);
    await this.client.sendNotification(SetSecretsNotification, { apiKey: apiKey || undefined, hfToken: hfToken || undefined });
  }

  showError(message: string): void {
    this.output.error(message);
    void vscode.window.showErrorMessage(`NeoX Complete: ${message}`, 'Open Settings', 'Show Logs').then((a) => {
      if (a === 'Open Settings') void openSettings();
      if (a === 'Show Logs') this.output.show();
    });
  }

  private async onServerReady(c: LanguageClient): Promise<void> {
    try {
      await this.sendSecrets();
      this.statusBar.update(await c.sendRequest(GetStatusRequest));
    } catch (e) {
      this.output.warn(`status after start: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  dispose(): void {
    void this.client.stop().catch(() => undefined);
  }
}
