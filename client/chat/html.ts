/**
 * The chat webview's HTML: a strict Content-Security-Policy (no inline script or style except the
 * nonce'd bundle; model output is rendered as sanitised markdown and can never run script), the
 * bundled script and CSS from dist/webview/. The composer's row is two groups (context picker, buttons)
 * so that a narrow side bar wraps the buttons onto their own line instead of pushing them off screen.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

export function chatHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const nonce = randomBytes(18).toString('base64');
  const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', name));
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('chat.css')}" nonce="${nonce}">
<title>NeoX Chat</title>
</head>
<body>
<main id="log" role="log" aria-live="polite" aria-label="Conversation" tabindex="0"></main>
<form id="composer" aria-label="Ask NeoX">
  <textarea id="input" rows="3" placeholder="Ask about your code (Enter to send, Shift+Enter for a new line)" aria-label="Message"></textarea>
  <div class="row">
    <div class="context">
      <label for="attach">Context</label>
      <select id="attach" aria-label="Attach context">
        <option value="none">No context</option>
        <option value="selection">Current selection</option>
        <option value="file">Current file</option>
      </select>
    </div>
    <div class="actions">
      <button type="button" id="clear" class="secondary" title="Clear the conversation">Clear</button>
      <button type="button" id="stop" class="secondary" title="Stop generating (Escape)" disabled>Stop</button>
      <button type="submit" id="send" title="Send (Enter)">Send</button>
    </div>
  </div>
</form>
<script nonce="${nonce}" src="${asset('chat.js')}"></script>
</body>
</html>`;
}
