/** The settings in effect, and when the first ones arrived (requests before that wait for them). */
import { resolveSettings, type EffectiveSettings } from './settings';

export class SettingsStore {
  private value: EffectiveSettings = resolveSettings(undefined).settings;
  private applications = 0;
  private markApplied!: () => void;
  private readonly listeners: ((s: EffectiveSettings) => void)[] = [];
  /** Resolves once the first settings are applied. */
  readonly applied = new Promise<void>((r) => (this.markApplied = r));

  get current(): EffectiveSettings {
    return this.value;
  }

  /** Calls `listener` with the settings after each application (features that follow settings outside the backend). */
  onApply(listener: (s: EffectiveSettings) => void): void {
    this.listeners.push(listener);
  }

  /** Puts `next` in effect; returns how many applications there have been (SettingsAppliedParams.generation). */
  apply(next: EffectiveSettings): number {
    this.value = next;
    this.markApplied();
    for (const l of this.listeners) l(next);
    return ++this.applications;
  }
}
