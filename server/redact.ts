/** URLs fit for a status message or a log: the engine's one helper (engine/redact.ts), through engine/index. */
export { redactUrl, redactUrlsIn } from '../engine/index';
