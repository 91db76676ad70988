// The engine error's notification: shown once per distinct error, withdrawn when the cause is gone,
// never shown again for an error the user dismissed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorNotice } from '../../client/error-notice';

function recorder() {
  const shown: { message: string; open: boolean; dismiss: () => void }[] = [];
  const notice = new ErrorNotice((message, onDismissed) => {
    const n = {
      message,
      open: true,
      dismiss: () => {
        n.open = false;
        onDismissed();
      },
    };
    shown.push(n);
    return { close: () => void (n.open = false) };
  });
  return { notice, shown, open: () => shown.filter((n) => n.open).map((n) => n.message) };
}

test('the same error reported again (status refreshes) is shown once', () => {
  const r = recorder();
  r.notice.set('model folder /x not found');
  r.notice.set('model folder /x not found');
  assert.deepEqual(r.shown.map((n) => n.message), ['model folder /x not found']);
  assert.equal(r.notice.current, 'model folder /x not found');
});

test('the notification closes itself when the cause is gone', () => {
  const r = recorder();
  r.notice.set('model folder /x not found');
  r.notice.set(undefined);
  assert.deepEqual(r.open(), []);
  assert.equal(r.notice.current, undefined);
});

test('a different error replaces the one on screen', () => {
  const r = recorder();
  r.notice.set('a');
  r.notice.set('b');
  assert.deepEqual(r.open(), ['b']);
});

test('an error the user dismissed is not shown again, even after it cleared and came back', () => {
  const r = recorder();
  r.notice.set('a');
  r.shown[0].dismiss();
  assert.equal(r.notice.current, undefined);
  r.notice.set('a');
  r.notice.set(undefined);
  r.notice.set('a');
  assert.equal(r.shown.length, 1);
  r.notice.set('b');
  assert.deepEqual(r.open(), ['b'], 'another error still shows');
});

test('an error that cleared by itself is shown again when it comes back', () => {
  const r = recorder();
  r.notice.set('a');
  r.notice.set(undefined);
  r.notice.set('a');
  assert.deepEqual(r.open(), ['a']);
  assert.equal(r.shown.length, 2);
});
